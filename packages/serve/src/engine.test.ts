// The batch engine's invariant: splitting a batch across adapters (BatchSplit) or running one input through several
// (Parallel) gives each text the prediction it gets alone with its adapter, for any grouping.
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { adapter, AdapterModel, addHead, applyPlacements, disposeBatch, Executor, makeBatch } from '@adapters/core-graph';
import { BatchEngine } from './engine';
import { AdapterPool } from './pool';
import type { Fixture } from './__tests__/fixture';
import { PLUGINS, texts, writeFixture } from './__tests__/fixture';

// Other batch compositions pad to other lengths and change float32 summation order: ~1e-6 seen, 1e-5 allowed.
const TOL = 1e-5;

describe('BatchEngine', () => {
  let fx: Fixture;
  let model: AdapterModel;
  let engine: BatchEngine;
  let pool: AdapterPool;

  beforeAll(async () => {
    fx = await writeFixture(4, { layers: 3 });
    model = await AdapterModel.fromPretrained(fx.modelDir, { plugins: PLUGINS });
    const base = { baseGraph: model.graph, store: model.store, registry: model.registry };
    engine = new BatchEngine({ ...base, tokenizer: model.tokenizer, maxLength: 32, graphCacheSize: 4 });
    pool = new AdapterPool({ ...base, dir: fx.adaptersDir, memoryBudgetBytes: 2 ** 30 });
  });
  afterAll(() => model.dispose());

  test('BatchSplit over any grouping = each group alone; no tensors left behind', async () => {
    const adapters = await Promise.all(fx.names.map((n) => pool.acquire(n)));
    const pool8 = texts(12, 4);
    const groupArb = fc.record({ adapter: fc.integer({ min: 0, max: 3 }), from: fc.integer({ min: 0, max: 11 }), count: fc.integer({ min: 1, max: 4 }) });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(groupArb, { minLength: 1, maxLength: 4, selector: (g) => g.adapter }), async (groups) => {
        const before = tf.memory().numTensors;
        const batch = groups.map((g) => ({ adapter: adapters[g.adapter]!, texts: pool8.slice(g.from, g.from + g.count) }));
        const together = engine.runBatch(batch);
        batch.forEach((g, i) => {
          const alone = engine.runBatch([g])[0]!;
          together[i]!.forEach((p, r) => {
            expect(p.label).toBe(alone[r]!.label);
            for (const k of Object.keys(p.scores)) expect(Math.abs(p.scores[k]! - alone[r]!.scores[k]!)).toBeLessThan(TOL);
          });
        });
        expect(tf.memory().numTensors).toBe(before);
      }),
      { numRuns: 12 },
    );
    // Graphs are keyed by adapter kinds, not names or row counts: the fixture's two head shapes and ≤4 groups.
    expect(engine.cachedGraphs).toBeGreaterThan(0);
    expect(engine.cachedGraphs).toBeLessThanOrEqual(4);
  });

  test('Parallel over adapters = each alone; sharedLayers = k equals each adapter alone with skipLayers = k (AdapterDrop)', async () => {
    const adapters = await Promise.all(['a0', 'a1', 'a3'].map((n) => pool.acquire(n)));
    const inputs = texts(3, 9);
    const multi = engine.runMulti(adapters, inputs);
    adapters.forEach((a, i) => {
      const alone = engine.runBatch([{ adapter: a, texts: inputs }])[0]!;
      multi[i]!.forEach((p, r) => {
        for (const k of Object.keys(p.scores)) expect(Math.abs(p.scores[k]! - alone[r]!.scores[k]!)).toBeLessThan(TOL);
      });
    });
    // With the adapters of layers 0-1 bypassed, each task equals its adapter alone run with skipLayers = 2.
    const dropped = engine.runMulti(adapters, inputs, 2);
    adapters.forEach((a, i) => {
      const placed = applyPlacements(model.graph, [{ adapter: adapter(a.plugin, a.name, a.config), select: { names: [...a.sites] }, mode: a.mode as 'wrap' }], model.registry).graph;
      const graph = addHead(placed, a.head);
      const batch = makeBatch(inputs.map((t) => ({ ...model.tokenizer.encode(t, undefined, { maxLength: 32 }), label: 0 })), model.tokenizer.padId);
      const output = `${a.head.name}.logits`;
      const ref = tf.tidy(() => tf.softmax(new Executor(graph, model.store).run(batch.feeds, { outputs: [output], skipLayers: 2 })[output]!).arraySync() as number[][]);
      disposeBatch(batch);
      dropped[i]!.forEach((p, r) => Object.values(p.scores).forEach((v, j) => expect(Math.abs(v - ref[r]![j]!)).toBeLessThan(TOL)));
    });
    // Requests sharing the pass (texts concatenated) get what each gets alone.
    const sets = engine.runMultiSets(adapters, [inputs.slice(0, 1), inputs.slice(1)]);
    adapters.forEach((_a, i) => [...sets[0]![i]!, ...sets[1]![i]!].forEach((p, r) => {
      for (const k of Object.keys(p.scores)) expect(Math.abs(p.scores[k]! - multi[i]![r]!.scores[k]!)).toBeLessThan(TOL);
    }));
    // ...and differs from the full adapters (the fixture's adapters are random, so dropping two layers shows).
    expect(Math.abs(dropped[0]![0]!.score - multi[0]![0]!.score)).toBeGreaterThan(1e-4);
    expect(() => engine.runMulti(adapters, inputs, 3)).toThrow(/sharedLayers must be an integer in \[0, 2\]/);
  });

  test('batch graphs are keyed by adapter kinds, not by names, combinations or row counts', async () => {
    const fresh = new BatchEngine({ baseGraph: model.graph, store: model.store, registry: model.registry, tokenizer: model.tokenizer, maxLength: 32 });
    // a0 and a2 are one kind (seq_bn, 2-label head); a1 and a3 another (3 labels).
    const [a0, a1, a2, a3] = await Promise.all(fx.names.map((n) => pool.acquire(n)));
    const t = texts(6, 2);
    for (const groups of [[[a0, 1], [a2, 2]], [[a2, 3], [a0, 1]], [[a0, 2], [a2, 4]]] as const) fresh.runBatch(groups.map(([a, n]) => ({ adapter: a!, texts: t.slice(0, n) })));
    expect(fresh.cachedGraphs).toBe(1);
    fresh.runBatch([{ adapter: a1!, texts: t.slice(0, 2) }, { adapter: a3!, texts: t.slice(0, 1) }]);
    fresh.runBatch([{ adapter: a3!, texts: t.slice(0, 1) }, { adapter: a2!, texts: t.slice(0, 5) }]);
    expect(fresh.cachedGraphs).toBe(3);
    fresh.runBatch([{ adapter: a1!, texts: t.slice(0, 1) }, { adapter: a0!, texts: t.slice(0, 3) }]);
    expect(fresh.cachedGraphs).toBe(3);
  });
});

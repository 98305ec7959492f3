// AdapterDrop: per-call skipLayers, the specialized/robust schedules, and the frozen prefix.
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { adapterPolicy, adaptersOnlyPolicy, addHead, ConfigError, Executor, PlacementError, train } from '@adapters/core-graph';
import { adapterDropSchedule, computeFrozenPrefix, disposeConstants, frozenBoundary, frozenPrefixConstants } from './adapter-drop';
import { bottleneckRule } from './plugin';
import { adapted, baseStore, bitEqual, FEEDS, maxAbsDiff, randomizeAdapter, run, tinyBase } from './__tests__/helpers';

const PRESETS = ['double_seq_bn', 'seq_bn', 'par_bn', 'scaled_par_bn', 'bapna_firat'] as const;
const L = 3;
const base = tinyBase();

function trained(preset: string, overrides: Record<string, unknown> = {}, seed = 5): { graph: Graph; store: WeightStore } {
  const graph = adapted(base, [bottleneckRule('a', preset, overrides)]);
  const { store } = baseStore(graph, 9);
  randomizeAdapter(graph, store, 'a', seed);
  return { graph, store };
}

describe('skipLayers (per call)', () => {
  test.each(PRESETS)('%s: skipLayers n computes the model whose adapters in layers < n are left out', (preset) => {
    const { graph, store } = trained(preset);
    const full = run(graph, store);
    const plain = run(base, store);
    expect(maxAbsDiff(full, plain)).toBeGreaterThan(1e-3);
    for (let n = 0; n <= L; n++) {
      const dropped = run(graph, store, FEEDS, { skipLayers: n });
      if (n === L) {
        expect(bitEqual(dropped, plain)).toBe(true);
        continue;
      }
      const leftOut = adapted(base, [bottleneckRule('a', preset, { leave_out: Array.from({ length: n }, (_v, i) => i) })]);
      expect(bitEqual(dropped, run(leftOut, store))).toBe(true);
    }
    // A list drops exactly the listed layers.
    const leftOut = adapted(base, [bottleneckRule('a', preset, { leave_out: [1] })]);
    expect(bitEqual(run(graph, store, FEEDS, { skipLayers: [1] }), run(leftOut, store))).toBe(true);
    store.dispose();
  });

  const idsArb = fc.array(fc.array(fc.integer({ min: 0, max: 39 }), { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 2 });

  test('property: n = 0 equals no drop; dropping every layer equals the base model', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PRESETS), idsArb, fc.integer({ min: 1, max: 1000 }), (preset, ids, seed) => {
        const { graph, store } = trained(preset, {}, seed);
        const feeds = { input_ids: ids };
        const none = run(graph, store, feeds);
        expect(bitEqual(run(graph, store, feeds, { skipLayers: 0 }), none)).toBe(true);
        expect(bitEqual(run(graph, store, feeds, { skipLayers: [] }), none)).toBe(true);
        const plain = run(base, store, feeds);
        expect(bitEqual(run(graph, store, feeds, { skipLayers: L }), plain)).toBe(true);
        expect(bitEqual(run(graph, store, feeds, { skipLayers: [0, 1, 2] }), plain)).toBe(true);
        expect(bitEqual(run(graph, store, feeds, { skipAdapters: ['a'] }), plain)).toBe(true);
        store.dispose();
      }),
      { numRuns: 12, seed: 2021 },
    );
  });
});

describe('adapterDropSchedule', () => {
  test('specialized: the same n at every step', () => {
    const s = adapterDropSchedule({ mode: 'specialized', n: 5 });
    expect(s.range).toEqual([5, 5]);
    expect([0, 1, 2, 99, 12345].map(s.at)).toEqual([5, 5, 5, 5, 5]);
    expect(s.runOptions(3)).toEqual({ skipLayers: 5 });
  });

  test('robust: n uniform over 0..L-1 by default, every value drawn, deterministic per seed', () => {
    const s = adapterDropSchedule({ mode: 'robust', numLayers: 12, seed: 42 });
    expect(s.range).toEqual([0, 11]);
    const draws = Array.from({ length: 1200 }, (_v, i) => s.at(i));
    expect(draws.every((n) => Number.isInteger(n) && n >= 0 && n <= 11)).toBe(true);
    const counts = Array.from({ length: 12 }, (_v, k) => draws.filter((n) => n === k).length);
    for (const c of counts) expect(c).toBeGreaterThan(50); // 100 expected per value
    const again = adapterDropSchedule({ mode: 'robust', numLayers: 12, seed: 42 });
    expect(Array.from({ length: 1200 }, (_v, i) => again.at(i))).toEqual(draws);
    const other = adapterDropSchedule({ mode: 'robust', numLayers: 12, seed: 43 });
    expect(Array.from({ length: 1200 }, (_v, i) => other.at(i))).not.toEqual(draws);
  });

  test('robust with a range', () => {
    const s = adapterDropSchedule({ mode: 'robust', range: [3, 5], seed: 1 });
    const draws = Array.from({ length: 300 }, (_v, i) => s.at(i));
    expect(new Set(draws)).toEqual(new Set([3, 4, 5]));
  });

  test('bad options are ConfigErrors', () => {
    expect(() => adapterDropSchedule({ mode: 'specialized' })).toThrow(ConfigError);
    expect(() => adapterDropSchedule({ mode: 'specialized', n: -1 })).toThrow(ConfigError);
    expect(() => adapterDropSchedule({ mode: 'robust' })).toThrow(ConfigError);
    expect(() => adapterDropSchedule({ mode: 'robust', range: [4, 2] })).toThrow(ConfigError);
    expect(() => adapterDropSchedule({ mode: 'robust', numLayers: 3, seed: 0.5 })).toThrow(ConfigError);
    expect(() => adapterDropSchedule({ mode: 'sometimes' as 'robust', numLayers: 3 })).toThrow(ConfigError);
    expect(() => adapterDropSchedule({ mode: 'robust', numLayers: 3 }).at(-1)).toThrow(ConfigError);
  });
});

describe('computeFrozenPrefix', () => {
  const loss = (out: Record<string, tf.Tensor>): tf.Scalar => tf.mean(tf.square(out['last_hidden_state'] as tf.Tensor));

  test.each([['double_seq_bn'], ['bapna_firat'], ['par_bn']])('%s: gradients for everything above n are identical with and without the frozen prefix', (preset) => {
    const { graph, store } = trained(preset);
    const executor = new Executor(graph, store);
    for (const n of [1, 2]) {
      // What trains: adapters and LayerNorms above n (nothing below n is active).
      const keys = [...graph.params.values()].filter((p) => p.layer !== undefined && p.layer >= n && (p.owner !== 'base' || p.kind === 'norm')).map((p) => p.key);
      for (const k of store.keys()) store.get(k).trainable = keys.includes(k);
      const vars = keys.map((k) => store.get(k));
      const slow = tf.variableGrads(() => loss(executor.forward(FEEDS, { skipLayers: n })), vars);
      const constants = computeFrozenPrefix(executor, FEEDS, n);
      expect([...constants.keys()]).toEqual([frozenBoundary(graph, n)]);
      const fast = tf.variableGrads(() => loss(executor.forward(FEEDS, { skipLayers: n, constants })), vars);
      expect(fast.value.dataSync()[0]).toBe(slow.value.dataSync()[0]);
      expect(Object.keys(fast.grads).sort()).toEqual(Object.keys(slow.grads).sort());
      expect(Object.keys(fast.grads)).toHaveLength(keys.length);
      for (const [name, g] of Object.entries(slow.grads)) {
        const a = Float32Array.from(g.dataSync());
        const b = Float32Array.from((fast.grads[name] as tf.Tensor).dataSync());
        expect(bitEqual(b, a)).toBe(true);
      }
      // The prefix value is layer n-1's output with the adapters below n dropped.
      const prefix = (constants.get(frozenBoundary(graph, n)) as tf.Tensor).dataSync();
      expect(prefix.length).toBe(2 * 6 * 32);
      // With the constants the prefix is not recomputed: different token ids give the same output.
      const otherIds = { input_ids: FEEDS.input_ids.map((r) => r.map(() => 1)), attention_mask: FEEDS.attention_mask };
      expect(bitEqual(run(graph, store, otherIds, { constants }), run(graph, store, FEEDS, { skipLayers: n }))).toBe(true);
      tf.dispose([slow.value, fast.value, ...Object.values(slow.grads), ...Object.values(fast.grads)]);
      disposeConstants(constants);
    }
    store.dispose();
  });

  test('n = 0 gives no constants; n out of range and adapters outside layers are errors', () => {
    const { graph, store } = trained('seq_bn');
    const executor = new Executor(graph, store);
    expect(computeFrozenPrefix(executor, FEEDS, 0).size).toBe(0);
    expect(() => computeFrozenPrefix(executor, FEEDS, L + 1)).toThrow(PlacementError);
    expect(() => computeFrozenPrefix(executor, FEEDS, 1.5)).toThrow(PlacementError);
    // An adapter on the embeddings would be frozen with the prefix: refused unless skipped.
    const emb = adapted(graph, [bottleneckRule('e', 'bapna_firat', {}, { select: { kinds: ['embeddings'] }, mode: 'after' })]);
    const { store: s2 } = baseStore(emb, 9);
    const ex2 = new Executor(emb, s2);
    expect(() => computeFrozenPrefix(ex2, FEEDS, 1)).toThrow(PlacementError);
    const ok = computeFrozenPrefix(ex2, FEEDS, 1, { skipAdapters: ['e'] });
    expect(ok.size).toBe(1);
    disposeConstants(ok);
    s2.dispose();
    store.dispose();
  });
});

describe('frozenPrefixConstants (train() hook)', () => {
  const withHead = addHead(base, { type: 'classification', name: 'cls', numLabels: 2 });
  const examples = FEEDS.input_ids.map((ids, i) => ({ inputIds: ids, label: i % 2 }));
  const trainOnce = (constants: boolean, policy = adaptersOnlyPolicy) => {
    const graph = adapted(withHead, [bottleneckRule('a', 'seq_bn')]);
    const { store } = baseStore(graph, 9);
    randomizeAdapter(graph, store, 'a', 5);
    const result = train({
      graph, store, output: 'cls.logits', train: examples, maxSteps: 3, batchSize: 2, policy, seed: 7,
      skipLayers: (step) => 1 + (step % 2), ...(constants ? { constants: frozenPrefixConstants() } : {}),
    });
    const weights = new Map(store.keys().map((k) => [k, Float32Array.from(store.get(k).dataSync())]));
    store.dispose();
    return { losses: result.history.filter((r) => r.type === 'step').map((r) => (r as { loss: number }).loss), weights };
  };

  const initialWeights = () => {
    const graph = adapted(withHead, [bottleneckRule('a', 'seq_bn')]);
    const { store } = baseStore(graph, 9);
    randomizeAdapter(graph, store, 'a', 5);
    const weights = new Map(store.keys().map((k) => [k, Float32Array.from(store.get(k).dataSync())]));
    store.dispose();
    return weights;
  };

  test('trains the same model as computing the lower layers under the tape (same dropout masks), without leaks', () => {
    const slow = trainOnce(false);
    const before = tf.memory().numTensors;
    const fast = trainOnce(true);
    expect(tf.memory().numTensors).toBe(before);
    // The prefix runs through Executor.run (bias fused into the matmul, inference kernels where the backend has
    // them): float32 rounding may differ there, nothing else does.
    for (let i = 0; i < slow.losses.length; i++) expect(Math.abs((fast.losses[i] as number) - (slow.losses[i] as number))).toBeLessThan(1e-5);
    let worst = 0;
    for (const [k, w] of slow.weights) worst = Math.max(worst, maxAbsDiff(fast.weights.get(k) as Float32Array, w));
    expect(worst).toBeLessThan(1e-5);
    // Adapters above the cut moved; the ones below it (dropped in every step) did not.
    const init = initialWeights();
    const moved = (k: string) => maxAbsDiff(fast.weights.get(k) as Float32Array, init.get(k) as Float32Array) > 0;
    expect(moved('layer.2.ffn.adapters.a.adapter_up.weight')).toBe(true);
    expect(moved('layer.0.ffn.adapters.a.adapter_up.weight')).toBe(false);
  });

  test('refuses a prefix that reads trainable tensors (adapterPolicy trains base LayerNorms), naming one', () => {
    expect(() => trainOnce(true, adapterPolicy)).toThrow(/cannot compute the first [12] layers outside the gradient tape: they read trainable 'encoder\.layer\.0\.[a-z.]*LayerNorm\.(weight|bias)'/);
  });

});

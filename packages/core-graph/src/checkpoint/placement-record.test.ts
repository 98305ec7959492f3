// An adapter trained with a custom placement reloads with no rule: adapter_config.json records mode and sites.
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { buildEncoder } from '../model/encoder';
import { defineAdapter } from '../plugin/define-adapter';
import { createRegistry } from '../plugin/registry';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { ADAPTER_CONFIG_FILE, loadAdapter, saveAdapter } from './adapterhub';

const tiny = defineAdapter<{ size: number }>({
  name: 'tiny',
  description: 'test adapter: x + relu(x A) B',
  modes: ['wrap', 'after', 'parallel'],
  defaults: { size: 2 },
  schema: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build(ctx) {
    const down = ctx.scope.act('relu', 'act', ctx.scope.dense('down', ctx.input, ctx.config.size));
    const up = ctx.scope.dense('up', down, ctx.width, { init: { kind: 'normal', std: 0.2 } });
    return { output: ctx.scope.add('residual', up, ctx.input), up };
  },
});
const registry = createRegistry([tiny]);
const base = buildEncoder({ vocabSize: 30, hiddenSize: 8, numLayers: 4, numHeads: 2, intermediateSize: 16, maxPositions: 16 });
const feeds = { input_ids: [[1, 5, 7, 2], [1, 9, 2, 0]], attention_mask: [[1, 1, 1, 1], [1, 1, 1, 0]] };

function hidden(graph: Graph, store: WeightStore): Float32Array {
  return tf.tidy(() => new Executor(graph, store).run(feeds, { outputs: ['last_hidden_state'] })['last_hidden_state']!).dataSync() as Float32Array;
}

const siteKinds = ['ffn', 'attention', 'output'] as const;

describe('placement recorded in adapter_config.json', () => {
  test('any single-mode custom placement reloads with no rule: same sites, same graph, same outputs', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...siteKinds),
      fc.subarray([0, 1, 2, 3], { minLength: 1 }),
      fc.constantFrom<'wrap' | 'after' | 'parallel'>('wrap', 'after', 'parallel'),
      async (kind, layers, mode) => {
        fc.pre(!(kind === 'output' && mode === 'wrap')); // output sites have no residual to wrap
        const rule = { adapter: adapter('tiny', 'task', { size: 3 }), select: { kinds: [kind], layers }, mode };
        const { graph } = applyPlacements(base, [rule], registry);
        const store = WeightStore.create(graph, 7);
        const dir = await mkdtemp(join(tmpdir(), 'placement-'));
        await saveAdapter(dir, graph, store, 'task', { registry });
        const saved = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_FILE), 'utf8')) as { placement: unknown };
        expect(saved.placement).toEqual({ mode, sites: layers.map((l) => `layer.${l}.${kind}`) });

        const fresh = WeightStore.create(base, 7); // same base weights (same seed and keys)
        const loaded = await loadAdapter(dir, base, fresh, registry);
        expect(loaded.graph.splices.map((s) => [s.site, s.mode])).toEqual(graph.splices.map((s) => [s.site, s.mode]));
        expect(hidden(loaded.graph, fresh)).toEqual(hidden(graph, store));
        fresh.dispose();
        store.dispose();
      },
    ), { numRuns: 12 });
  });

  test('an explicit rule wins over the recorded placement', async () => {
    const { graph } = applyPlacements(base, [{ adapter: adapter('tiny', 'task', {}), select: { layers: [3], kinds: ['ffn'] }, mode: 'wrap' }], registry);
    const store = WeightStore.create(graph, 1);
    const dir = await mkdtemp(join(tmpdir(), 'placement-'));
    await saveAdapter(dir, graph, store, 'task', { registry });
    await expect(loadAdapter(dir, base, WeightStore.create(base, 1), registry, { rule: { select: { layers: [0], kinds: ['ffn'] }, mode: 'wrap' } }))
      .rejects.toThrow(/layer\.0\.ffn/); // the file holds layer 3's tensors only: the explicit rule was used
    store.dispose();
  });

  test('a recorded site the model lacks, or a malformed record, is a ConfigError naming the field; the store is untouched', async () => {
    const { graph } = applyPlacements(base, [{ adapter: adapter('tiny', 'task', {}), select: { layers: [3], kinds: ['ffn'] }, mode: 'wrap' }], registry);
    const store = WeightStore.create(graph, 1);
    const dir = await mkdtemp(join(tmpdir(), 'placement-'));
    await saveAdapter(dir, graph, store, 'task', { registry });
    const file = join(dir, ADAPTER_CONFIG_FILE);
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    const shallow = buildEncoder({ vocabSize: 30, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositions: 16 });
    const target = WeightStore.create(shallow, 1);
    const keys = target.keys().length;
    const err = await loadAdapter(dir, shallow, target, registry).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).path).toBe(`${file}: placement.sites`);
    expect((err as Error).message).toContain("no site 'layer.3.ffn'");
    expect(target.keys().length).toBe(keys);
    for (const bad of [{ mode: 'wrap', sites: [] }, { mode: 3, sites: ['layer.0.ffn'] }, 'layer.0.ffn']) {
      await writeFile(file, JSON.stringify({ ...saved, placement: bad }));
      await expect(loadAdapter(dir, base, WeightStore.create(base, 1), registry)).rejects.toThrow(/placement: must be/);
    }
    store.dispose();
    target.dispose();
  });
});

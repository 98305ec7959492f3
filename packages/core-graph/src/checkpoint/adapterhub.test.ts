import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Executor } from '../exec/executor';
import type { Graph } from '../graph/graph';
import { WeightStore } from '../exec/weights';
import { decodeSafetensors } from '../io/safetensors';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { defineAdapter } from '../plugin/define-adapter';
import { createRegistry } from '../plugin/registry';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE, adapterHubKey, loadAdapter, saveAdapter } from './adapterhub';

/** A bottleneck named like AdapterHub's modules (adapter_down.0, adapter_up), wrapping the FFN. */
const mini = defineAdapter<{ reduction_factor: number }>({
  name: 'mini',
  description: 'test bottleneck',
  modes: ['wrap', 'after'],
  defaults: { reduction_factor: 2 },
  schema: { type: 'object', properties: { reduction_factor: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build(ctx) {
    const m = Math.max(1, Math.floor(ctx.width / ctx.config.reduction_factor));
    const down = ctx.scope.act('relu', 'adapter_down.1', ctx.scope.dense('adapter_down.0', ctx.input, m));
    const up = ctx.scope.dense('adapter_up', down, ctx.width, { init: { kind: 'normal', std: 0.1 } });
    return { output: ctx.scope.add('residual', up, ctx.input), up };
  },
});
const registry = createRegistry([mini]);
const config = { vocabSize: 30, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositions: 16 };
const ids = [[1, 5, 7, 2], [1, 9, 2, 0]];
const mask = [[1, 1, 1, 1], [1, 1, 1, 0]];

function model(seed: number) {
  const base = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 3 });
  const { graph } = applyPlacements(base, [{ adapter: adapter('mini', 'sent', { reduction_factor: 2 }) }], registry);
  return { base, graph, store: WeightStore.create(graph, seed) };
}

const logits = (graph: Graph, store: WeightStore) => {
  const out = new Executor(graph, store).run({ input_ids: ids, attention_mask: mask }, { outputs: ['task.logits'] });
  const v = out['task.logits']?.dataSync() as Float32Array;
  tf.dispose(Object.values(out));
  return v;
};

describe('AdapterHub layout', () => {
  test('files, key names and only the adapter tensors are written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ah-'));
    const { graph, store } = model(1);
    await saveAdapter(dir, graph, store, 'sent', { head: 'task', registry });
    expect((await readdir(dir)).sort()).toEqual([ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE].sort());
    const cfg = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_FILE), 'utf8'));
    expect(cfg).toMatchObject({ name: 'sent', model_type: 'bert', hidden_size: 8, config: { architecture: 'mini', reduction_factor: 2 } });
    const { tensors } = decodeSafetensors(await readFile(join(dir, ADAPTER_WEIGHTS_FILE)));
    expect([...tensors.keys()].sort()).toEqual([0, 1].flatMap((i) => ['adapter_down.0.bias', 'adapter_down.0.weight', 'adapter_up.bias', 'adapter_up.weight'].map((p) => `bert.encoder.layer.${i}.output.adapters.sent.${p}`)).sort());
    // nn.Linear layout: adapter_down.0.weight is [m, d] = [4, 8].
    expect(tensors.get('bert.encoder.layer.0.output.adapters.sent.adapter_down.0.weight')?.shape).toEqual([4, 8]);
    expect(adapterHubKey(graph, 'layer.1.ffn.adapters.sent.adapter_up.weight', 'sent', 'other')).toBe('bert.encoder.layer.1.output.adapters.other.adapter_up.weight');
    store.dispose();
  });

  test('save → load into a fresh model reproduces outputs bit for bit (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(undefined, 'renamed'), async (seed, as) => {
        const dir = await mkdtemp(join(tmpdir(), 'ah-'));
        const trained = model(seed);
        await saveAdapter(dir, trained.graph, trained.store, 'sent', { head: 'task', registry });
        const expected = logits(trained.graph, trained.store);
        // Fresh model: same base weights (seed 7 for both), no adapter, no head.
        const base = buildEncoder(config);
        const fresh = WeightStore.create(base, seed);
        const loaded = await loadAdapter(dir, base, fresh, registry, as === undefined ? {} : { as });
        expect(loaded.name).toBe(as ?? 'sent');
        const got = logits(loaded.graph, fresh);
        expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
        trained.store.dispose();
        fresh.dispose();
      }),
      { numRuns: 5 },
    );
  });

  test('a failed load leaves the model unchanged and names the problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ah-'));
    const { graph, store } = model(2);
    await saveAdapter(dir, graph, store, 'sent', { registry });
    const base = buildEncoder(config);
    const fresh = WeightStore.create(base, 2);
    const keysBefore = fresh.keys().sort();
    const bytes = await readFile(join(dir, ADAPTER_WEIGHTS_FILE));
    await writeFile(join(dir, ADAPTER_WEIGHTS_FILE), bytes.subarray(0, bytes.length - 4));
    await expect(loadAdapter(dir, base, fresh, registry)).rejects.toThrow(/adapter\.safetensors/);
    await writeFile(join(dir, ADAPTER_CONFIG_FILE), '{"name": "sent", "config": {"architecture": "lora"}}');
    await expect(loadAdapter(dir, base, fresh, registry)).rejects.toThrow(/no installed plugin reads "lora" adapters/);
    await writeFile(join(dir, ADAPTER_CONFIG_FILE), '{"name": "sent", "config": {"architecture": "mini", "reduction_factor": 0}}');
    await expect(loadAdapter(dir, base, fresh, registry)).rejects.toThrow(/sent\.config\.reduction_factor: must be >= 1/);
    expect(fresh.keys().sort()).toEqual(keysBefore);
    store.dispose();
    fresh.dispose();
  });
});

import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Executor } from '../exec/executor';
import type { Graph } from '../graph/graph';
import { WeightStore } from '../exec/weights';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors';
import { buildEncoder } from '../model/encoder';
import { addHead, graphHeads as graphHeadsOf } from '../model/heads';
import { defineAdapter } from '../plugin/define-adapter';
import { createRegistry } from '../plugin/registry';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE, adapterCheckpointKeysOf, loadAdapter, saveAdapter } from './adapterhub';

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
    expect(adapterCheckpointKeysOf(graph, 'layer.1.ffn.adapters.sent.adapter_up.weight', 'sent', { as: 'other' })).toEqual(['bert.encoder.layer.1.output.adapters.other.adapter_up.weight']);
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

  // A plugin whose parameters AdapterHub names differently: a bare `scaling` parameter, and a LayerNorm that
  // AdapterHub's state dict lists twice (`adapter_norm_before.*` and `adapter_down.0.*`, one shared module).
  const renamed = defineAdapter<{ reduction_factor: number }>({
    name: 'renamed',
    description: 'test bottleneck with AdapterHub key renames',
    modes: ['wrap'],
    defaults: { reduction_factor: 2 },
    schema: { type: 'object', properties: { reduction_factor: { type: 'integer', minimum: 1 } }, additionalProperties: false },
    defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
    build(ctx) {
      const m = Math.max(1, Math.floor(ctx.width / ctx.config.reduction_factor));
      const normed = ctx.scope.layerNorm('adapter_norm_before', ctx.input, 1e-5);
      const down = ctx.scope.act('relu', 'act', ctx.scope.dense('adapter_down.1', normed, m));
      const up = ctx.scope.dense('adapter_up', down, ctx.width, { init: { kind: 'normal', std: 0.1 } });
      const scaled = ctx.scope.op('scaleByParam', 'scaling', [up], { params: { scale: { shape: [1], init: { kind: 'ones' }, kind: 'scalar' } } });
      return { output: ctx.scope.add('residual', scaled, ctx.input), up };
    },
    hubKeys: (local) => {
      if (local === 'scaling.scale') return ['scaling'];
      const norm = /^adapter_norm_before\.(weight|bias)$/.exec(local);
      return norm ? [local, `adapter_down.0.${norm[1] as string}`] : [local];
    },
  });
  const renamedRegistry = createRegistry([renamed]);
  const L0 = 'bert.encoder.layer.0.output.adapters.r.';

  async function savedRenamed(seed: number) {
    const dir = await mkdtemp(join(tmpdir(), 'ah-'));
    const base = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 3 });
    const { graph } = applyPlacements(base, [{ adapter: adapter('renamed', 'r', { reduction_factor: 2 }) }], renamedRegistry);
    const store = WeightStore.create(graph, seed);
    // Non-trivial scale and LayerNorm, so a wrong mapping shows in the outputs.
    for (const key of [...graph.params.keys()].filter((k) => k.includes('.adapters.r.scaling') || k.includes('.adapters.r.adapter_norm_before'))) {
      const v = store.get(key);
      const t = tf.randomNormal(v.shape, 1, 0.3, 'float32', seed);
      store.assign(key, t);
      t.dispose();
    }
    await saveAdapter(dir, graph, store, 'r', { head: 'task', registry: renamedRegistry });
    return { dir, graph, store, expected: logits(graph, store) };
  }

  const rewrite = async (file: string, edit: (tensors: Map<string, { shape: number[]; values: Float32Array }>) => void) => {
    const decoded = decodeSafetensors(await readFile(file)).tensors;
    const tensors = new Map([...decoded].map(([k, t]) => [k, { shape: [...t.shape], values: Float32Array.from(t.values) }]));
    edit(tensors);
    await writeFile(file, encodeSafetensors(Object.fromEntries([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }])), { format: 'pt' }));
  };

  test('plugin hubKeys: saved under every AdapterHub name, loaded from any, copies must agree', async () => {
    const { dir, store, expected } = await savedRenamed(3);
    const { tensors } = decodeSafetensors(await readFile(join(dir, ADAPTER_WEIGHTS_FILE)));
    expect(tensors.has(`${L0}scaling`)).toBe(true);
    expect(tensors.has(`${L0}scaling.scale`)).toBe(false);
    expect(tensors.get(`${L0}adapter_down.0.weight`)?.values).toEqual(tensors.get(`${L0}adapter_norm_before.weight`)?.values);
    const load = async () => {
      const base = buildEncoder(config);
      const fresh = WeightStore.create(base, 3);
      try {
        const loaded = await loadAdapter(dir, base, fresh, renamedRegistry);
        return logits(loaded.graph, fresh);
      } finally {
        fresh.dispose();
      }
    };
    expect(Buffer.from((await load()).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // Only one of the two LayerNorm names, and keys without the model prefix (AdapterHub saving a bare BertModel).
    await rewrite(join(dir, ADAPTER_WEIGHTS_FILE), (t) => {
      for (const k of [...t.keys()]) {
        if (k.includes('adapter_norm_before')) t.delete(k);
        else {
          t.set(k.replace(/^bert\./, ''), t.get(k) as { shape: number[]; values: Float32Array });
          t.delete(k);
        }
      }
    });
    expect(Buffer.from((await load()).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // Two names holding different values for one parameter.
    await rewrite(join(dir, ADAPTER_WEIGHTS_FILE), (t) => {
      const k = 'encoder.layer.0.output.adapters.r.adapter_down.0.weight';
      const v = t.get(k) as { shape: number[]; values: Float32Array };
      t.set(k.replace('adapter_down.0', 'adapter_norm_before'), { shape: v.shape, values: v.values.map((x) => x + 1) });
    });
    await expect(load()).rejects.toThrow(/both hold parameter 'layer\.0\.ffn\.adapters\.r\.adapter_norm_before\.weight' but differ/);
    // A tensor under no name the config expects.
    await rewrite(join(dir, ADAPTER_WEIGHTS_FILE), (t) => {
      t.delete('encoder.layer.0.output.adapters.r.adapter_norm_before.weight');
      t.set('encoder.layer.0.output.adapters.r.gate.weight', { shape: [1], values: new Float32Array([1]) });
    });
    await expect(load()).rejects.toThrow(/unexpected tensor 'encoder\.layer\.0\.output\.adapters\.r\.gate\.weight'/);
    store.dispose();
  });

  test("saveAdapter writes the head as AdapterHub does (head_type, model_class, heads.NAME.1.*); it reloads exactly; unsupported configs are refused", async () => {
    const { dir, store, expected } = await savedRenamed(4);
    const saved = JSON.parse(await readFile(join(dir, HEAD_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
    // AdapterHub 1.3's ClassificationHead config, field for field (layers 1 on BERT's pooler).
    expect(saved['config']).toEqual({ head_type: 'classification', num_labels: 3, layers: 1, activation_function: 'tanh', label2id: null, use_pooler: true, bias: true, dropout_prob: null });
    expect(saved['model_class']).toBe('BertAdapterModel');
    expect(saved['name']).toBe('task');
    expect([...decodeSafetensors(new Uint8Array(await readFile(join(dir, HEAD_WEIGHTS_FILE)))).tensors.keys()].sort()).toEqual(['heads.task.1.bias', 'heads.task.1.weight']);
    const base = buildEncoder(config);
    const fresh = WeightStore.create(base, 4);
    const loaded = await loadAdapter(dir, base, fresh, renamedRegistry);
    expect(loaded.head).toBe('task');
    expect(Buffer.from(logits(loaded.graph, fresh).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    const hubHead = saved as { config: Record<string, unknown> };
    await writeFile(join(dir, HEAD_CONFIG_FILE), JSON.stringify({ ...hubHead, config: { ...hubHead.config, layers: 3 } }));
    await expect(loadAdapter(dir, base, fresh, renamedRegistry)).rejects.toThrow(/config\.layers: AdapterHub heads with 3 layers/);
    // Two layers need the output Linear at module 4: the one-layer file lacks it.
    await writeFile(join(dir, HEAD_CONFIG_FILE), JSON.stringify({ ...hubHead, config: { ...hubHead.config, layers: 2 } }));
    await expect(loadAdapter(dir, base, fresh, renamedRegistry)).rejects.toThrow(/model_head\.safetensors: (missing tensor 'heads\.task\.4\.weight'|tensor 'heads\.task\.1\.weight' has shape)/);
    await writeFile(join(dir, HEAD_CONFIG_FILE), JSON.stringify({ ...hubHead, config: { ...hubHead.config, head_type: 'multiple_choice' } }));
    await expect(loadAdapter(dir, base, fresh, renamedRegistry)).rejects.toThrow(/config\.head_type: AdapterHub head type "multiple_choice"/);
    // Loaded without the head, the adapter alone still loads.
    expect((await loadAdapter(dir, base, fresh, renamedRegistry, { loadHead: false })).head).toBeUndefined();
    fresh.dispose();
    store.dispose();
  });

  test("RoBERTa's classification head saves as AdapterHub's two-layer tanh head (heads.NAME.1.*, heads.NAME.4.*); activations are read by name", async () => {
    const rconfig = { ...config, architecture: 'roberta' as const };
    const base = addHead(buildEncoder(rconfig), { type: 'classification', name: 'task', numLabels: 3 });
    const { graph } = applyPlacements(base, [{ adapter: adapter('mini', 'sent', { reduction_factor: 2 }) }], registry);
    const store = WeightStore.create(graph, 9);
    const dir = await mkdtemp(join(tmpdir(), 'ah-'));
    await saveAdapter(dir, graph, store, 'sent', { head: 'task', registry, labels: ['neg', 'neu', 'pos'] });
    const expected = logits(graph, store);
    const hubHead = JSON.parse(await readFile(join(dir, HEAD_CONFIG_FILE), 'utf8')) as { config: Record<string, unknown> };
    expect(hubHead).toMatchObject({ model_class: 'RobertaAdapterModel', config: { head_type: 'classification', layers: 2, activation_function: 'tanh', use_pooler: false, label2id: { neg: 0, neu: 1, pos: 2 } } });
    expect([...decodeSafetensors(new Uint8Array(await readFile(join(dir, HEAD_WEIGHTS_FILE)))).tensors.keys()].sort()).toEqual(['heads.task.1.bias', 'heads.task.1.weight', 'heads.task.4.bias', 'heads.task.4.weight']);
    const fresh = buildEncoder(rconfig);
    const freshStore = WeightStore.create(fresh, 9);
    const loaded = await loadAdapter(dir, fresh, freshStore, registry);
    expect(Buffer.from(logits(loaded.graph, freshStore).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // Another activation AdapterHub names (upper case as it accepts): same weights, different logits.
    await writeFile(join(dir, HEAD_CONFIG_FILE), JSON.stringify({ ...hubHead, config: { ...hubHead.config, activation_function: 'ReLU' } }));
    const reluBase = buildEncoder(rconfig);
    const reluStore = WeightStore.create(reluBase, 9);
    const relu = await loadAdapter(dir, reluBase, reluStore, registry);
    expect(graphHeadsOf(relu.graph)).toMatchObject([{ layers: 2, activation: 'relu' }]);
    expect(Buffer.from(logits(relu.graph, reluStore).buffer).equals(Buffer.from(expected.buffer))).toBe(false);
    reluStore.dispose();
    await writeFile(join(dir, HEAD_CONFIG_FILE), JSON.stringify({ ...hubHead, config: { ...hubHead.config, activation_function: 'softmax' } }));
    await expect(loadAdapter(dir, fresh, freshStore, registry)).rejects.toThrow(/config\.activation_function: activation "softmax" is not supported/);
    // No activation: AdapterHub appends no module, so the output Linear is module 3.
    await writeFile(join(dir, HEAD_CONFIG_FILE), JSON.stringify({ ...hubHead, config: { ...hubHead.config, activation_function: null } }));
    await expect(loadAdapter(dir, fresh, freshStore, registry)).rejects.toThrow(/missing tensor 'heads\.task\.3\.weight'/);
    store.dispose();
    freshStore.dispose();
  });
});

// Save/load of knowledge adapters (AdapterHub layout) and their use downstream with the base frozen.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createRegistry, decodeSafetensors, GraphError, HEAD_CONFIG_FILE, loadAdapter, saveAdapter, train } from '@adapters/core-graph';
import { kadapter } from './plugin';
import { combineKnowledgeAdapters } from './combine';
import { addKnowledgeHead } from './heads';
import { KADAPTER_CONFIG_FILE, KADAPTER_WEIGHTS_FILE, loadKAdapter, saveKAdapter } from './hub';
import { attachKnowledgeAdapters } from './recipes';
import { baseStore, bitEqual, FEEDS, randomizeOwner, runValues, SMALL, tinyBase, withKAdapter } from './__tests__/helpers';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kadapter-io-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('saveKAdapter / loadKAdapter', () => {
  it('round-trips the adapter and its head: identical outputs in a fresh base', async () => {
    const base = tinyBase();
    let graph = withKAdapter(base, 'fac', { ...SMALL, adapter_list: [0, 2] });
    graph = addKnowledgeHead(graph, { type: 'relation', name: 'fac_rc', input: 'fac.output', numLabels: 3, subjectMarker: 7, objectMarker: 11 });
    const { store } = baseStore(graph);
    randomizeOwner(graph, store, 'adapter:fac', 3);
    randomizeOwner(graph, store, 'head:fac_rc', 4);
    const before = runValues(graph, store, FEEDS, { outputs: ['fac.output', 'fac.chain', 'fac_rc.logits'] });
    await saveKAdapter(dir, graph, store, 'fac', { head: 'fac_rc' });

    const config = JSON.parse(await readFile(join(dir, KADAPTER_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ name: 'fac', plugin: 'kadapter', model_type: 'bert', hidden_size: 16, config: { architecture: 'kadapter', adapter_list: [0, 2], adapter_size: 8 } });
    const tensors = decodeSafetensors(await readFile(join(dir, KADAPTER_WEIGHTS_FILE))).tensors;
    expect(tensors.get('bert.taps.adapters.fac.adapter.0.down_project.weight')?.shape).toEqual([8, 16]); // nn.Linear [out, in]
    expect([...tensors.keys()].every((k) => k.startsWith('bert.taps.adapters.fac.'))).toBe(true);

    const fresh = baseStore(base);
    const loaded = await loadKAdapter(dir, base, fresh.store);
    expect(loaded).toMatchObject({ name: 'fac', head: 'fac_rc' });
    const after = runValues(loaded.graph, fresh.store, FEEDS, { outputs: ['fac.output', 'fac.chain', 'fac_rc.logits'] });
    for (const k of Object.keys(before)) expect(bitEqual(after[k]?.values as Float32Array, before[k]?.values as Float32Array)).toBe(true);

    // Under another name, without the head.
    const renamed = await loadKAdapter(dir, loaded.graph, fresh.store, { as: 'fac2', loadHead: false });
    const again = runValues(renamed.graph, fresh.store, FEEDS, { outputs: ['fac2.chain'] });
    expect(bitEqual(again['fac2.chain']?.values as Float32Array, before['fac.chain']?.values as Float32Array)).toBe(true);
    store.dispose();
    fresh.store.dispose();
  });

  it('fails clearly: a model too shallow for the saved taps, an unexpected tensor, unknown names', async () => {
    const base = tinyBase({ numLayers: 3 });
    const graph = withKAdapter(base, 'fac', { ...SMALL, adapter_list: [0, 2] });
    const { store } = baseStore(graph);
    await saveKAdapter(dir, graph, store, 'fac');
    const shallow = tinyBase({ numLayers: 2 });
    const s2 = baseStore(shallow);
    await expect(loadKAdapter(dir, shallow, s2.store)).rejects.toThrow(/adapter_list: layer 2 does not exist: the model has 2 layers/);
    await expect(saveKAdapter(dir, graph, store, 'nope')).rejects.toThrow(ConfigError);
    await expect(saveKAdapter(dir, graph, store, 'fac', { head: 'nope' })).rejects.toThrow(/no head 'nope'/);
    const bytes = decodeSafetensors(await readFile(join(dir, KADAPTER_WEIGHTS_FILE))).tensors;
    expect(bytes.size).toBeGreaterThan(0);
    const cfg = JSON.parse(await readFile(join(dir, KADAPTER_CONFIG_FILE), 'utf8')) as { config: Record<string, unknown> };
    cfg.config['adapter_transformer_layers'] = 1;
    await writeFile(join(dir, KADAPTER_CONFIG_FILE), JSON.stringify(cfg));
    const s3 = baseStore(base);
    const keysBefore = s3.store.keys().length;
    await expect(loadKAdapter(dir, base, s3.store)).rejects.toThrow(GraphError);
    expect(s3.store.keys().length).toBe(keysBefore); // a failed load leaves the store as it was
    await expect(loadKAdapter(join(dir, 'missing'), base, s3.store)).rejects.toThrow(/cannot read/);
    for (const s of [store, s2.store, s3.store]) s.dispose();
  });
});

describe('interoperability with core-graph saveAdapter / loadAdapter (same AdapterHub layout)', () => {
  it('core loads what saveKAdapter wrote, and loadKAdapter loads what core wrote', async () => {
    const base = tinyBase();
    const graph = withKAdapter(base, 'fac', { ...SMALL, adapter_list: [0, 2], adapter_skip_layers: 1 });
    const { store } = baseStore(graph);
    randomizeOwner(graph, store, 'adapter:fac', 9);
    const want = runValues(graph, store, FEEDS, { outputs: ['fac.output', 'fac.chain'] });
    const registry = createRegistry([kadapter]);

    await saveKAdapter(join(dir, 'ours'), graph, store, 'fac');
    const a = baseStore(base);
    const viaCore = await loadAdapter(join(dir, 'ours'), base, a.store, registry);
    const gotCore = runValues(viaCore.graph, a.store, FEEDS, { outputs: ['fac.output', 'fac.chain'] });

    await saveAdapter(join(dir, 'core'), graph, store, 'fac', { registry });
    const coreTensors = decodeSafetensors(await readFile(join(dir, 'core', KADAPTER_WEIGHTS_FILE))).tensors;
    const ourTensors = decodeSafetensors(await readFile(join(dir, 'ours', KADAPTER_WEIGHTS_FILE))).tensors;
    expect([...coreTensors.keys()].sort()).toEqual([...ourTensors.keys()].sort());
    const b = baseStore(base);
    const viaOurs = await loadKAdapter(join(dir, 'core'), base, b.store);
    const gotOurs = runValues(viaOurs.graph, b.store, FEEDS, { outputs: ['fac.output', 'fac.chain'] });
    for (const k of Object.keys(want)) {
      expect(bitEqual(gotCore[k]?.values as Float32Array, want[k]?.values as Float32Array)).toBe(true);
      expect(bitEqual(gotOurs[k]?.values as Float32Array, want[k]?.values as Float32Array)).toBe(true);
    }
    for (const s of [store, a.store, b.store]) s.dispose();
  });
});

describe('downstream use of pre-trained knowledge adapters (base frozen)', () => {
  it('loads two adapters, combines them, trains the task; base weights stay bit-identical', async () => {
    const base = tinyBase();
    let pre = withKAdapter(base, 'fac', { ...SMALL, adapter_list: [0, 2] });
    pre = withKAdapter(pre, 'lin', { ...SMALL, adapter_list: [1], adapter_transformer_layers: 1 });
    const { store: preStore } = baseStore(pre);
    randomizeOwner(pre, preStore, 'adapter:fac', 5);
    randomizeOwner(pre, preStore, 'adapter:lin', 6);
    await saveKAdapter(join(dir, 'fac'), pre, preStore, 'fac');
    await saveKAdapter(join(dir, 'lin'), pre, preStore, 'lin');
    const chains = runValues(pre, preStore, FEEDS, { outputs: ['fac.chain', 'lin.chain'] });

    for (const mode of ['concat', 'sum'] as const) {
      const { store } = baseStore(base);
      const task = await attachKnowledgeAdapters({ graph: base, store, adapters: [join(dir, 'fac'), join(dir, 'lin')], mode, head: { type: 'classification', name: 'task', numLabels: 2 } });
      expect(task.adapters).toEqual(['fac', 'lin']);
      expect(task.output).toBe('task.logits');
      const loadedChains = runValues(task.graph, store, FEEDS, { outputs: ['fac.chain', 'lin.chain'] });
      for (const k of ['fac.chain', 'lin.chain']) expect(bitEqual(loadedChains[k]?.values as Float32Array, chains[k]?.values as Float32Array)).toBe(true);
      const baseKeys = [...task.graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
      const baseBefore = store.snapshot(baseKeys);
      const headBefore = store.snapshot(['heads.task.classifier.weight']);
      const examples = [
        { inputIds: [2, 7, 11, 5, 3], label: 0 },
        { inputIds: [2, 31, 8, 3], label: 1 },
        { inputIds: [2, 9, 9, 3], label: 1 },
      ];
      const result = train({ graph: task.graph, store, output: task.output, train: examples, eval: examples, policy: task.headOnlyPolicy, maxSteps: 3, batchSize: 2, learningRate: 1e-2 });
      expect(result.trainableKeys.every((k) => k.startsWith('heads.task.') || k.startsWith('combine.kadapter.'))).toBe(true);
      const baseAfter = store.snapshot(baseKeys);
      for (const k of baseKeys) expect(bitEqual(baseAfter.get(k) as Float32Array, baseBefore.get(k) as Float32Array)).toBe(true);
      expect(bitEqual(store.snapshot(['heads.task.classifier.weight']).get('heads.task.classifier.weight') as Float32Array, headBefore.get('heads.task.classifier.weight') as Float32Array)).toBe(false);
      // The adapters themselves train too under the default downstream policy.
      const all = train({ graph: task.graph, store, output: task.output, train: examples, policy: task.policy, maxSteps: 1, batchSize: 3 });
      expect(all.trainableKeys.some((k) => k.startsWith('taps.adapters.fac.'))).toBe(true);
      expect(all.trainableKeys.some((k) => !k.startsWith('taps.') && !k.startsWith('heads.') && !k.startsWith('combine.'))).toBe(false);
      store.dispose();
    }
    expect(() => combineKnowledgeAdapters(pre, ['fac', 'lin'], { mode: 'concat' })).not.toThrow();
    preStore.dispose();
  });

  it('writes a head config only when asked', async () => {
    const graph = withKAdapter(tinyBase(), 'fac', { ...SMALL });
    const { store } = baseStore(graph);
    await saveKAdapter(dir, graph, store, 'fac');
    await expect(readFile(join(dir, HEAD_CONFIG_FILE))).rejects.toThrow();
    store.dispose();
  });
});

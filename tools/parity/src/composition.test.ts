// Parity with AdapterHub `adapters` 1.3.0 for compositions: Stack(lang, task) of two seq_bn adapters, Fuse(a, b)
// with the dynamic AdapterFusion config, and the invertible language adapter (seq_bn_inv). Every file is read as
// AdapterHub saved it.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { adapter, applyPlacements, createRegistry, loadAdapter, loadPretrained, readSafetensorsFile, Stack } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { FUSION_CONFIG_FILE, FUSION_WEIGHTS_FILE, loadFusion, saveFusion } from '@adapters/adapter-fusion';
import { loadLanguageAdapter, saveLanguageAdapter } from '@adapters/adapter-madx';
import { BASE_DIR, barePrefixCopy, compare, expectSameFiles, FIXTURES, maxRelErr, referenceOutputs, run, TOLERANCE, useBackend } from './harness';

const errors: Record<string, Record<string, number>> = {};
beforeAll(useBackend);
afterAll(() => {
  for (const [method, e] of Object.entries(errors)) console.log(`parity ${method}: ${Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

async function check(method: string, graph: Graph, store: WeightStore, base: Graph): Promise<void> {
  const got = await run(graph, store, ['last_hidden_state']);
  const ref = await referenceOutputs(method);
  errors[method] = compare(got, ref, { last_hidden_state: 'last_hidden_state' });
  for (const e of Object.values(errors[method])) expect(e).toBeLessThanOrEqual(TOLERANCE);
  // The adapters matter: the base model alone is far from the reference.
  const plain = await run(base, store, ['last_hidden_state']);
  expect(maxRelErr(plain['last_hidden_state'] as Float32Array, ref.get('last_hidden_state')?.values ?? [])).toBeGreaterThan(1e-2);
}

const catalogOf = (g: Graph) => g.meta['adapters'] as Record<string, { plugin: string; config: Record<string, unknown> }>;

describe('composition parity with AdapterHub adapters 1.3.0', () => {
  test('stack (Stack(lang, task), two seq_bn adapters)', async () => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const registry = createRegistry([bottleneck]);
      // Each adapter's weights into the store (the graphs place them alone), then the Stack over the same keys.
      const lang = await loadAdapter(join(FIXTURES, 'stack', 'lang'), pre.graph, pre.store, registry);
      const task = await loadAdapter(join(FIXTURES, 'stack', 'task'), pre.graph, pre.store, registry);
      const langConfig = catalogOf(lang.graph)['lang']?.config ?? {};
      const taskConfig = catalogOf(task.graph)['task']?.config ?? {};
      const { graph } = applyPlacements(pre.graph, [{ adapter: Stack(adapter(bottleneck, 'lang', langConfig), adapter(bottleneck, 'task', taskConfig)) }], registry);
      await check('stack', graph, pre.store, pre.graph);
    } finally {
      pre.store.dispose();
    }
  });

  test('fuse (Fuse(a, b), dynamic fusion config, save_adapter_fusion)', async () => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const registry = createRegistry([bottleneck]);
      const a = await loadAdapter(join(FIXTURES, 'fuse', 'a'), pre.graph, pre.store, registry);
      const b = await loadAdapter(join(FIXTURES, 'fuse', 'b'), pre.graph, pre.store, registry);
      const { graph } = await loadFusion(join(FIXTURES, 'fuse', 'fusion'), pre.graph, pre.store, registry, { graphs: [a.graph, b.graph] });
      await check('fuse', graph, pre.store, pre.graph);
    } finally {
      pre.store.dispose();
    }
  });

  test('seq_bn_inv (SeqBnInvConfig: NICE invertible adapter on the embeddings + seq_bn)', async () => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const model = await loadLanguageAdapter(join(FIXTURES, 'seq_bn_inv', 'adapter'), pre.graph, pre.store);
      await check('seq_bn_inv', model.graph, pre.store, pre.graph);
    } finally {
      pre.store.dispose();
    }
  });

  // The other direction: the checkpoint-key hooks name every tensor as AdapterHub did (invertible_adapters.NAME,
  // adapter_fusion_layer.NAME), bit for bit, and the configs carry AdapterHub's values (and its JSON floats).
  test('seq_bn_inv: saveLanguageAdapter writes what AdapterHub wrote', async () => {
    const pre = await loadPretrained(BASE_DIR);
    const dir = await mkdtemp(join(tmpdir(), 'parity-inv-'));
    try {
      const model = await loadLanguageAdapter(join(FIXTURES, 'seq_bn_inv', 'adapter'), pre.graph, pre.store);
      await saveLanguageAdapter(dir, model.graph, pre.store, 'a');
      await expectSameFiles(dir, join(FIXTURES, 'seq_bn_inv', 'adapter'));
    } finally {
      pre.store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('fuse: saveFusion writes what AdapterHub wrote', async () => {
    const pre = await loadPretrained(BASE_DIR);
    const dir = await mkdtemp(join(tmpdir(), 'parity-fuse-'));
    try {
      const registry = createRegistry([bottleneck]);
      const a = await loadAdapter(join(FIXTURES, 'fuse', 'a'), pre.graph, pre.store, registry);
      const b = await loadAdapter(join(FIXTURES, 'fuse', 'b'), pre.graph, pre.store, registry);
      const { graph, name } = await loadFusion(join(FIXTURES, 'fuse', 'fusion'), pre.graph, pre.store, registry, { graphs: [a.graph, b.graph] });
      await saveFusion(dir, graph, pre.store, name, { layers: false });
      const ours = (await readSafetensorsFile(join(dir, FUSION_WEIGHTS_FILE))).tensors;
      const hub = (await readSafetensorsFile(join(FIXTURES, 'fuse', 'fusion', FUSION_WEIGHTS_FILE))).tensors;
      expect([...ours.keys()].sort()).toEqual([...hub.keys()].sort());
      for (const [k, t] of hub) {
        expect([k, ours.get(k)?.shape]).toEqual([k, t.shape]);
        expect(Buffer.from(Float32Array.from(ours.get(k)?.values ?? []).buffer).equals(Buffer.from(Float32Array.from(t.values).buffer))).toBe(true);
      }
      const ourConfig = JSON.parse(await readFile(join(dir, FUSION_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
      const hubConfig = JSON.parse(await readFile(join(FIXTURES, 'fuse', 'fusion', FUSION_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
      for (const k of ['adapter_names', 'config', 'hidden_size', 'model_class', 'model_type', 'name']) expect([k, ourConfig[k]]).toEqual([k, hubConfig[k]]);
    } finally {
      pre.store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  // AdapterHub files saved from a bare BertModel have no `bert.` key prefix; loadAdapter accepts them, and so must these.
  test('fuse from files without the bert. prefix (a bare BertModel saved them)', async () => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const registry = createRegistry([bottleneck]);
      const [aDir, bDir, fusionDir] = await Promise.all(['a', 'b', 'fusion'].map((d) => barePrefixCopy(join(FIXTURES, 'fuse', d))));
      const a = await loadAdapter(aDir as string, pre.graph, pre.store, registry);
      const b = await loadAdapter(bDir as string, pre.graph, pre.store, registry);
      const { graph } = await loadFusion(fusionDir as string, pre.graph, pre.store, registry, { graphs: [a.graph, b.graph] });
      await check('fuse', graph, pre.store, pre.graph);
    } finally {
      pre.store.dispose();
    }
  });

  test('seq_bn_inv from files without the bert. prefix (a bare BertModel saved them)', async () => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const model = await loadLanguageAdapter(await barePrefixCopy(join(FIXTURES, 'seq_bn_inv', 'adapter')), pre.graph, pre.store);
      await check('seq_bn_inv', model.graph, pre.store, pre.graph);
    } finally {
      pre.store.dispose();
    }
  });
});

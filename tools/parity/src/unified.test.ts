// Parity for ConfigUnion: AdapterHub `adapters` 1.3.0 MAMConfig and UniPELTConfig (union adapters, every tensor
// re-drawn) read with loadAdapter, the outputs compared, and our saveAdapter's files compared with AdapterHub's (the
// other direction, AdapterHub loading ours, is check_ts_saved.py). AdapterHub cannot save a prefix pool as
// safetensors, so make_fixtures.py wrote the pickle's tensors as adapter.safetensors minus the per-layer copies of the
// pool (see fixtures/mam/meta.json `saved_keys`). presets.json holds MAMConfig().to_dict() / UniPELTConfig().to_dict().
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterCatalog } from '@adapters/core-graph';
import { adapter, applyPlacements, buildEncoder, configUnion, createRegistry, loadAdapter, loadPretrained, readSafetensorsFile, saveAdapter, WeightStore } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { BASE_DIR, compare, exportDir, FIXTURES, maxRelErr, referenceOutputs, run, TOLERANCE, useBackend } from './harness';

const errors: Record<string, Record<string, number>> = {};
beforeAll(useBackend);
afterAll(() => {
  for (const [method, e] of Object.entries(errors)) console.log(`parity ${method}: ${Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

// bottleneck first: its fromHubConfig must leave `architecture: "lora"` / `"prefix_tuning"` configs to the others.
const registry = createRegistry([bottleneck, lora, prefixTuning, configUnion]);
const METHODS = [
  { method: 'mam', about: 'MAMConfig(prefix bottleneck 24) + ParBnConfig()' },
  { method: 'unipelt', about: 'UniPELTConfig: gated prefix (10, bottleneck 24), gated seq_bn rf 16, gated LoRA r 8 alpha 2' },
];

describe('ConfigUnion parity with AdapterHub adapters 1.3.0', () => {
  test.each(METHODS)('$method ($about): outputs and parameter count', async ({ method }) => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const loaded = await loadAdapter(join(FIXTURES, method, 'adapter'), pre.graph, pre.store, registry);
      const entry = (loaded.graph.meta['adapters'] as AdapterCatalog)['a'];
      expect(entry?.plugin).toBe('union');
      const ref = await referenceOutputs(method);
      errors[method] = compare(await run(loaded.graph, pre.store, ['last_hidden_state']), ref, { last_hidden_state: 'last_hidden_state' });
      for (const e of Object.values(errors[method])) expect(e).toBeLessThanOrEqual(TOLERANCE);
      const plain = await run(pre.graph, pre.store, ['last_hidden_state']);
      expect(maxRelErr(plain['last_hidden_state'] as Float32Array, ref.get('last_hidden_state')?.values ?? [])).toBeGreaterThan(1e-2);
      // The same number of parameters as AdapterHub's model (named_parameters of the union's modules).
      const meta = JSON.parse(await readFile(join(FIXTURES, method, 'meta.json'), 'utf8')) as { parameters: number };
      const ours = [...loaded.graph.params.values()].filter((p) => p.owner === 'adapter:a').reduce((n, p) => n + p.shape.reduce((x, y) => x * y, 1), 0);
      expect(ours).toBe(meta.parameters);
    } finally {
      pre.store.dispose();
    }
  });

  test.each(METHODS.map((m) => m.method))('%s: saveAdapter writes what AdapterHub wrote', async (method) => {
    const pre = await loadPretrained(BASE_DIR);
    const dir = exportDir(method) ?? (await mkdtemp(join(tmpdir(), 'parity-')));
    try {
      const loaded = await loadAdapter(join(FIXTURES, method, 'adapter'), pre.graph, pre.store, registry);
      await saveAdapter(dir, loaded.graph, pre.store, 'a', { registry });
      // Tensors bit for bit under AdapterHub's names, nothing added (expectSameFiles' config check wants equal
      // components; ours carry extra fields AdapterHub ignores, checked field by field below).
      const a = (await readSafetensorsFile(join(dir, 'adapter.safetensors'))).tensors;
      const b = (await readSafetensorsFile(join(FIXTURES, method, 'adapter', 'adapter.safetensors'))).tensors;
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      for (const [k, t] of b) {
        const mine = a.get(k);
        expect([k, mine?.shape]).toEqual([k, t.shape]);
        expect(Buffer.from(Float32Array.from(mine?.values ?? []).buffer).equals(Buffer.from(Float32Array.from(t.values).buffer))).toBe(true);
      }
      const component = async (d: string) => (JSON.parse(await readFile(join(d, 'adapter_config.json'), 'utf8')) as { config: { configs: Record<string, unknown>[] } }).config.configs;
      const [ours, theirs] = [await component(dir), await component(join(FIXTURES, method, 'adapter'))];
      expect(ours.length).toBe(theirs.length);
      // Every field AdapterHub wrote for each component, with the same value (our own extra fields are allowed).
      theirs.forEach((c, i) => {
        for (const [k, v] of Object.entries(c)) expect([i, k, ours[i]?.[k]]).toEqual([i, k, v]);
      });
      // Floats stay floats (AdapterHub reads a numeric `scaling` only as a Python float).
      const text = await readFile(join(dir, 'adapter_config.json'), 'utf8');
      if (method === 'mam') expect(text).toMatch(/"scaling": 4\.0/);
    } finally {
      pre.store.dispose();
      if (!exportDir(method)) await rm(dir, { recursive: true, force: true });
    }
  });

  test.each(['mam', 'unipelt'])('preset %s resolves to AdapterHub\'s MAMConfig() / UniPELTConfig() to_dict(), field for field', async (preset) => {
    const presets = JSON.parse(await readFile(join(FIXTURES, 'presets', 'presets.json'), 'utf8')) as Record<string, { architecture: string; configs: Record<string, unknown>[] }>;
    const want = presets[preset];
    if (!want) throw new Error(`presets.json has no ${preset}`);
    // The preset's hub config, as saveAdapter writes it, on a model shaped like the fixtures' BERT.
    const base = buildEncoder({ vocabSize: 100, hiddenSize: 32, numLayers: 2, numHeads: 4, intermediateSize: 64, maxPositions: 64 });
    const { graph } = applyPlacements(base, [{ adapter: adapter('union', 'p', { config: preset }) }], registry);
    const store = WeightStore.create(graph, 1);
    const dir = await mkdtemp(join(tmpdir(), 'parity-preset-'));
    try {
      await saveAdapter(dir, graph, store, 'p', { registry });
      const saved = (JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { config: { architecture: string; configs: Record<string, unknown>[] } }).config;
      expect(saved.architecture).toBe(want.architecture);
      expect(saved.configs.length).toBe(want.configs.length);
      want.configs.forEach((c, i) => {
        for (const [k, v] of Object.entries(c)) expect([i, k, saved.configs[i]?.[k]]).toEqual([i, k, v]);
      });
    } finally {
      store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

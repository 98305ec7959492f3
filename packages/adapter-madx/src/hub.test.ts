// Saving a language adapter writes its invertible block with it, under AdapterHub's key names; loading restores
// both bit for bit, into a fresh model or in place of another language's adapter.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterCheckpointKeysOf, createRegistry, encodeSafetensors, GraphError, readSafetensorsFile, saveAdapter, WeightStore, writeFileAtomic } from '@adapters/core-graph';
import { buildMadx } from './madx';
import { bottleneckInv } from './plugin';
import { loadLanguageAdapter, readLanguageAdapter, saveLanguageAdapter } from './hub';
import { baseStore, bitEqual, changedKeys, FEEDS, randomize, runValues, tinyBase } from './__tests__/helpers';

const base = tinyBase();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'madx-io-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function trainedEnglish() {
  const model = buildMadx(base, { language: 'en' });
  const { store } = baseStore(model.graph, 8);
  randomize(model.graph, store, 'adapter:en', 21);
  return { model, store };
}

describe('saveLanguageAdapter / loadLanguageAdapter', () => {
  test("the file holds the bottleneck and the invertible tensors under AdapterHub's keys and a SeqBnInvConfig", async () => {
    const { model, store } = trainedEnglish();
    await saveLanguageAdapter(dir, model.graph, store, 'en');
    const { tensors } = await readSafetensorsFile(join(dir, ADAPTER_WEIGHTS_FILE));
    const keys = [...tensors.keys()].sort();
    expect(keys.filter((k) => k.startsWith('bert.invertible_adapters.en.'))).toEqual(
      ['F', 'G'].flatMap((m) => ['0.bias', '0.weight', '2.bias', '2.weight'].map((p) => `bert.invertible_adapters.en.${m}.${p}`)),
    );
    expect(keys).toContain('bert.encoder.layer.1.output.adapters.en.adapter_down.0.weight');
    expect(keys.length).toBe([...model.graph.params.values()].filter((p) => p.owner === 'adapter:en').length);
    // nn.Linear layout [out, in]: F.0 maps e2 (8) to 4 hidden units.
    expect(tensors.get('bert.invertible_adapters.en.F.0.weight')?.shape).toEqual([4, 8]);
    const saved = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG_FILE), 'utf8')) as { name: string; plugin: string; config: Record<string, unknown> };
    expect(saved.name).toBe('en');
    expect(saved.plugin).toBe('bottleneck_inv');
    expect(saved.config).toMatchObject({
      architecture: 'bottleneck', mh_adapter: false, output_adapter: true, reduction_factor: 2, non_linearity: 'relu',
      original_ln_before: true, original_ln_after: true, residual_before_ln: true, inv_adapter: 'nice', inv_adapter_reduction_factor: 2,
    });
    expect(saved.config).not.toHaveProperty('config');
    // AdapterHub accepts a numeric `scaling` only as a Python float.
    expect(readFileSync(join(dir, ADAPTER_CONFIG_FILE), 'utf8')).toContain('"scaling": 1.0,');
    // The plugin's checkpointKeys hook names the invertible tensors: without the plugin, core cannot.
    await expect(saveAdapter(join(dir, 'core'), model.graph, store, 'en')).rejects.toThrow(/declares no checkpointKeys/);
    await saveAdapter(join(dir, 'core'), model.graph, store, 'en', { registry: createRegistry([bottleneckInv]) });
    const viaCore = await readSafetensorsFile(join(dir, 'core', ADAPTER_WEIGHTS_FILE));
    const ours = await readSafetensorsFile(join(dir, ADAPTER_WEIGHTS_FILE));
    expect([...viaCore.tensors.keys()].sort()).toEqual([...ours.tensors.keys()].sort());
    expect([...ours.tensors.keys()].filter((k) => k.startsWith('bert.invertible_adapters.en.')).length).toBe(8);
    store.dispose();
  });

  test('save → load into a fresh store restores every language-adapter tensor (invertible included) and the outputs bit for bit', async () => {
    const { model, store } = trainedEnglish();
    await saveLanguageAdapter(dir, model.graph, store, 'en');
    const expected = runValues(model.graph, store, FEEDS, { outputs: ['mlm.logits'] });
    const { store: fresh } = baseStore(base, 8);
    const loaded = await loadLanguageAdapter(dir, base, fresh);
    expect(loaded.spec.language).toBe('en');
    expect(loaded.graph.equals(model.graph)).toBe(true);
    for (const p of model.graph.params.values()) {
      if (p.owner === 'adapter:en') expect(bitEqual(fresh.get(p.key).dataSync(), store.get(p.key).dataSync())).toBe(true);
    }
    expect(bitEqual(runValues(loaded.graph, fresh, FEEDS, { outputs: ['mlm.logits'] })['mlm.logits'] as Float32Array, expected['mlm.logits'] as Float32Array)).toBe(true);
    store.dispose();
    fresh.dispose();
  });

  test('loading into a MAD-X model swaps the language adapter (renamed with `as`) and leaves the task adapter untouched', async () => {
    const { model, store } = trainedEnglish();
    await saveLanguageAdapter(dir, model.graph, store, 'en');
    const english = buildMadx(base, { language: 'en', task: 'pos' });
    store.sync(english.graph, 3);
    randomize(english.graph, store, 'adapter:pos', 22);
    const before = store.snapshot();
    const german = await loadLanguageAdapter(dir, english, store, { as: 'de' });
    expect(german.spec).toMatchObject({ language: 'de', task: 'pos' });
    const changed = changedKeys(before, store.snapshot());
    expect(changed).toEqual([...german.graph.params.values()].filter((p) => p.owner === 'adapter:de').map((p) => p.key).sort());
    for (const k of changed) expect(bitEqual(store.get(k).dataSync(), store.get(k.replace(/\bde\b/, 'en')).dataSync())).toBe(true);
    expect(adapterCheckpointKeysOf(german.graph, 'invertible_adapters.de.G.2.bias', 'de', { plugin: bottleneckInv, as: 'x' })).toEqual(['bert.invertible_adapters.x.G.2.bias']);
    store.dispose();
  });

  test('a file without the invertible tensors is an error naming the missing key, and the store is unchanged', async () => {
    const { model, store } = trainedEnglish();
    await saveLanguageAdapter(dir, model.graph, store, 'en');
    const file = join(dir, ADAPTER_WEIGHTS_FILE);
    const { tensors } = await readSafetensorsFile(file);
    const kept: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
    for (const [k, t] of tensors) if (!k.includes('invertible_adapters')) kept[k] = { dtype: 'F32', shape: [...t.shape], values: Float32Array.from(t.values) };
    await writeFileAtomic(file, encodeSafetensors(kept, { format: 'pt' }));
    const fresh = new WeightStore();
    fresh.sync(base, 8);
    const before = fresh.snapshot();
    await expect(loadLanguageAdapter(dir, base, fresh)).rejects.toThrow(GraphError);
    await expect(loadLanguageAdapter(dir, base, fresh)).rejects.toThrow(/missing tensor 'bert\.invertible_adapters\.en\.F\.0\.weight'/);
    expect(changedKeys(before, fresh.snapshot())).toEqual([]);
    await expect(readLanguageAdapter(join(dir, 'nope'))).rejects.toThrow(/cannot read/);
    store.dispose();
    fresh.dispose();
  });
});

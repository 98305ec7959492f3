import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, readSafetensorsFile, WeightStore } from '@adapters/core-graph';
import type { FusionConfigInput } from './index';
import { FUSION_CONFIG_FILE, FUSION_WEIGHTS_FILE, fusionCatalog, fusionTemperature, loadFusion, saveFusion, setFusionTemperature } from './index';
import { assignValues, baseGraph, bitEqual, D, fusedGraph, randomValues, registry, run, seqBn } from './__tests__/helpers';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fusion-io-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function trainedLike(names: string[], config: FusionConfigInput = 'dynamic') {
  const base = baseGraph();
  const graph = fusedGraph(base, names, config);
  const store = WeightStore.create(graph, 4);
  for (const p of graph.params.values()) if (p.owner.startsWith('fusion:')) assignValues(store, p.key, randomValues(store.get(p.key).size, p.key.length, 0.3));
  return { base, graph, store };
}

describe('save / load in AdapterHub layout', () => {
  test('file names, config fields and tensor keys are AdapterHub’s; kernels are written [out, in]', async () => {
    const { graph, store } = trainedLike(['a', 'b']);
    await saveFusion(dir, graph, store, 'a,b');
    expect((await readdir(dir)).sort()).toEqual([FUSION_CONFIG_FILE, FUSION_WEIGHTS_FILE]);
    expect(FUSION_CONFIG_FILE).toBe('adapter_fusion_config.json');
    expect(FUSION_WEIGHTS_FILE).toBe('model_adapter_fusion.safetensors');
    const config = JSON.parse(await readFile(join(dir, FUSION_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
    expect(config['name']).toBe('a,b');
    expect(config['adapter_names']).toEqual(['a', 'b']);
    expect(config['model_type']).toBe('bert');
    expect(config['hidden_size']).toBe(D);
    expect(config['config']).toEqual({
      key: true, query: true, value: true, query_before_ln: false, regularization: true, residual_before: false,
      temperature: false, value_before_softmax: true, value_initialized: true, dropout_prob: null,
    });
    const { tensors } = await readSafetensorsFile(join(dir, FUSION_WEIGHTS_FILE));
    const keys = [...tensors.keys()].sort();
    expect(keys).toEqual(
      [0, 1].flatMap((i) => ['key.bias', 'key.weight', 'query.bias', 'query.weight', 'value.weight'].map((l) => `bert.encoder.layer.${i}.output.adapter_fusion_layer.a,b.${l}`)).sort(),
    );
    const site = fusionCatalog(graph)['a,b']?.sites['layer.0.ffn'];
    const ours = store.get(site?.params['query.weight'] as string).dataSync();
    const saved = tensors.get('bert.encoder.layer.0.output.adapter_fusion_layer.a,b.query.weight');
    expect(saved?.shape).toEqual([D, D]);
    // PyTorch layout: saved[out][in] = ours[in][out].
    expect(saved?.values[1 * D + 2]).toBe(ours[2 * D + 1]);
    store.dispose();
  });

  test('save → load round trip is exact (weights and outputs), also under another name', async () => {
    const { base, graph, store } = trainedLike(['a', 'b', 'c']);
    const expected = run(graph, store);
    const savedWeights = store.snapshot([...graph.params.values()].filter((p) => p.owner === 'fusion:a,b,c').map((p) => p.key));
    await saveFusion(dir, graph, store, 'a,b,c');
    // Scramble the fusion weights, then load them back.
    for (const key of savedWeights.keys()) assignValues(store, key, randomValues(store.get(key).size, 99, 1));
    const loaded = await loadFusion(dir, base, store, registry, { graphs: [graph] });
    expect(loaded.name).toBe('a,b,c');
    expect(loaded.graph.fingerprint()).toBe(graph.fingerprint());
    for (const [key, values] of savedWeights) expect(bitEqual(store.get(key).dataSync(), values)).toBe(true);
    const got = run(loaded.graph, store);
    for (const k of Object.keys(expected)) expect(bitEqual(got[k] as Float32Array, expected[k] as Float32Array)).toBe(true);

    // Renamed: a new fusion owner and keys, same numbers.
    const renamed = await loadFusion(dir, base, store, registry, { adapters: ['a', 'b', 'c'].map((n) => seqBn(n)), as: 'abc' });
    expect(Object.keys(fusionCatalog(renamed.graph))).toEqual(['abc']);
    const again = run(renamed.graph, store);
    expect(bitEqual(again['tgt.logits'] as Float32Array, expected['tgt.logits'] as Float32Array)).toBe(true);
    store.dispose();
  });

  test('temperature: the annealed T is saved with the fusion and restored exactly (outputs bit for bit); bad values are refused', async () => {
    const { base, graph, store } = trainedLike(['a', 'b'], { config: 'dynamic', temperature: true });
    setFusionTemperature(store, 'a,b', 12.5);
    const expected = run(graph, store);
    await saveFusion(dir, graph, store, 'a,b');
    const config = JSON.parse(await readFile(join(dir, FUSION_CONFIG_FILE), 'utf8')) as Record<string, unknown>;
    expect(config['temperature']).toBe(12.5);
    // The safetensors file stays AdapterHub's: T is not a tensor there.
    const { tensors } = await readSafetensorsFile(join(dir, FUSION_WEIGHTS_FILE));
    expect([...tensors.keys()].some((k) => k.includes('temperature'))).toBe(false);

    // Into a fresh store (T starts at 50 there), and into the old one with T moved.
    const fresh = WeightStore.create(graph, 5);
    for (const key of store.keys()) if (!key.endsWith('.temperature')) assignValues(fresh, key, store.get(key).dataSync());
    expect(fusionTemperature(fresh, 'a,b')).toBe(50);
    const loaded = await loadFusion(dir, base, fresh, registry, { graphs: [graph] });
    expect(fusionTemperature(fresh, 'a,b')).toBe(12.5);
    const got = run(loaded.graph, fresh);
    for (const k of Object.keys(expected)) expect(bitEqual(got[k] as Float32Array, expected[k] as Float32Array)).toBe(true);

    setFusionTemperature(store, 'a,b', 3);
    await loadFusion(dir, base, store, registry, { graphs: [graph] });
    expect(fusionTemperature(store, 'a,b')).toBe(12.5);

    for (const bad of [0, -1, 'hot']) {
      await writeFile(join(dir, FUSION_CONFIG_FILE), JSON.stringify({ ...config, temperature: bad }));
      setFusionTemperature(store, 'a,b', 3);
      await expect(loadFusion(dir, base, store, registry, { graphs: [graph] })).rejects.toThrow(/temperature: must be a positive number/);
      expect(fusionTemperature(store, 'a,b')).toBe(3);
    }
    await writeFile(join(dir, FUSION_CONFIG_FILE), JSON.stringify({ ...config, config: { ...(config['config'] as object), temperature: false } }));
    await expect(loadFusion(dir, base, store, registry, { graphs: [graph] })).rejects.toThrow(/temperature: is set, but the fusion config has temperature: false/);
    fresh.dispose();
    store.dispose();
  });

  test('load errors: unexpected tensors, missing adapters, adapters not given', async () => {
    const { base, graph, store } = trainedLike(['a', 'b'], 'static');
    await saveFusion(dir, graph, store, 'a,b');
    const other = WeightStore.create(base, 0);
    await expect(loadFusion(dir, base, other, registry, { graphs: [graph] })).rejects.toThrow(/load the fused adapters \(a, b\) first/);
    await expect(loadFusion(dir, base, store, registry, { adapters: [seqBn('a')] })).rejects.toThrow(/adapter 'b' was not given/);
    const { tensors } = await readSafetensorsFile(join(dir, FUSION_WEIGHTS_FILE));
    const record: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
    for (const [k, t] of tensors) record[k] = { dtype: 'F32', shape: [...t.shape], values: Float32Array.from(t.values) };
    record['bert.encoder.layer.0.output.adapter_fusion_layer.a,b.value.weight'] = { dtype: 'F32', shape: [D, D], values: new Float32Array(D * D) };
    await writeFile(join(dir, FUSION_WEIGHTS_FILE), encodeSafetensors(record, { format: 'pt' }));
    const before = store.snapshot();
    await expect(loadFusion(dir, base, store, registry, { graphs: [graph] })).rejects.toThrow(/unexpected tensor '.*value\.weight'/);
    for (const [k, v] of before) expect(bitEqual(store.get(k).dataSync(), v)).toBe(true);
    other.dispose();
    store.dispose();
  });
});

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeightStore } from '../exec/weights';
import { encodeSafetensors } from '../io/safetensors';
import { buildEncoder } from '../model/encoder';
import { exportToCheckpoint } from './hf-keys';
import { loadPretrained, readHfConfig } from './load-pretrained';

const tiny = { vocab_size: 20, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 12, type_vocab_size: 2, model_type: 'bert', hidden_act: 'gelu' };

async function tinyModelDir(edit?: (t: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }>) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pretrained-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(tiny));
  const graph = buildEncoder({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 12 });
  const store = WeightStore.create(graph, 5);
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const [k, t] of exportToCheckpoint(graph, store)) tensors[k] = { dtype: 'F32', shape: t.shape, values: t.values };
  store.dispose();
  edit?.(tensors);
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  return dir;
}

describe('loadPretrained', () => {
  test('round trip through a checkpoint directory reproduces the weights', async () => {
    const dir = await tinyModelDir();
    const { graph, store } = await loadPretrained(dir);
    const original = WeightStore.create(graph, 5);
    for (const k of graph.params.keys()) expect(store.get(k).dataSync()).toEqual(original.get(k).dataSync());
    store.dispose();
    original.dispose();
  });

  test('a corrupted config.json is a clear error naming the file', async () => {
    const dir = await tinyModelDir();
    await writeFile(join(dir, 'config.json'), '{ "model_type": "bert", ');
    await expect(readHfConfig(dir)).rejects.toThrow(/config\.json: is not valid JSON/);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...tiny, model_type: 'gpt2' }));
    await expect(loadPretrained(dir)).rejects.toThrow(/model_type: unsupported architecture "gpt2"/);
  });

  test('a missing key or a wrong shape names the key and both shapes', async () => {
    const missing = await tinyModelDir((t) => delete t['bert.encoder.layer.0.output.dense.weight']);
    await expect(loadPretrained(missing)).rejects.toThrow(/missing tensor 'bert\.encoder\.layer\.0\.output\.dense\.weight'.*\[16, 8\]/);
    const wrong = await tinyModelDir((t) => {
      t['bert.embeddings.word_embeddings.weight'] = { dtype: 'F32', shape: [21, 8], values: new Float32Array(168) };
    });
    await expect(loadPretrained(wrong)).rejects.toThrow(/config\.json: vocab_size: is 20 but .*model\.safetensors has embeddings\.word_embeddings\.weight with 21 rows/);
    const wrongLayer = await tinyModelDir((t) => {
      t['bert.encoder.layer.0.output.dense.weight'] = { dtype: 'F32', shape: [8, 15], values: new Float32Array(120) };
    });
    await expect(loadPretrained(wrongLayer)).rejects.toThrow(/'bert\.encoder\.layer\.0\.output\.dense\.weight' has shape \[8, 15\], the model expects \[8, 16\]/);
  });

  test('config.json sizes the checkpoint lacks are refused before the graph is built (issue 18 item 2)', async () => {
    const dir = await tinyModelDir();
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...tiny, num_hidden_layers: 1000000 }));
    const started = Date.now();
    await expect(loadPretrained(dir)).rejects.toMatchObject({ code: 'E_CHECKPOINT_MISMATCH', path: expect.stringMatching(/config\.json: num_hidden_layers$/) });
    expect(Date.now() - started).toBeLessThan(5000); // before the fix: heap exhaustion after ~1 minute
    for (const [field, value] of [['max_position_embeddings', 4096], ['intermediate_size', 64], ['type_vocab_size', 3], ['hidden_size', 16]] as const) {
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...tiny, [field]: value }));
      await expect(loadPretrained(dir)).rejects.toMatchObject({ path: expect.stringMatching(new RegExp(`config\\.json: ${field === 'hidden_size' ? '(hidden_size|num_attention_heads)' : field}$`)) });
    }
  });

  test('NaN / Infinity weights are refused unless allowNonFinite is passed (issue 18 item 10)', async () => {
    const dir = await tinyModelDir((t) => {
      const w = t['bert.encoder.layer.0.output.dense.bias']!;
      w.values[3] = Number.NaN;
    });
    await expect(loadPretrained(dir)).rejects.toMatchObject({ code: 'E_NON_FINITE_WEIGHTS', message: expect.stringMatching(/'bert\.encoder\.layer\.0\.output\.dense\.bias' holds NaN at index 3/) });
    const { store, graph } = await loadPretrained(dir, { allowNonFinite: true });
    expect(Number.isNaN(store.get('encoder.layer.0.output.dense.bias').dataSync()[3])).toBe(true);
    expect(graph.params.size).toBeGreaterThan(0);
    store.dispose();
  });

  test('a truncated model.safetensors is a clear error naming the file', async () => {
    const dir = await tinyModelDir();
    const bytes = await readFile(join(dir, 'model.safetensors'));
    await writeFile(join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 10));
    await expect(loadPretrained(dir)).rejects.toThrow(/model\.safetensors/);
  });
});


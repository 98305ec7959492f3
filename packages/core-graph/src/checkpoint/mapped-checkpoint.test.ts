import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { MappedWeights, WeightMapper } from '../backend/weight-mapper';
import { MAP_WEIGHTS_ENV, MIN_MAPPED_BYTES, setWeightMapper } from '../backend/weight-mapper';
import { WeightStore } from '../exec/weights';
import { encodeSafetensors } from '../io/safetensors';
import { buildEncoder } from '../model/encoder';
import { exportToCheckpoint } from './hf-keys';
import { loadPretrained } from './load-pretrained';

// Sizes where the FFN matrices and the word embeddings pass MIN_MAPPED_BYTES and the attention matrices do not.
const sizes = { vocabSize: 300, hiddenSize: 64, numLayers: 2, numHeads: 4, intermediateSize: 256, maxPositions: 16 };
const config = { vocab_size: 300, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, max_position_embeddings: 16, type_vocab_size: 2, model_type: 'bert', hidden_act: 'gelu' };

type Tensors = Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }>;

async function modelDir(edit?: (t: Tensors) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mapped-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const graph = buildEncoder(sizes);
  const store = WeightStore.create(graph, 9);
  const tensors: Tensors = {};
  for (const [k, t] of exportToCheckpoint(graph, store)) tensors[k] = { dtype: 'F32', shape: t.shape, values: t.values };
  store.dispose();
  edit?.(tensors);
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  return dir;
}

/** A mapper in plain JS (a synchronous read stands in for mmap): records each request and undoes a stored transpose. */
function syncMapper(calls: Array<{ byteOffset: number; shape: number[]; transposed: boolean }>): WeightMapper {
  return {
    map(path): MappedWeights {
      const bytes = new Uint8Array(readFileSync(path)); // a copy at offset 0, like a mapping's view
      return {
        path,
        bytes,
        tensor(byteOffset, shape, storedTransposed = false) {
          calls.push({ byteOffset, shape: [...shape], transposed: storedTransposed });
          const count = shape.reduce((p, d) => p * d, 1);
          const stored = new Float32Array(bytes.buffer.slice(byteOffset, byteOffset + count * 4));
          if (!storedTransposed) return tf.tensor(stored, [...shape]);
          const [r, c] = shape as [number, number];
          const out = new Float32Array(count);
          for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[i * c + j] = stored[j * r + i]!;
          return tf.tensor(out, [r, c]);
        },
      };
    },
  };
}

describe('loadPretrained with a WeightMapper (base weights mapped, not copied)', () => {
  afterEach(() => setWeightMapper(undefined));

  test('maps exactly the float32 matrices of at least MIN_MAPPED_BYTES, kernels stored transposed, with the same values', async () => {
    const dir = await modelDir();
    const copied = await loadPretrained(dir);
    const calls: Array<{ byteOffset: number; shape: number[]; transposed: boolean }> = [];
    setWeightMapper(syncMapper(calls));
    const mapped = await loadPretrained(dir);
    const big = [...mapped.graph.params.values()].filter((p) => p.owner === 'base' && p.shape.length === 2 && p.shape.reduce((a, d) => a * d, 4) >= MIN_MAPPED_BYTES);
    expect(big.length).toBe(1 + 2 * 2); // word embeddings + each layer's two FFN matrices
    expect(calls.length).toBe(big.length);
    expect(calls.filter((c) => c.transposed).length).toBe(4);
    expect(mapped.mapped).toEqual({ file: join(dir, 'model.safetensors'), tensors: 5, bytes: big.reduce((s, p) => s + p.shape.reduce((a, d) => a * d, 4), 0) });
    for (const k of copied.graph.params.keys()) expect(mapped.store.get(k).dataSync()).toEqual(copied.store.get(k).dataSync());
    copied.store.dispose();
    mapped.store.dispose();
  });

  test('mapWeights: false and ADAPTERS_MAP_WEIGHTS=0 copy every weight', async () => {
    const dir = await modelDir();
    const calls: Array<{ byteOffset: number; shape: number[]; transposed: boolean }> = [];
    setWeightMapper(syncMapper(calls));
    const off = await loadPretrained(dir, { mapWeights: false });
    expect(off.mapped).toBeUndefined();
    process.env[MAP_WEIGHTS_ENV] = '0';
    try {
      const envOff = await loadPretrained(dir);
      expect(envOff.mapped).toBeUndefined();
      envOff.store.dispose();
    } finally {
      delete process.env[MAP_WEIGHTS_ENV];
    }
    expect(calls).toEqual([]);
    off.store.dispose();
  });

  test('a non-finite value in a mapped matrix is refused naming the key, and no tensor is left behind', async () => {
    const dir = await modelDir((t) => {
      t['bert.encoder.layer.1.output.dense.weight']!.values[77] = Number.NaN;
    });
    const calls: Array<{ byteOffset: number; shape: number[]; transposed: boolean }> = [];
    setWeightMapper(syncMapper(calls));
    const before = tf.memory().numTensors;
    await expect(loadPretrained(dir)).rejects.toThrow(/'bert\.encoder\.layer\.1\.output\.dense\.weight' holds NaN at index 77/);
    expect(calls).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

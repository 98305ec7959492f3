import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend/select-backend';
import { weightMapper } from '../backend/weight-mapper';
import { adapterPolicy, fullFineTunePolicy } from '../exec/policy';
import type { TrainPolicy } from '../exec/policy';
import { WeightStore } from '../exec/weights';
import { encodeSafetensors } from '../io/safetensors';
import { buildEncoder } from '../model/encoder';
import type { HeadSpec } from '../model/heads';
import type { TrainExample } from '../train/batches';
import { train } from '../train/trainer';
import { exportToCheckpoint } from './hf-keys';
import { loadPretrained } from './load-pretrained';

// The real thing: @adapters/backend-native maps model.safetensors and its kernels read the base in place. Training
// and evaluation must give the same weights as the copied base, and the mapped base must stay off the wasm heap.
const sizes = { vocabSize: 400, hiddenSize: 64, numLayers: 2, numHeads: 4, intermediateSize: 256, maxPositions: 24 };
const config = { vocab_size: 400, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, max_position_embeddings: 24, type_vocab_size: 2, model_type: 'bert', hidden_act: 'gelu' };
const head: HeadSpec = { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' };
const examples: TrainExample[] = Array.from({ length: 16 }, (_z, i) => ({
  inputIds: [1, ...Array.from({ length: 4 + (i % 7) }, (_y, j) => 5 + ((i * 13 + j * 7) % 390)), 2],
  label: i % 2,
}));

async function modelDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mapped-native-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const graph = buildEncoder(sizes);
  const store = WeightStore.create(graph, 3);
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const [k, t] of exportToCheckpoint(graph, store)) tensors[k] = { dtype: 'F32', shape: t.shape, values: t.values };
  store.dispose();
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  return dir;
}

/** backend-native's own counters (required at run time like selectBackend does: core-graph does not depend on it). */
function externalStats(): { tensors: number; bytes: number; copies: Record<string, number> } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@adapters/backend-native') as { externalStats(): { tensors: number; bytes: number; copies: Record<string, number> } }).externalStats();
}

async function trained(dir: string, mapWeights: boolean, policy: TrainPolicy): Promise<{ weights: Map<string, Float32Array>; mapped?: number }> {
  const pre = await loadPretrained(dir, { heads: [head], seed: 4, mapWeights });
  train({ graph: pre.graph, store: pre.store, output: 'task.logits', train: examples, eval: examples.slice(0, 6), policy, maxSteps: 3, batchSize: 8, seed: 2, evalEvery: 3 });
  const weights = new Map([...pre.graph.params.keys()].map((k) => [k, pre.store.get(k).dataSync() as Float32Array]));
  pre.store.dispose();
  return { weights, ...(pre.mapped ? { mapped: pre.mapped.tensors } : {}) };
}

describe('mapped base weights on the native kernels', () => {
  let native = false;
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    native = weightMapper() !== undefined;
    if (!native) console.log('skipping: @adapters/backend-native kernels are not enabled here');
  });

  it.each([['LayerNorms and head (frozen matrices)', adapterPolicy], ['full fine-tuning', fullFineTunePolicy]] as const)(
    '%s: weights after 3 steps equal the copied base within float32 reordering, with no copies of frozen weights', async (_name, policy) => {
      if (!native) return;
      const dir = await modelDir();
      const copied = await trained(dir, false, policy);
      const before = externalStats();
      const tensorsBefore = tf.memory().numTensors;
      const mapped = await trained(dir, true, policy);
      expect(mapped.mapped).toBe(1 + 2 * 2); // word embeddings and the two FFN matrices per layer
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(externalStats().tensors).toBe(before.tensors);
      if (policy === adapterPolicy) expect(externalStats().copies).toEqual(before.copies); // forward, backward, eval: all in place
      let worst = 0;
      for (const [k, v] of copied.weights) {
        const w = mapped.weights.get(k)!;
        for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i]! - w[i]!) / (Math.abs(v[i]!) + 1e-3));
      }
      // Products over a transposed operand may be packed differently: float32 reordering only (u·√k·3 steps ≪ 1e-4).
      expect(worst).toBeLessThan(1e-4);
    });

  it('keeps the mapped matrices off the wasm heap', async () => {
    if (!native) return;
    const dir = await modelDir();
    const pre = await loadPretrained(dir, { mapWeights: true });
    const stats = externalStats();
    expect(stats.bytes).toBeGreaterThanOrEqual(pre.mapped!.bytes);
    expect(pre.mapped!.bytes).toBe((400 * 64 + 2 * 2 * 64 * 256) * 4);
    pre.store.dispose();
    expect(externalStats().tensors).toBe(stats.tensors - pre.mapped!.tensors);
  });
});

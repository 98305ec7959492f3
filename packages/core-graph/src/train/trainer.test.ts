import * as tf from '@tensorflow/tfjs';
import { WeightStore } from '../exec/weights';
import { adapterPolicy, fullFineTunePolicy } from '../exec/policy';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import type { TrainExample } from './batches';
import { train } from './trainer';
import { mulberry32 } from '../exec/random';

const config = { vocabSize: 30, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16, hiddenDropout: 0.1, attentionDropout: 0.1 };

/** Label 1 iff token 5 occurs: separable, but only by looking at the tokens. */
function synthetic(count: number, seed: number): TrainExample[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const len = 3 + Math.floor(rand() * 5);
    const ids = Array.from({ length: len }, () => 6 + Math.floor(rand() * 20));
    const label = rand() < 0.5 ? 1 : 0;
    if (label === 1) ids[Math.floor(rand() * len)] = 5;
    return { inputIds: [1, ...ids, 2], label };
  });
}

const graph = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });

describe('train', () => {
  test('a tiny model learns a separable task to > 95% accuracy', () => {
    const store = WeightStore.create(graph, 3);
    const result = train({ graph, store, output: 'task.logits', train: synthetic(400, 1), eval: synthetic(200, 2), policy: fullFineTunePolicy, epochs: 8, batchSize: 16, learningRate: 3e-3, evalEvery: 50, seed: 7 });
    expect(result.best?.eval.accuracy).toBeGreaterThan(0.95);
    store.dispose();
  });

  test('only trainable tensors change, bit for bit; two runs with one seed are identical', () => {
    const runOnce = () => {
      const store = WeightStore.create(graph, 11);
      const before = store.snapshot();
      const result = train({ graph, store, output: 'task.logits', train: synthetic(64, 4), policy: adapterPolicy, maxSteps: 5, batchSize: 8, learningRate: 1e-2, seed: 5 });
      const after = store.snapshot();
      store.dispose();
      return { before, after, trainable: new Set(result.trainableKeys) };
    };
    const a = runOnce();
    for (const [key, values] of a.before) {
      const same = Buffer.from((a.after.get(key) as Float32Array).buffer).equals(Buffer.from(values.buffer));
      // adapterPolicy: base frozen except LayerNorms; the head trains.
      expect({ key, changed: !same }).toEqual({ key, changed: a.trainable.has(key) });
    }
    expect([...a.trainable].every((k) => k.startsWith('heads.') || k.endsWith('LayerNorm.weight') || k.endsWith('LayerNorm.bias'))).toBe(true);
    const b = runOnce();
    for (const [key, values] of a.after) expect(Buffer.from((b.after.get(key) as Float32Array).buffer).equals(Buffer.from(values.buffer))).toBe(true);
  });

  test('tensor count stays flat across steps', () => {
    const store = WeightStore.create(graph, 1);
    const run = (steps: number) => train({ graph, store, output: 'task.logits', train: synthetic(64, 9), maxSteps: steps, batchSize: 8, seed: 1 });
    run(1);
    const start = tf.memory().numTensors;
    run(6);
    expect(tf.memory().numTensors).toBe(start);
    store.dispose();
  });
});

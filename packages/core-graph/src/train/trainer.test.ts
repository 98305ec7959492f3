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
  test('a constants hook runs before each step with its seed and skipLayers; its values feed the step and are disposed after it', () => {
    const store = WeightStore.create(graph, 3);
    const boundary = graph.site('layer.0.output').exit;
    const calls: { step: number; seed: number; skipLayers: number }[] = [];
    const made: tf.Tensor[] = [];
    const result = train({
      graph, store, output: 'task.logits', train: synthetic(16, 3), policy: fullFineTunePolicy, epochs: 2, maxSteps: 3, batchSize: 8, seed: 9,
      skipLayers: (step) => step,
      constants: ({ executor, feeds, step, seed, skipLayers }) => {
        calls.push({ step, seed, skipLayers });
        // Layer 0's output, computed outside the tape: the step's forward must start from it.
        const value = executor.run(feeds, { nodes: [boundary], outputs: [], training: true, seed })[boundary] as tf.Tensor;
        made.push(value);
        return new Map([[boundary, value]]);
      },
    });
    const after = tf.memory().numTensors;
    expect(calls.map((c) => [c.step, c.skipLayers])).toEqual([[0, 0], [1, 1], [2, 2]]);
    expect(new Set(calls.map((c) => c.seed)).size).toBe(3);
    expect(made.every((t) => t.isDisposed)).toBe(true);
    // Layer 0 fed as a constant gets no gradient: its weights never move although the policy trains them.
    const layer0 = [...graph.params.values()].filter((p) => p.layer === 0).map((p) => p.key);
    const init = WeightStore.create(graph, 3);
    for (const k of layer0) expect(Array.from(store.get(k).dataSync())).toEqual(Array.from(init.get(k).dataSync()));
    expect(result.steps).toBe(3);
    init.dispose();
    // Nothing the hook made (or the steps allocated) outlives train(): one more run leaves the count unchanged.
    train({ graph, store, output: 'task.logits', train: synthetic(16, 3), policy: fullFineTunePolicy, maxSteps: 1, batchSize: 8, seed: 9, constants: ({ executor, feeds, seed }) => new Map([[boundary, executor.run(feeds, { nodes: [boundary], outputs: [], training: true, seed })[boundary] as tf.Tensor]]) });
    expect(tf.memory().numTensors).toBe(after);
    store.dispose();
  });

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

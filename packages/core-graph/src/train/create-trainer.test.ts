import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { Executor } from '../exec/executor';
import { fullFineTunePolicy } from '../exec/policy';
import { WeightStore } from '../exec/weights';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { disposeBatch, makeBatch } from './batches';
import { createTrainer } from './create-trainer';
import { crossEntropy } from './loss';

const config = { vocabSize: 30, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 16, hiddenDropout: 0.1, attentionDropout: 0.1 };
const graph = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });
const examples = [
  { inputIds: [1, 5, 6, 2], label: 0 },
  { inputIds: [1, 7, 8, 9, 2], label: 1 },
  { inputIds: [1, 10, 2], label: 1 },
];

function stepper(store: WeightStore) {
  const trainer = createTrainer({ store, graph, policy: fullFineTunePolicy, schedule: () => 1e-2 });
  const executor = new Executor(graph, store);
  const batch = makeBatch(examples, 0);
  const step = (i: number) => trainer.step(() => crossEntropy(executor.forward(batch.feeds, { outputs: ['task.logits'], training: true, seed: i })['task.logits'] as tf.Tensor, batch.labels));
  return { trainer, step, done: () => { trainer.dispose(); disposeBatch(batch); } };
}

describe('createTrainer', () => {
  test('step returns loss, gradient norm and lr; snapshot → more steps → restore → the same steps again are bit-identical (resume)', () => {
    const store = WeightStore.create(graph, 2);
    const { trainer, step, done } = stepper(store);
    const first = step(0);
    expect(first.step).toBe(1);
    expect(first.lr).toBe(1e-2);
    expect(Number.isFinite(first.loss) && first.gradNorm > 0).toBe(true);
    const saved = trainer.snapshot();
    const a = [step(1), step(2)];
    const weightsA = store.snapshot(trainer.trainableKeys);
    trainer.restore(saved);
    expect(trainer.steps).toBe(1);
    const b = [step(1), step(2)];
    expect(b).toEqual(a);
    for (const [k, v] of weightsA) expect(Buffer.from((store.get(k).dataSync() as Float32Array).buffer).equals(Buffer.from(v.buffer))).toBe(true);
    done();
    store.dispose();
  });

  test('restoring into a fresh trainer continues exactly as the original would have', () => {
    const storeA = WeightStore.create(graph, 4);
    const storeB = WeightStore.create(graph, 4);
    const a = stepper(storeA);
    a.step(0);
    a.step(1);
    const saved = a.trainer.snapshot();
    const next = a.step(2);
    const b = stepper(storeB);
    b.trainer.restore(saved);
    expect(b.step(2)).toEqual(next);
    a.done();
    b.done();
    storeA.dispose();
    storeB.dispose();
  });

  test('no tensor leaks across steps, snapshots and restores; keys outside the trainer are rejected', () => {
    const store = WeightStore.create(graph, 1);
    const { trainer, step, done } = stepper(store);
    step(0);
    const start = tf.memory().numTensors;
    for (let i = 1; i < 4; i++) step(i);
    trainer.restore(trainer.snapshot());
    expect(tf.memory().numTensors).toBe(start);
    expect(() => trainer.step(() => tf.scalar(0), { keys: ['nope'] })).toThrow(ConfigError);
    done();
    store.dispose();
  });

  test('lrScale: a 0 multiplier leaves those weights bit for bit, 0.5 halves the first step of the others; a bad multiplier is a ConfigError', () => {
    const runOnce = (lrScale?: (p: { owner: string }) => number) => {
      const store = WeightStore.create(graph, 3);
      const before = store.snapshot([...graph.params.keys()]);
      const trainer = createTrainer({ store, graph, policy: fullFineTunePolicy, optimizer: { weightDecay: 0 }, schedule: () => 1e-2, ...(lrScale ? { lrScale } : {}) });
      const executor = new Executor(graph, store);
      const batch = makeBatch(examples, 0);
      trainer.step(() => crossEntropy(executor.forward(batch.feeds, { outputs: ['task.logits'] })['task.logits'] as tf.Tensor, batch.labels));
      const after = store.snapshot([...graph.params.keys()]);
      trainer.dispose();
      disposeBatch(batch);
      store.dispose();
      return { before, after };
    };
    const plain = runOnce();
    const scaled = runOnce((p) => (p.owner === 'base' ? 0 : 0.5));
    let headChecked = 0;
    for (const [key, p] of graph.params) {
      const b = scaled.before.get(key) as Float32Array;
      const a = scaled.after.get(key) as Float32Array;
      if (p.owner === 'base') {
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
        continue;
      }
      const full = plain.after.get(key) as Float32Array;
      // Adam's first step is lr·g/(|g|+eps) per element: the scaled delta is half the plain one up to float32 rounding of p ± delta.
      for (let i = 0; i < a.length; i++) expect(Math.abs((a[i] as number) - (b[i] as number) - 0.5 * ((full[i] as number) - (b[i] as number)))).toBeLessThan(1e-6);
      headChecked += 1;
    }
    expect(headChecked).toBeGreaterThan(0);
    const store = WeightStore.create(graph, 3);
    expect(() => createTrainer({ store, graph, policy: fullFineTunePolicy, schedule: () => 1e-2, lrScale: () => Number.NaN })).toThrow(/lrScale/);
    store.dispose();
  });
});

import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { fullFineTunePolicy } from '../exec/policy';
import { WeightStore } from '../exec/weights';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { smallEncoderConfigArb, tokenIdsArb } from '../testing/arbitraries';
import { train } from '../train/trainer';
import { disableZeroCopyKernels, enableZeroCopyKernels, zeroCopyKernelsEnabled } from './wasm-zero-copy';

afterEach(() => disableZeroCopyKernels());

describe('zero-copy Identity/Cast on wasm', () => {
  it('clone and same-dtype cast share the buffer; other casts still convert', () => {
    const x = tf.tensor([1.5, -2.5, 3.25]);
    const buffers = () => tf.memory().numDataBuffers;
    const stockClone = tf.clone(x);
    const before = buffers();
    expect(enableZeroCopyKernels()).toEqual(['Identity', 'Cast']);
    const c = tf.clone(x);
    const f = tf.cast(x, 'float32');
    expect(buffers()).toBe(before); // no new buffer for either
    const i = tf.cast(x, 'int32');
    expect(buffers()).toBe(before + 1);
    expect([...i.dataSync()]).toEqual([1, -2, 3]);
    x.dispose(); // the shared buffer lives on while a reference remains
    expect([...c.dataSync()]).toEqual([1.5, -2.5, 3.25]);
    expect([...f.dataSync()]).toEqual([1.5, -2.5, 3.25]);
    tf.dispose([c, f, i, stockClone]);
  });

  it('a clone keeps its value when the variable it was taken from is reassigned', () => {
    enableZeroCopyKernels();
    const v = tf.variable(tf.tensor([1, 2, 3]));
    const snapshot = tf.clone(v);
    v.assign(tf.tensor([7, 8, 9]));
    expect([...snapshot.dataSync()]).toEqual([1, 2, 3]);
    expect([...v.dataSync()]).toEqual([7, 8, 9]);
    tf.dispose([v, snapshot]);
  });

  it('is idempotent and restorable', () => {
    enableZeroCopyKernels();
    enableZeroCopyKernels();
    expect(zeroCopyKernelsEnabled()).toBe(true);
    disableZeroCopyKernels();
    expect(zeroCopyKernelsEnabled()).toBe(false);
    const x = tf.ones([2]);
    const before = tf.memory().numDataBuffers;
    const c = tf.clone(x);
    expect(tf.memory().numDataBuffers).toBe(before + 1); // stock copies again
    tf.dispose([x, c]);
  });

  it('training steps give bit-identical weights with and without it, and leak nothing', () => {
    fc.assert(
      fc.property(
        smallEncoderConfigArb().chain((config) => fc.record({ config: fc.constant(config), ids: tokenIdsArb(config.vocabSize as number, 4, 5) })),
        ({ config, ids }) => {
          const graph = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 2 });
          const examples = ids.map((inputIds, i) => ({ inputIds, label: i % 2 }));
          const trainOnce = () => {
            const store = WeightStore.create(graph, 3);
            const result = train({ graph, store, output: 'task.logits', train: examples, maxSteps: 2, batchSize: 2, policy: fullFineTunePolicy, seed: 5 });
            const weights = store.snapshot(result.trainableKeys);
            store.dispose();
            return weights;
          };
          const stock = trainOnce();
          enableZeroCopyKernels();
          const tensorsBefore = tf.memory().numTensors;
          const shared = trainOnce();
          expect(tf.memory().numTensors).toBe(tensorsBefore);
          disableZeroCopyKernels();
          expect([...shared.keys()]).toEqual([...stock.keys()]);
          for (const [key, values] of stock) expect([key, Buffer.from((shared.get(key) as Float32Array).buffer).equals(Buffer.from(values.buffer))]).toEqual([key, true]);
        },
      ),
      { numRuns: 8 },
    );
  });
});

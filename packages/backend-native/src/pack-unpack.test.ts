import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { disableNativeKernels, nativeKernelStatus } from './index';
import { describeNative, randomArray, withKernels } from './test-util';

const shapeArb = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 });

describeNative('native Pack and Unpack (stack / unstack, and each other\'s gradients)', () => {
  afterAll(() => disableNativeKernels());

  it('are registered', () => {
    expect(withKernels(true, () => nativeKernelStatus().kernels)).toEqual(expect.arrayContaining(['Pack', 'Unpack']));
  });

  it('Unpack equals the stock kernel bit for bit on every axis (float32 and int32)', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.integer({ min: 1, max: 1 << 30 }), (shape, axisPick, asInt, seed) => {
        const axis = (axisPick % shape.length) - (axisPick >= shape.length ? shape.length : 0); // some negative axes
        const n = shape.reduce((p, d) => p * d, 1);
        const vals = randomArray(n, seed);
        const x = asInt ? tf.tensor(Int32Array.from(vals, (v) => Math.round(v * 1000)), shape, 'int32') : tf.tensor(vals, shape);
        const read = (native: boolean) => withKernels(native, () => {
          const parts = tf.unstack(x, axis);
          const out = parts.map((p) => ({ shape: p.shape, data: Array.from(p.dataSync()) }));
          tf.dispose(parts);
          return out;
        });
        expect(read(true)).toEqual(read(false));
        x.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it('Pack equals the stock kernel bit for bit on every axis, and its gradient (Unpack) too', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 2, max: 5 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 1 << 30 }), (shape, count, axisPick, seed) => {
        const axis = axisPick % (shape.length + 1);
        const n = shape.reduce((p, d) => p * d, 1);
        const xs = Array.from({ length: count }, (_v, i) => tf.tensor(randomArray(n, seed + i), shape));
        const dyShape = [...shape.slice(0, axis), count, ...shape.slice(axis)];
        const dy = tf.tensor(randomArray(n * count, seed + 99), dyShape);
        const read = (native: boolean) => withKernels(native, () => {
          const y = tf.stack(xs, axis);
          const grads = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(tf.stack(ts, axis), dy)))(xs);
          const out = { y: Array.from(y.dataSync()), shape: y.shape, g: grads.map((g) => Array.from(g.dataSync())) };
          tf.dispose([y, ...grads]);
          return out;
        });
        expect(read(true)).toEqual(read(false));
        tf.dispose([...xs, dy]);
      }),
      { numRuns: 60 },
    );
  });

  it('leave mismatched shapes to the stock kernel and its error', () => {
    const [a, b] = [tf.ones([2, 3]), tf.ones([3, 2])];
    expect(() => withKernels(true, () => tf.stack([a, b]))).toThrow(/matching shapes|must match/);
    tf.dispose([a, b]);
  });

  it('leak nothing', () => {
    withKernels(true, () => {
      const x = tf.ones([4, 3, 5]);
      tf.dispose(tf.unstack(x, 1));
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) tf.dispose([...tf.unstack(x, 1), tf.stack([x, x], 2)]);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  });
});

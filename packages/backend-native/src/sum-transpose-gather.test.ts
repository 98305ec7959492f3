import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { disableNativeKernels, enableNativeKernels } from './index';
import { collapsePermutation } from './kernels';
import { describeNative, randomArray, withKernels, wasmBackend } from './test-util';

const shapeArb = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 });

describe('collapsePermutation', () => {
  it('merges axes that stay adjacent and drops size-1 axes', () => {
    expect(collapsePermutation([2048, 384], [1, 0])).toEqual({ shape: [2048, 384], perm: [1, 0] });
    expect(collapsePermutation([4, 5, 6], [2, 0, 1])).toEqual({ shape: [20, 6], perm: [1, 0] });
    expect(collapsePermutation([3, 4, 5, 6], [0, 1, 3, 2])).toEqual({ shape: [12, 5, 6], perm: [0, 2, 1] });
    expect(collapsePermutation([16, 128, 12, 32], [0, 2, 1, 3])).toEqual({ shape: [16, 128, 12, 32], perm: [0, 2, 1, 3] });
    expect(collapsePermutation([1, 7, 1, 3], [3, 2, 1, 0])).toEqual({ shape: [7, 3], perm: [1, 0] });
  });
});

describeNative('native Sum, Transpose and GatherV2', () => {
  afterAll(() => disableNativeKernels());

  it('Sum matches the stock kernel on every axis set, with and without keepDims', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.integer({ min: 1, max: 1 << 30 }),
        (shape, mask, keepDims, seed) => {
          const axes = shape.map((_, i) => i).filter((i) => (mask >> i) & 1);
          const axis = axes.length === shape.length && mask % 2 === 1 ? undefined : axes; // undefined = all
          const data = randomArray(shape.reduce((p, d) => p * d, 1), seed);
          const run = (native: boolean) => withKernels(native, () => tf.tidy(() => {
            const y = tf.sum(tf.tensor(data, shape), axis, keepDims);
            return { shape: y.shape, data: y.dataSync() as Float32Array };
          }));
          const stock = run(false);
          const native = run(true);
          expect(native.shape).toEqual(stock.shape);
          // Entries in [-1, 1): each sum of n terms has Σ|x| <= n; the stock kernel accumulates in float32,
          // the native one in double, so they differ by the stock rounding, ~u·√n·Σ|x| (see test-util).
          const n = Math.max(1, data.length / Math.max(1, stock.data.length));
          for (let i = 0; i < stock.data.length; i++) {
            expect(Math.abs(native.data[i]! - stock.data[i]!)).toBeLessThanOrEqual(1e-5 * Math.sqrt(n) * n + 1e-30);
          }
        }),
      { numRuns: 300, seed: 5 },
    );
  });

  it('Transpose is bit-identical to the stock kernel for every permutation (float32 and int32)', () => {
    const perms = (n: number): number[][] =>
      n === 0 ? [[]] : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
    fc.assert(
      fc.property(shapeArb, fc.nat(), fc.boolean(), fc.integer({ min: 1, max: 1 << 30 }), (shape, pick, int, seed) => {
        const all = perms(shape.length);
        const perm = all[pick % all.length]!;
        const data = randomArray(shape.reduce((p, d) => p * d, 1), seed);
        const run = (native: boolean) => withKernels(native, () => tf.tidy(() => {
          const x = int ? tf.tensor(Int32Array.from(data, (v) => Math.round(v * 1000)), shape, 'int32') : tf.tensor(data, shape);
          const y = tf.transpose(x, perm);
          return { shape: y.shape, data: Array.from(y.dataSync()) };
        }));
        expect(run(true)).toEqual(run(false));
      }),
      { numRuns: 300, seed: 6 },
    );
    // A size the tiles do not divide, as in the bias gradients of a [2048, 1536] activation.
    const big = (native: boolean) => withKernels(native, () => tf.tidy(() =>
      tf.transpose(tf.tensor(randomArray(333 * 517, 3), [333, 517])).dataSync()));
    expect(big(true)).toEqual(big(false));
  });

  it('GatherV2 is bit-identical to the stock kernel on every axis (float32 and int32) and rejects bad indices', () => {
    fc.assert(
      fc.property(shapeArb, fc.nat(), fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
        fc.boolean(), fc.integer({ min: 1, max: 1 << 30 }), (shape, axisPick, picks, idxShapeHead, int, seed) => {
          const axis = axisPick % shape.length;
          const dim = shape[axis]!;
          const count = idxShapeHead.reduce((p, d) => p * d, 1) * Math.max(1, picks.length);
          const ids = Int32Array.from({ length: count }, (_, i) => (picks[i % Math.max(1, picks.length)] ?? i) % dim);
          const idxShape = [...idxShapeHead, Math.max(1, picks.length)];
          const data = randomArray(shape.reduce((p, d) => p * d, 1), seed);
          const run = (native: boolean) => withKernels(native, () => tf.tidy(() => {
            const x = int ? tf.tensor(Int32Array.from(data, (v) => Math.round(v * 1000)), shape, 'int32') : tf.tensor(data, shape);
            const y = tf.gather(x, tf.tensor(ids, idxShape, 'int32'), axis - shape.length); // negative axis too
            return { shape: y.shape, data: Array.from(y.dataSync()) };
          }));
          expect(run(true)).toEqual(run(false));
        }),
      { numRuns: 300, seed: 7 },
    );
    // A rejected index frees the output it had allocated.
    enableNativeKernels();
    const wb = wasmBackend();
    const table = tf.ones([4, 3]);
    const bad = [tf.tensor1d([1, 4], 'int32'), tf.tensor1d([-1], 'int32')];
    const before = { tensors: tf.memory().numTensors, ids: wb.numDataIds() };
    expect(() => tf.gather(table, bad[0]!)).toThrow('GatherV2: the index value 4 is not in [0, 3]');
    expect(() => tf.gather(table, bad[1]!)).toThrow(/index value -1/);
    expect(tf.memory().numTensors).toBe(before.tensors);
    expect(wb.numDataIds()).toBe(before.ids);
    tf.dispose([table, ...bad]);
  });
});

import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { disableNativeKernels, enableNativeKernels, nativeInfo } from './index';
import { planBatches } from './kernels';
import { describeNative, firstMismatch, randomArray, referenceMatMul, tolerance, wasmBackend } from './test-util';

interface Case {
  aShape: number[];
  bShape: number[];
  tA: boolean;
  tB: boolean;
  seed: number;
}

/** Shapes of rank 2..4 for both operands, every transpose combination, broadcastable batch dims. */
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    outBatch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    aRank: fc.integer({ min: 2, max: 4 }),
    bRank: fc.integer({ min: 2, max: 4 }),
    aOnes: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    bOnes: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    m: fc.integer({ min: 1, max: 37 }),
    n: fc.integer({ min: 1, max: 37 }),
    k: fc.integer({ min: 1, max: 70 }),
    tA: fc.boolean(),
    tB: fc.boolean(),
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
  })
  .map((r) => {
    // Each operand takes the trailing (rank-2) output batch dims, some of them squeezed to 1.
    const batchOf = (rank: number, ones: boolean[]) => {
      const dims = r.outBatch.slice(Math.max(0, r.outBatch.length - (rank - 2)));
      const padded = [...new Array<number>(Math.max(0, rank - 2 - dims.length)).fill(1), ...dims];
      return padded.map((d, i) => (ones[i] ? 1 : d));
    };
    const aShape = [...batchOf(r.aRank, r.aOnes), ...(r.tA ? [r.k, r.m] : [r.m, r.k])];
    const bShape = [...batchOf(r.bRank, r.bOnes), ...(r.tB ? [r.n, r.k] : [r.k, r.n])];
    return { aShape, bShape, tA: r.tA, tB: r.tB, seed: r.seed };
  });

const sizeOf = (s: number[]) => s.reduce((p, d) => p * d, 1);

function run(c: Case, native: boolean): { shape: number[]; data: Float32Array } {
  if (native) enableNativeKernels();
  else disableNativeKernels();
  return tf.tidy(() => {
    const a = tf.tensor(randomArray(sizeOf(c.aShape), c.seed), c.aShape);
    const b = tf.tensor(randomArray(sizeOf(c.bShape), c.seed ^ 0x5bd1e995), c.bShape);
    const y = tf.matMul(a, b, c.tA, c.tB);
    return { shape: y.shape, data: y.dataSync() as Float32Array };
  });
}

/** True when tfjs's stock kernels compute this broadcast correctly (each batch is 1 or the full output batch). */
function stockHandles(c: Case): boolean {
  const na = sizeOf(c.aShape.slice(0, -2));
  const nb = sizeOf(c.bShape.slice(0, -2));
  const out = Math.max(na, nb);
  const outBatch = sizeOf(referenceMatMul(new Float32Array(sizeOf(c.aShape)), c.aShape,
    new Float32Array(sizeOf(c.bShape)), c.bShape, c.tA, c.tB).shape.slice(0, -2));
  return outBatch === out && (na === 1 || na === out) && (nb === 1 || nb === out);
}

describe('planBatches', () => {
  it('maps every output batch to the broadcast input matrix', () => {
    const p = planBatches([2, 1, 3], [4, 1], [2, 4, 3]);
    // a: [2,1,3] -> index = i0*3 + i2; b: [4,1] -> index = i1
    const expectA: number[] = [];
    const expectB: number[] = [];
    for (let i0 = 0; i0 < 2; i0++) for (let i1 = 0; i1 < 4; i1++) for (let i2 = 0; i2 < 3; i2++) {
      expectA.push(i0 * 3 + i2);
      expectB.push(i1);
    }
    expect(p.batch).toBe(24);
    expect(Array.from(p.aIndex!)).toEqual(expectA);
    expect(Array.from(p.bIndex!)).toEqual(expectB);
  });

  it('uses strides, not tables, for equal and size-1 batches', () => {
    expect(planBatches([2, 3], [1, 1], [2, 3])).toEqual({ batch: 6, aStride: 1, bStride: 0, aIndex: null, bIndex: null });
    expect(planBatches([], [5], [5])).toEqual({ batch: 5, aStride: 0, bStride: 1, aIndex: null, bIndex: null });
  });
});

describeNative('native BatchMatMul', () => {
  afterAll(() => disableNativeKernels());

  it('reports OpenBLAS, replaces the wasm kernels and restores the stock ones', () => {
    disableNativeKernels();
    const stock = tf.getKernel('BatchMatMul', 'wasm')!;
    const status = enableNativeKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(stock.kernelFunc);
    expect(enableNativeKernels()).toEqual(status); // idempotent
    expect(status).toEqual({
      enabled: true,
      kernels: ['BatchMatMul', '_FusedMatMul', 'Sum', 'Transpose', 'GatherV2', 'Pack', 'Unpack', 'Add', 'Sub', 'Multiply', 'AdaptersGelu', 'AdaptersGeluGrad',
        'AdaptersSoftmaxGrad', 'AdaptersLayerNorm', 'AdaptersLayerNormGrad', 'AdaptersAdamW', 'AdaptersDropoutMask', 'AdaptersScatterAddRows', 'AdaptersAddLayerNorm',
        'AdaptersBottleneck', 'AdaptersAttention', 'AdaptersAttentionTrain', 'AdaptersAttentionGrad'],
      blas: nativeInfo()!.blas.note,
    });
    expect(status.blas).toMatch(/^OpenBLAS \w+/); // the kernel set, for banners
    expect(nativeInfo()!.config).toMatch(/OpenBLAS/);
    disableNativeKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(stock);
  });

  it('matches the stock wasm kernel (and float64) on random shapes, transposes and broadcasts', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const ref = referenceMatMul(randomArray(sizeOf(c.aShape), c.seed), c.aShape,
          randomArray(sizeOf(c.bShape), c.seed ^ 0x5bd1e995), c.bShape, c.tA, c.tB);
        const k = c.tA ? c.aShape[c.aShape.length - 2]! : c.aShape[c.aShape.length - 1]!;
        const native = run(c, true);
        expect(native.shape).toEqual(ref.shape);
        expect(firstMismatch(native.data, ref.value, ref.scale, k)).toBe(-1);
        if (stockHandles(c)) {
          // Where tfjs's own kernel is right, the two float32 results agree within float32 rounding.
          const stock = run(c, false);
          expect(stock.shape).toEqual(native.shape);
          expect(firstMismatch(native.data, stock.data, ref.scale, k)).toBe(-1);
        }
      }),
      { numRuns: 250, seed: 1234 },
    );
  });

  it('computes broadcasts the stock kernels get wrong ([2,1,m,k]·[1,3,k,n])', () => {
    const c: Case = { aShape: [2, 1, 5, 7], bShape: [1, 3, 7, 4], tA: false, tB: false, seed: 7 };
    const ref = referenceMatMul(randomArray(70, 7), c.aShape, randomArray(84, 7 ^ 0x5bd1e995), c.bShape, false, false);
    const native = run(c, true);
    expect(native.shape).toEqual([2, 3, 5, 4]);
    expect(firstMismatch(native.data, ref.value, ref.scale, 7)).toBe(-1);
  });

  it('handles size-1 and empty dimensions', () => {
    enableNativeKernels();
    tf.tidy(() => {
      const z = tf.matMul(tf.ones([3, 0]), tf.ones([0, 4])); // empty sum: zeros (stock returns garbage)
      expect(z.shape).toEqual([3, 4]);
      expect(Array.from(z.dataSync())).toEqual(new Array(12).fill(0));
      expect(tf.matMul(tf.ones([0, 3]), tf.ones([3, 4])).shape).toEqual([0, 4]);
      expect(tf.matMul(tf.ones([2, 0, 3]), tf.ones([2, 3, 4])).shape).toEqual([2, 0, 4]);
      expect(Array.from(tf.matMul(tf.ones([1, 1]), tf.ones([1, 1]), true, true).dataSync())).toEqual([1]);
      expect(Array.from(tf.matMul(tf.ones([1, 5]), tf.ones([1, 5]), false, true).dataSync())).toEqual([5]);
    });
  });

  it('keeps tfjs error messages and leaves non-float32 inputs to the stock kernel', () => {
    enableNativeKernels();
    expect(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 5]))).toThrow(/inner shapes/);
    expect(() => tf.matMul(tf.ones([2, 3], 'int32'), tf.ones([3, 5], 'int32'))).toThrow(/float32/);
  });

  it('gives the same gradients as the stock kernel (2-D dense and 4-D attention)', () => {
    const dense = (native: boolean, tA: boolean, tB: boolean) => {
      if (native) enableNativeKernels();
      else disableNativeKernels();
      return tf.tidy(() => {
        const x = tf.tensor(randomArray(33 * 19, 11), tA ? [19, 33] : [33, 19]);
        const w = tf.tensor(randomArray(19 * 23, 12), tB ? [23, 19] : [19, 23]);
        const probe = tf.tensor(randomArray(33 * 23, 13), [33, 23]);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b, tA, tB), probe)));
        return g([x, w]).map((t) => t.dataSync() as Float32Array);
      });
    };
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const stock = dense(false, tA, tB);
        const native = dense(true, tA, tB);
        for (let i = 0; i < 2; i++) {
          // Each gradient entry is a dot product over k = 23 (dx) or 33 (dw) terms of factors in [-1, 1),
          // so Σ|terms| <= k bounds the rounding-error scale.
          const k = i === 0 ? 23 : 33;
          expect(firstMismatch(native[i]!, stock[i]!, new Float64Array(stock[i]!.length).fill(k), k)).toBe(-1);
        }
      }
    }
    const attention = (native: boolean) => {
      if (native) enableNativeKernels();
      else disableNativeKernels();
      return tf.tidy(() => {
        const shape = [2, 3, 9, 8];
        const [q, kk, v] = [21, 22, 23].map((s) => tf.tensor(randomArray(2 * 3 * 9 * 8, s), shape));
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.square(tf.matMul(tf.softmax(tf.matMul(a, b, false, true)), c)));
        return tf.grads(f)([q!, kk!, v!]).map((t) => t.dataSync() as Float32Array);
      });
    };
    const stock = attention(false);
    const native = attention(true);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < stock[i]!.length; j++) {
        expect(Math.abs(native[i]![j]! - stock[i]![j]!)).toBeLessThanOrEqual(tolerance(Math.abs(stock[i]![j]!) + 1, 9 * 8));
      }
    }
  });

  it('does not grow tensors, wasm heap or data ids over many calls', () => {
    enableNativeKernels();
    const wb = wasmBackend();
    const x = tf.tensor(randomArray(64 * 48, 1), [64, 48]);
    const w = tf.tensor(randomArray(48 * 40, 2), [48, 40]);
    const q = tf.tensor(randomArray(2 * 4 * 16 * 12, 3), [2, 4, 16, 12]);
    const bias = tf.tensor(randomArray(40, 4), [40]);
    const step = () =>
      tf.tidy(() => {
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a, b)))([x, w]);
        const s = tf.matMul(q, q, false, true);
        const f = tf.fused.matMul({ a: x, b: w, bias, activation: 'relu' });
        const bc = tf.matMul(tf.reshape(q, [2, 1, 4, 16, 12]), tf.ones([3, 1, 12, 5]));
        const t = tf.sum(tf.gather(tf.transpose(tf.sum(bc, [0, 1]), [0, 2, 1]), tf.tensor1d([3, 0, 3], 'int32'), 1), 0);
        return tf.add(tf.add(tf.sum(g[0]!), tf.sum(g[1]!)), tf.add(tf.add(tf.sum(s), tf.sum(f)), tf.sum(t)));
      });
    for (let i = 0; i < 5; i++) step().dispose(); // warm up: let the heap reach its working size
    const before = { mem: tf.memory(), heap: wb.heapBytes(), ids: wb.numDataIds() };
    for (let i = 0; i < 300; i++) step().dispose();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.mem.numTensors);
    expect(after.numBytes).toBe(before.mem.numBytes);
    expect(wb.numDataIds()).toBe(before.ids);
    expect(wb.heapBytes()).toBe(before.heap);
    tf.dispose([x, w, q, bias]);
  });
});

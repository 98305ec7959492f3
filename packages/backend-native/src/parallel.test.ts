import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { loadAddon } from './addon';
import { disableNativeKernels, enableNativeKernels } from './index';
import { blockSwap, collapsePermutation, planBinary } from './kernels';
import { describeNative, randomArray, wasmBackend, withKernels } from './test-util';

describe('planBinary', () => {
  it('reads same-size, one-value and trailing-block operands flat; other broadcasts go to the stock kernel', () => {
    expect(planBinary([16, 128, 384], [16, 128, 384])).toEqual({ rows: 1, n: 786432, aKind: 0, bKind: 0, outShape: [16, 128, 384] });
    expect(planBinary([2048, 384], [384])).toEqual({ rows: 2048, n: 384, aKind: 0, bKind: 1, outShape: [2048, 384] });
    expect(planBinary([1, 384], [16, 128, 384])).toEqual({ rows: 2048, n: 384, aKind: 1, bKind: 0, outShape: [16, 128, 384] });
    expect(planBinary([], [3, 4])).toEqual({ rows: 1, n: 12, aKind: 2, bKind: 0, outShape: [3, 4] });
    expect(planBinary([1, 128, 384], [16, 128, 384])?.aKind).toBe(1);
    expect(planBinary([16, 1, 1, 128], [16, 12, 128, 128])).toBeUndefined(); // the attention mask: not a trailing block
    expect(planBinary([384, 1], [384, 384])).toBeUndefined();
    expect(planBinary([0, 5], [5])).toEqual({ rows: 0, n: 5, aKind: 0, bKind: 1, outShape: [0, 5] });
  });
});

describe('blockSwap', () => {
  it('finds swaps of two axes above a contiguous block of at least 4 elements', () => {
    expect(blockSwap(collapsePermutation([16, 128, 12, 32], [0, 2, 1, 3]))).toEqual({ batch: 16, rows: 128, cols: 12, inner: 32 });
    expect(blockSwap(collapsePermutation([128, 12, 32], [1, 0, 2]))).toEqual({ batch: 1, rows: 128, cols: 12, inner: 32 });
    expect(blockSwap(collapsePermutation([5, 6, 2], [1, 0, 2]))).toBeUndefined(); // blocks of 2: element-wise paths
    expect(blockSwap(collapsePermutation([4, 5, 6], [0, 2, 1]))).toBeUndefined(); // a batched 2-D swap
  });
});

/** Runs `f` with the element-wise pool at `threads` (the BLAS's threads unchanged), restoring the previous count. */
function withThreads<T>(threads: number, f: () => T): T {
  const addon = loadAddon().addon!;
  const before = addon.parallelThreads();
  addon.setParallelThreads(threads);
  try {
    expect(addon.parallelThreads()).toBe(threads);
    return f();
  } finally {
    addon.setParallelThreads(before);
  }
}

const bits = (outs: Float32Array[]): Buffer => Buffer.concat(outs.map((o) => Buffer.from(o.buffer, o.byteOffset, o.byteLength)));

function kernelValues(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): Float32Array[] {
  const out = tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap);
  const outs = Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
  const data = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return data;
}

describeNative('element-wise thread pool (parallel.c): fused kernels, Add/Sub/Multiply, Transpose, matmul bias', () => {
  beforeAll(() => {
    enableNativeKernels();
  });
  afterAll(() => disableNativeKernels());

  // Large enough for many chunks at every grain (rows of 384 and 1536, > 64k elements), plus odd sizes whose last
  // chunk is partial, a subnormal-free mix of magnitudes, and one row kernel with a single chunk.
  const rows = 1030;
  const n = 384;
  const t = (seed: number, shape: number[], scale = 3): tf.Tensor => tf.tensor(randomArray(shape.reduce((p, d) => p * d, 1), seed).map((v) => v * scale), shape);

  it('every threaded kernel gives the same bits with 1, 2 and 3 threads', () => {
    const x = t(1, [rows, n]);
    const dy = t(2, [rows, n]);
    const c = t(3, [rows, n]);
    const gamma = t(4, [n]);
    const beta = t(5, [n]);
    const big = t(6, [300, 1537]);
    const bigDy = t(7, [300, 1537]);
    const probs = tf.softmax(t(8, [rows, 128]));
    const dp = t(9, [rows, 128]);
    const v = tf.abs(t(10, [rows, n]));
    const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: 3 };
    const runAll = (): Buffer => {
      const [y, mean, rstd] = tf.engine().runKernel('AdaptersLayerNorm', { x, gamma, beta }, { epsilon: 1e-12 }) as tf.Tensor[];
      const outs = [
        ...kernelValues('AdaptersGelu', { x: big }),
        ...kernelValues('AdaptersGeluGrad', { dy: bigDy, x: big }),
        ...kernelValues('AdaptersSoftmaxGrad', { dy: dp, y: probs }),
        y!.dataSync() as Float32Array, mean!.dataSync() as Float32Array, rstd!.dataSync() as Float32Array,
        ...kernelValues('AdaptersLayerNormGrad', { dy, x, gamma, mean: mean!, rstd: rstd! }),
        ...kernelValues('AdaptersAddLayerNorm', { a: x, b: dy, c, gamma, beta }, { epsilon: 1e-12 }),
        ...kernelValues('AdaptersAdamW', { param: x, grad: dy, m: c, v }, adam),
        ...kernelValues('AdaptersDropoutMask', {}, { shape: [rows, n], rate: 0.1, seed: 7 }),
        ...kernelValues('AdaptersScatterAddRows', { dy: big, ids: tf.tensor1d(Array.from({ length: 300 }, (_, i) => (i * 7) % 50), 'int32') }, { rows: 50, width: 1537 }),
        tf.tidy(() => tf.add(x, dy).dataSync() as Float32Array),
        tf.tidy(() => tf.mul(big, bigDy).dataSync() as Float32Array),
        tf.tidy(() => tf.sub(x, beta).dataSync() as Float32Array),
        tf.tidy(() => tf.transpose(big).dataSync() as Float32Array),
        tf.tidy(() => tf.gather(big, tf.tensor1d(Array.from({ length: 700 }, (_, i) => (i * 37) % 300), 'int32')).dataSync() as Float32Array),
        tf.tidy(() => tf.gather(x, tf.tensor1d([5, 0, 383, 7], 'int32'), 1).dataSync() as Float32Array),
        tf.tidy(() => tf.transpose(tf.reshape(x, [10, 103, 12, 32]), [0, 2, 1, 3]).dataSync() as Float32Array),
        tf.tidy(() => tf.transpose(tf.reshape(x, [10, 103, 384]), [0, 2, 1]).dataSync() as Float32Array),
        tf.tidy(() => tf.fused.matMul({ a: x as tf.Tensor2D, b: tf.reshape(tf.reshape(big, [-1]).slice(0, 384 * 700), [384, 700]) as tf.Tensor2D,
          bias: tf.reshape(bigDy, [-1]).slice(0, 700), activation: 'relu' }).dataSync() as Float32Array),
      ];
      tf.dispose([y, mean, rstd]);
      return bits(outs);
    };
    const one = withThreads(1, runAll);
    expect(withThreads(2, runAll).equals(one)).toBe(true);
    expect(withThreads(3, runAll).equals(one)).toBe(true);
    tf.dispose([x, dy, c, gamma, beta, big, bigDy, probs, dp, v]);
  });

  it('LayerNormGrad sums dgamma/dbeta over many chunks to float64 accuracy', () => {
    // 4096 rows of 16: 2048 rows per chunk → 2 chunks; 4096 rows of 8 → 1 chunk; both against float64.
    for (const [r, w] of [[4096, 16], [4096, 8], [3, 2000]] as const) {
      const x = randomArray(r * w, 11);
      const dy = randomArray(r * w, 12);
      const g = randomArray(w, 13);
      const mean = new Float32Array(r);
      const rstd = new Float32Array(r);
      for (let i = 0; i < r; i++) {
        let s = 0;
        for (let j = 0; j < w; j++) s += x[i * w + j]!;
        mean[i] = s / w;
        let q = 0;
        for (let j = 0; j < w; j++) q += (x[i * w + j]! - mean[i]!) ** 2;
        rstd[i] = 1 / Math.sqrt(q / w + 1e-5);
      }
      const [, dgamma, dbeta] = withThreads(2, () => kernelValues('AdaptersLayerNormGrad', {
        dy: tf.tensor(dy, [r, w]), x: tf.tensor(x, [r, w]), gamma: tf.tensor(g), mean: tf.tensor(mean), rstd: tf.tensor(rstd),
      }));
      for (let j = 0; j < w; j++) {
        let sg = 0;
        let sb = 0;
        let mag = 0;
        for (let i = 0; i < r; i++) {
          const xh = Math.fround((x[i * w + j]! - mean[i]!) * rstd[i]!);
          sg += dy[i * w + j]! * xh;
          sb += dy[i * w + j]!;
          mag += Math.abs(dy[i * w + j]! * xh) + Math.abs(dy[i * w + j]!);
        }
        // Double sums of float32 terms: only the final rounding to float32 (2^-24 relative) plus x̂'s own float32
        // rounding per term (≤ 2 ulp of each |dy·x̂|), so 3e-7 of the magnitude Σ|terms| bounds both.
        expect(Math.abs(dgamma![j]! - sg)).toBeLessThanOrEqual(3e-7 * mag + 1e-30);
        expect(Math.abs(dbeta![j]! - sb)).toBeLessThanOrEqual(3e-7 * mag + 1e-30);
      }
    }
  });

  it('native Add, Sub and Multiply are bit-identical to the stock wasm kernels (fast-check over shapes)', () => {
    const dims = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 3 });
    fc.assert(fc.property(dims, fc.integer({ min: 0, max: 3 }), fc.constantFrom('add', 'sub', 'mul'), fc.boolean(), fc.integer({ min: 1, max: 1 << 30 }),
      (shape, mode, op, swap, seed) => {
        // mode 0 same shape, 1 trailing block, 2 one value, 3 a broadcast the native kernel leaves to stock
        const other = mode === 0 ? shape : mode === 1 ? shape.slice(1) : mode === 2 ? [] : [...shape.slice(0, -1), 1];
        const size = (s: number[]): number => s.reduce((p, d) => p * d, 1);
        // Big values and tiny ones mixed, subnormals included: no flush in these kernels.
        const a = randomArray(size(shape), seed).map((x, i) => (i % 7 === 0 ? x * 1e-39 : x * 1e3));
        const b = randomArray(size(other), seed + 1).map((x, i) => (i % 5 === 0 ? x * 1e-39 : x));
        const run = (native: boolean) => withKernels(native, () => tf.tidy(() => {
          const [p, q] = swap ? [tf.tensor(b, other), tf.tensor(a, shape)] : [tf.tensor(a, shape), tf.tensor(b, other)];
          const y = op === 'add' ? tf.add(p, q) : op === 'sub' ? tf.sub(p, q) : tf.mul(p, q);
          return { shape: y.shape, data: Buffer.from((y.dataSync() as Float32Array).buffer) };
        }));
        const stock = run(false);
        const native = run(true);
        expect(native.shape).toEqual(stock.shape);
        expect(native.data.equals(stock.data)).toBe(true);
      }), { numRuns: 200, seed: 19 });
    // int32 operands stay on the stock kernel and keep their dtype.
    const y = withKernels(true, () => tf.tidy(() => tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')).arraySync()));
    expect(y).toEqual([4, 6]);
  });

  it('native Add at a residual-size shape matches stock bit for bit and leaks nothing', () => {
    const a = tf.tensor(randomArray(16 * 128 * 384, 21), [16, 128, 384]);
    const bias = tf.tensor(randomArray(384, 22));
    const run = (native: boolean) => withKernels(native, () => tf.tidy(() => Buffer.concat([
      Buffer.from((tf.add(a, a).dataSync() as Float32Array).buffer), Buffer.from((tf.add(a, bias).dataSync() as Float32Array).buffer),
    ])));
    expect(run(true).equals(run(false))).toBe(true);
    enableNativeKernels();
    const wb = wasmBackend();
    const once = () => tf.dispose([tf.add(a, a), tf.mul(a, bias), tf.sub(bias, a)]);
    once(); // the heap grows once to fit three outputs
    const before = { tensors: tf.memory().numTensors, ids: wb.numDataIds(), heap: wb.heapBytes() };
    for (let i = 0; i < 50; i++) once();
    expect({ tensors: tf.memory().numTensors, ids: wb.numDataIds(), heap: wb.heapBytes() }).toEqual(before);
    tf.dispose([a, bias]);
  });

  it('block transposes (attention head split/merge) are bit-identical to the stock kernel', () => {
    const x = tf.tensor(randomArray(16 * 128 * 384, 31), [16, 128, 12, 32]);
    const cases: [number[], number[]][] = [[[16, 128, 12, 32], [0, 2, 1, 3]], [[16, 12, 128, 32], [0, 2, 1, 3]], [[2048, 12, 32], [1, 0, 2]], [[7, 3, 5, 4], [0, 2, 1, 3]]];
    for (const [shape, perm] of cases) {
      const run = (native: boolean) => withKernels(native, () => tf.tidy(() => {
        const src = tf.reshape(tf.slice(tf.reshape(x, [-1]), 0, shape.reduce((p, d) => p * d, 1)), shape);
        const y = tf.transpose(src, perm);
        return { shape: y.shape, data: Buffer.from((y.dataSync() as Float32Array).buffer) };
      }));
      const [stock, native] = [run(false), run(true)];
      expect(native.shape).toEqual(stock.shape);
      expect(native.data.equals(stock.data)).toBe(true);
    }
    tf.dispose(x);
    const addon = loadAddon().addon!;
    expect(() => addon.transposeBlocks32(new ArrayBuffer(64), 0, 0, 1, 2, 2, 5)).toThrow(/transposeBlocks32 operand lies outside the wasm heap/);
    expect(() => addon.transposeBlocks32(new ArrayBuffer(64), 0, 0, 65536, 65536, 2, 1)).toThrow(/too large/);
  });

  it('marks its _FusedMatMul as adding the bias to the finished product (core-graph folds training bias adds into it)', () => {
    enableNativeKernels();
    expect((tf.getKernel('_FusedMatMul', 'wasm') as unknown as Record<string, unknown>)['adaptersExactBias']).toBe(true);
    const x = tf.tensor(randomArray(300 * 96, 41), [300, 96]);
    const w = tf.tensor(randomArray(96 * 50, 42), [96, 50]);
    const b = tf.tensor(randomArray(50, 43));
    const fused = tf.tidy(() => Buffer.from((tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b }).dataSync() as Float32Array).buffer));
    const composed = tf.tidy(() => Buffer.from((tf.add(tf.matMul(x, w), b).dataSync() as Float32Array).buffer));
    expect(fused.equals(composed)).toBe(true);
    tf.dispose([x, w, b]);
  });

  it('binary32 refuses operands outside the heap, bad kinds and ops, before writing anything', () => {
    const addon = loadAddon().addon!;
    const heap = new ArrayBuffer(64);
    const view = new Float32Array(heap);
    view.fill(1);
    expect(() => addon.binary32(heap, 0, 0, 0, 0, 0, 0, 4, 5)).toThrow(/binary32 operand lies outside the wasm heap/); // 20 floats > 16
    expect(() => addon.binary32(heap, 0, 0, 1, 52, 1, 0, 4, 4)).toThrow(/outside the wasm heap/); // row b at 52 + 16 bytes > 64
    expect(() => addon.binary32(heap, 0, 2, 0, 0, 0, 0, 2, 2)).toThrow(/outside the wasm heap \(or is misaligned\)/);
    expect(() => addon.binary32(heap, 3, 0, 0, 0, 0, 0, 1, 1)).toThrow(/'op' must be an integer in \[0, 2\]/);
    expect(() => addon.binary32(heap, 0, 0, 3, 0, 0, 0, 1, 1)).toThrow(/'aKind' must be an integer in \[0, 2\]/);
    expect(Array.from(view)).toEqual(new Array(16).fill(1));
    addon.binary32(heap, 2, 0, 2, 4, 1, 32, 2, 4); // out[2,4] = a[0] * b[0..4)
    expect(Array.from(view.subarray(8, 16))).toEqual(new Array(8).fill(1));
  });
});

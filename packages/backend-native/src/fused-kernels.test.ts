import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, disableNativeKernels, enableNativeKernels, nativeKernelStatus } from './index';
import { describeNative, randomArray, wasmBackend } from './test-util';

// ---- float64 references ----------------------------------------------------------------------------------

/** erfc(a) for a >= 0 in float64: 1 − Maclaurin series of erf for a < 3 (≤ 1e-13), a continued fraction beyond. */
function erfc(a: number): number {
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...))))), evaluated backwards.
  let f = a;
  for (let k = 80; k >= 1; k--) f = a + k / 2 / f;
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
}

/** Φ(x) = 0.5·(1 + erf(x/√2)) = 0.5·erfc(−x/√2), in the form that keeps relative accuracy on each side. */
const phi = (x: number): number => (x < 0 ? 0.5 * erfc(-x / Math.SQRT2) : 1 - 0.5 * erfc(x / Math.SQRT2));

const geluRef = (x: number): number => x * phi(x);
const geluGradRef = (dy: number, x: number): number =>
  dy * (phi(x) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI));

// ---- helpers ---------------------------------------------------------------------------------------------

const sizeOf = (shape: number[]): number => shape.reduce((p, d) => p * d, 1);

function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}

/** Runs a kernel and returns its outputs' values (disposing everything it created). */
function values(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}): Float32Array[] {
  const outs = runKernel(name, inputs, attrs);
  const data = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return data;
}

/** Index of the first element with |actual − expected| > tol(i), or -1. */
function firstBad(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: (i: number) => number): number {
  if (actual.length !== expected.length) return 0;
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol(i))) return i;
  }
  return -1;
}

function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: (i: number) => number): void {
  const i = firstBad(actual, expected, tol);
  if (i >= 0) {
    throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tolerance ${tol(i)})`);
  }
}

/**
 * Element-wise bound: float32 results carry a few ulps of rounding (u = 6e-8 relative) and the GELU kernels'
 * Φ(x) has ≤ 7.5e-8 absolute error (A&S 7.1.26, ≤ 1.5e-7 on erf) plus ≤ 2 ulp from the exp approximation, so
 * |x·Φ| errs by ≤ ~1e-7·max(1,|x|); 2e-6·max(1,|expected|) leaves >10× headroom on our inputs (|x| < 8) yet
 * catches any formula slip (O(1e-2) or worse).
 */
const elementwiseTol = (expected: ArrayLike<number>) => (i: number): number => 2e-6 * Math.max(1, Math.abs(expected[i]!));

const SHAPES: number[][] = [[7], [1, 13], [3, 5, 17], [1024, 1536]];

describeNative('fused kernels (AdaptersGelu, AdaptersGeluGrad, AdaptersSoftmaxGrad, AdaptersLayerNorm, AdaptersLayerNormGrad, AdaptersAdamW)', () => {
  beforeAll(() => {
    enableNativeKernels();
  });
  afterAll(() => disableNativeKernels());

  it('AdaptersGelu and AdaptersGeluGrad match the erf formulas in float64', () => {
    for (const [s, shape] of SHAPES.entries()) {
      const n = sizeOf(shape);
      const xv = randomArray(n, 11 + s).map((v) => v * 8); // [-8, 8): both tails and the centre
      const dyv = randomArray(n, 31 + s);
      const x = tf.tensor(xv, shape);
      const dy = tf.tensor(dyv, shape);
      const [y] = values('AdaptersGelu', { x });
      const [dx] = values('AdaptersGeluGrad', { dy, x });
      const yRef = Float64Array.from(xv, geluRef);
      const dxRef = Float64Array.from(xv, (v, i) => geluGradRef(dyv[i]!, v));
      expectClose(`gelu ${shape.join('x')}`, y!, yRef, elementwiseTol(yRef));
      expectClose(`gelu grad ${shape.join('x')}`, dx!, dxRef, elementwiseTol(dxRef));
      tf.dispose([x, dy]);
    }
  });

  it('AdaptersGelu and AdaptersGeluGrad stay finite and accurate on extreme inputs', () => {
    const xv = Float32Array.from([20, -20, 0, -0, 1e-30, -1e-30, 1e-45, 13.2, -13.2, 87, -87, 100, -100, 3e4, -3e4, 1e-3, -5.5]);
    const x = tf.tensor(xv);
    const dy = tf.onesLike(x);
    const [y] = values('AdaptersGelu', { x });
    const [dx] = values('AdaptersGeluGrad', { dy, x });
    expect(Array.from(y!).every(Number.isFinite)).toBe(true);
    expect(Array.from(dx!).every(Number.isFinite)).toBe(true);
    const yRef = Float64Array.from(xv, geluRef);
    const dxRef = Float64Array.from(xv, (v) => geluGradRef(1, v));
    expectClose('gelu extremes', y!, yRef, elementwiseTol(yRef));
    expectClose('gelu grad extremes', dx!, dxRef, elementwiseTol(dxRef));
    expect(y![0]).toBe(20);
    expect(dx![0]).toBe(1);
    // NaN propagates rather than turning into a finite number.
    const nan = tf.tensor([NaN]);
    expect(Number.isNaN(values('AdaptersGelu', { x: nan })[0]![0]!)).toBe(true);
    tf.dispose([x, dy, nan]);
  });

  it('AdaptersSoftmaxGrad matches y·(dy − Σ dy·y) in float64', () => {
    for (const [s, shape] of [[1, 9], [3, 7], [2, 3, 33], [8, 12, 128, 128]].entries()) {
      const n = shape[shape.length - 1]!;
      const rows = sizeOf(shape) / n;
      const logits = randomArray(rows * n, 51 + s).map((v) => v * 4);
      const yv = new Float32Array(rows * n);
      for (let r = 0; r < rows; r++) {
        let mx = -Infinity;
        for (let j = 0; j < n; j++) mx = Math.max(mx, logits[r * n + j]!);
        let z = 0;
        for (let j = 0; j < n; j++) z += Math.exp(logits[r * n + j]! - mx);
        for (let j = 0; j < n; j++) yv[r * n + j] = Math.exp(logits[r * n + j]! - mx) / z;
      }
      const dyv = randomArray(rows * n, 61 + s);
      const ref = new Float64Array(rows * n);
      const tol = new Float64Array(rows * n);
      for (let r = 0; r < rows; r++) {
        let sum = 0;
        let abs = 0;
        for (let j = 0; j < n; j++) {
          sum += dyv[r * n + j]! * yv[r * n + j]!;
          abs += Math.abs(dyv[r * n + j]! * yv[r * n + j]!);
        }
        for (let j = 0; j < n; j++) {
          const i = r * n + j;
          ref[i] = yv[i]! * (dyv[i]! - sum);
          // Three float32 roundings of terms of size |y|·(|dy| + Σ|dy·y|), plus a √n allowance for the row sum
          // (exact-ish in double here, but the bound must not depend on the summation order).
          tol[i] = 1e-6 * Math.abs(yv[i]!) * (Math.abs(dyv[i]!) + abs * (1 + 1e-2 * Math.sqrt(n))) + 1e-30;
        }
      }
      const y = tf.tensor(yv, shape);
      const dy = tf.tensor(dyv, shape);
      const [dx] = values('AdaptersSoftmaxGrad', { dy, y });
      expectClose(`softmax grad ${shape.join('x')}`, dx!, ref, (i) => tol[i]!);
      tf.dispose([y, dy]);
    }
  });

  /** LayerNorm inputs with a per-row offset, so the mean is not ~0. */
  function layerNormInputs(shape: number[], seed: number) {
    const n = shape[shape.length - 1]!;
    const rows = sizeOf(shape) / n;
    const xv = randomArray(rows * n, seed).map((v, i) => 3 * v + 0.25 * ((Math.floor(i / n) % 7) - 3));
    return { n, rows, xv, gv: randomArray(n, seed + 1).map((v) => 1 + 0.5 * v), bv: randomArray(n, seed + 2) };
  }

  function rowStats(xv: Float32Array, rows: number, n: number, eps: number): { mean: Float64Array; rstd: Float64Array } {
    const mean = new Float64Array(rows);
    const rstd = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += xv[r * n + j]!;
      const m = s / n;
      let v = 0;
      for (let j = 0; j < n; j++) v += (xv[r * n + j]! - m) ** 2;
      mean[r] = m;
      rstd[r] = 1 / Math.sqrt(v / n + eps);
    }
    return { mean, rstd };
  }

  it('AdaptersLayerNorm matches the float64 formulas (y, mean, rstd)', () => {
    const eps = 1e-5;
    for (const [s, shape] of [[1, 8], [3, 7], [2, 5, 33], [1024, 384]].entries()) {
      const { n, rows, xv, gv, bv } = layerNormInputs(shape, 71 + 3 * s);
      const { mean, rstd } = rowStats(xv, rows, n, eps);
      const ref = new Float64Array(rows * n);
      const tol = new Float64Array(rows * n);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < n; j++) {
          const xh = (xv[r * n + j]! - mean[r]!) * rstd[r]!;
          ref[r * n + j] = xh * gv[j]! + bv[j]!;
          // A few float32 roundings of (x − mean)·rstd·γ + β; the row statistics are double, so the only
          // row-length dependence is the (tiny) summation error, allowed for with 1e-8·√n.
          tol[r * n + j] = (1e-6 + 1e-8 * Math.sqrt(n)) * (1 + Math.abs(xh * gv[j]!) + Math.abs(bv[j]!));
        }
      }
      const x = tf.tensor(xv, shape);
      const gamma = tf.tensor(gv);
      const beta = tf.tensor(bv);
      const outs = runKernel('AdaptersLayerNorm', { x, gamma, beta }, { epsilon: eps });
      expect(outs.map((t) => t.shape)).toEqual([shape, [rows], [rows]]);
      const [y, m, rs] = outs.map((t) => t.dataSync() as Float32Array);
      expectClose(`layerNorm y ${shape.join('x')}`, y!, ref, (i) => tol[i]!);
      expectClose(`layerNorm mean ${shape.join('x')}`, m!, mean, (r) => 1e-6 * (Math.abs(mean[r]!) + 1 / rstd[r]!));
      expectClose(`layerNorm rstd ${shape.join('x')}`, rs!, rstd, (r) => 1e-6 * rstd[r]!);
      tf.dispose([...outs, x, gamma, beta]);
    }
  });

  it('AdaptersLayerNormGrad matches the float64 formulas (dx, dgamma, dbeta)', () => {
    for (const [s, shape] of [[1, 8], [3, 7], [2, 5, 33], [1024, 384]].entries()) {
      const { n, rows, xv, gv } = layerNormInputs(shape, 91 + 3 * s);
      const stats = rowStats(xv, rows, n, 1e-5);
      // The kernel takes float32 mean/rstd (as AdaptersLayerNorm returns them); the reference uses the same values.
      const meanF = Float32Array.from(stats.mean);
      const rstdF = Float32Array.from(stats.rstd);
      const dyv = randomArray(rows * n, 97 + s);
      const dxRef = new Float64Array(rows * n);
      const dxTol = new Float64Array(rows * n);
      const dgRef = new Float64Array(n);
      const dbRef = new Float64Array(n);
      const dgScale = new Float64Array(n);
      const dbScale = new Float64Array(n);
      for (let r = 0; r < rows; r++) {
        const rs = rstdF[r]!;
        let a = 0;
        let b = 0;
        let absA = 0;
        let absB = 0;
        for (let j = 0; j < n; j++) {
          const i = r * n + j;
          const xh = (xv[i]! - meanF[r]!) * rs;
          const g = dyv[i]! * gv[j]!;
          a += g;
          b += g * xh;
          absA += Math.abs(g);
          absB += Math.abs(g * xh);
          dgRef[j]! += dyv[i]! * xh;
          dbRef[j]! += dyv[i]!;
          dgScale[j]! += Math.abs(dyv[i]! * xh);
          dbScale[j]! += Math.abs(dyv[i]!);
        }
        a /= n;
        b /= n;
        for (let j = 0; j < n; j++) {
          const i = r * n + j;
          const xh = (xv[i]! - meanF[r]!) * rs;
          dxRef[i] = rs * (dyv[i]! * gv[j]! - a - xh * b);
          // Float32 roundings of the terms of rstd·(g − ā − x̂·b̄); the row means enter through Σ|·|/n.
          dxTol[i] = (1e-6 + 1e-8 * Math.sqrt(n)) * rs * (Math.abs(dyv[i]! * gv[j]!) + absA / n + Math.abs(xh) * absB / n) + 1e-30;
        }
      }
      const dy = tf.tensor(dyv, shape);
      const x = tf.tensor(xv, shape);
      const gamma = tf.tensor(gv);
      const mean = tf.tensor(meanF);
      const rstd = tf.tensor(rstdF);
      const outs = runKernel('AdaptersLayerNormGrad', { dy, x, gamma, mean, rstd });
      expect(outs.map((t) => t.shape)).toEqual([shape, [n], [n]]);
      const [dx, dg, db] = outs.map((t) => t.dataSync() as Float32Array);
      expectClose(`layerNorm dx ${shape.join('x')}`, dx!, dxRef, (i) => dxTol[i]!);
      // Column sums over rows in double: only the float32 x̂ and the final rounding err, ~u per term.
      expectClose(`layerNorm dgamma ${shape.join('x')}`, dg!, dgRef, (j) => 1e-6 * dgScale[j]! + 1e-30);
      expectClose(`layerNorm dbeta ${shape.join('x')}`, db!, dbRef, (j) => 1e-6 * dbScale[j]! + 1e-30);
      tf.dispose([...outs, dy, x, gamma, mean, rstd]);
    }
  });

  it('AdaptersAdamW matches the composed tfjs update (stock wasm ops)', () => {
    const cases: Array<{ shape: number[]; step: number; weightDecay: number }> = [
      { shape: [1], step: 1, weightDecay: 0.01 },
      { shape: [7], step: 3, weightDecay: 0 },
      { shape: [3, 5], step: 10, weightDecay: 0.1 },
      { shape: [1000000], step: 250, weightDecay: 0.01 },
    ];
    for (const [s, c] of cases.entries()) {
      const attrs = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: c.weightDecay, step: c.step };
      const count = sizeOf(c.shape);
      const param = tf.tensor(randomArray(count, 101 + s), c.shape);
      const grad = tf.tensor(randomArray(count, 103 + s).map((v) => v * 0.1), c.shape);
      const m = tf.tensor(randomArray(count, 105 + s).map((v) => v * 0.05), c.shape);
      const v = tf.tensor(randomArray(count, 107 + s).map((x) => x * x * 1e-2), c.shape);
      const [pN, mN, vN] = values('AdaptersAdamW', { param, grad, m, v }, attrs);
      const { lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd, step } = attrs;
      const c1 = 1 - b1 ** step;
      const c2 = 1 - b2 ** step;
      const [pR, mR, vR, termScale] = tf.tidy(() => {
        const m2 = tf.add(tf.mul(m, b1), tf.mul(grad, 1 - b1));
        const v2 = tf.add(tf.mul(v, b2), tf.mul(tf.square(grad), 1 - b2));
        const update = tf.div(tf.div(m2, c1), tf.add(tf.sqrt(tf.div(v2, c2)), eps));
        const p2 = tf.sub(tf.mul(param, 1 - lr * wd), tf.mul(update, lr));
        // |param·(1−lr·wd)| + |lr·update|: what the float32 error of the final subtraction scales with.
        const scale = tf.add(tf.abs(tf.mul(param, 1 - lr * wd)), tf.abs(tf.mul(update, lr)));
        return [p2, m2, v2, scale].map((t) => t.dataSync() as Float32Array);
      });
      // Same float32 operations in the same order: relative 1e-6 (≈16 ulp) allows for sqrt/div differences.
      expectClose(`adamW m' ${count}`, mN!, mR!, (i) => 1e-6 * Math.abs(mR![i]!) + 1e-30);
      expectClose(`adamW v' ${count}`, vN!, vR!, (i) => 1e-6 * Math.abs(vR![i]!) + 1e-30);
      expectClose(`adamW param' ${count}`, pN!, pR!, (i) => 1e-6 * termScale![i]! + 1e-30);
      tf.dispose([param, grad, m, v]);
    }
  });

  it('rejects other dtypes with an error naming the kernel, and mismatched shapes', () => {
    const xi = tf.tensor([1, 2, 3], [3], 'int32');
    const xf = tf.tensor([1, 2, 3]);
    const g = tf.ones([3]);
    const g2 = tf.ones([2]);
    const x4 = tf.ones([4]);
    const before = { tensors: tf.memory().numTensors, ids: wasmBackend().numDataIds() };
    expect(() => runKernel('AdaptersGelu', { x: xi })).toThrow(/AdaptersGelu.*int32/);
    expect(() => runKernel('AdaptersGeluGrad', { dy: xf, x: xi })).toThrow(/AdaptersGeluGrad.*int32/);
    expect(() => runKernel('AdaptersSoftmaxGrad', { dy: xi, y: xf })).toThrow(/AdaptersSoftmaxGrad.*int32/);
    expect(() => runKernel('AdaptersLayerNorm', { x: xi, gamma: g, beta: g }, { epsilon: 1e-5 })).toThrow(/AdaptersLayerNorm.*int32/);
    expect(() => runKernel('AdaptersLayerNormGrad', { dy: xf, x: xi, gamma: g, mean: g, rstd: g }))
      .toThrow(/AdaptersLayerNormGrad.*int32/);
    const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, step: 1 };
    expect(() => runKernel('AdaptersAdamW', { param: xi, grad: xf, m: xf, v: xf }, adam)).toThrow(/AdaptersAdamW.*int32/);
    expect(() => runKernel('AdaptersGeluGrad', { dy: x4, x: xf })).toThrow(/AdaptersGeluGrad.*shape/);
    expect(() => runKernel('AdaptersLayerNorm', { x: xf, gamma: g2, beta: g }, { epsilon: 1e-5 }))
      .toThrow(/AdaptersLayerNorm.*gamma/);
    expect(() => runKernel('AdaptersAdamW', { param: xf, grad: xf, m: xf, v: xf }, { ...adam, step: 0 })).toThrow(/step/);
    // Failed calls leave no outputs behind.
    expect(tf.memory().numTensors).toBe(before.tensors);
    expect(wasmBackend().numDataIds()).toBe(before.ids);
    tf.dispose([xi, xf, g, g2, x4]);
  });

  it('leaks no tensors or wasm data over repeated calls', () => {
    const x = tf.tensor(randomArray(6 * 10, 1), [6, 10]);
    const g = tf.ones([10]);
    const eps = { epsilon: 1e-5 };
    const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: 2 };
    const once = () => {
      tf.dispose(runKernel('AdaptersGelu', { x }));
      tf.dispose(runKernel('AdaptersGeluGrad', { dy: x, x }));
      tf.dispose(runKernel('AdaptersSoftmaxGrad', { dy: x, y: x }));
      const [y, mean, rstd] = runKernel('AdaptersLayerNorm', { x, gamma: g, beta: g }, eps);
      tf.dispose(runKernel('AdaptersLayerNormGrad', { dy: x, x, gamma: g, mean: mean!, rstd: rstd! }));
      tf.dispose([y, mean, rstd]);
      tf.dispose(tf.tidy(() => runKernel('AdaptersAdamW', { param: x, grad: x, m: x, v: tf.abs(x) }, adam)));
    };
    once();
    const wb = wasmBackend();
    const before = { tensors: tf.memory().numTensors, ids: wb.numDataIds(), heap: wb.heapBytes() };
    for (let i = 0; i < 200; i++) once();
    expect(tf.memory().numTensors).toBe(before.tensors);
    expect(wb.numDataIds()).toBe(before.ids);
    expect(wb.heapBytes()).toBe(before.heap);
    tf.dispose([x, g]);
  });

  it('enableNativeKernels registers them, disableNativeKernels removes them', () => {
    expect(FUSED_KERNELS).toEqual(['AdaptersGelu', 'AdaptersGeluGrad', 'AdaptersSoftmaxGrad', 'AdaptersLayerNorm',
      'AdaptersLayerNormGrad', 'AdaptersAdamW', 'AdaptersDropoutMask', 'AdaptersScatterAddRows', 'AdaptersAddLayerNorm',
      'AdaptersBottleneck', 'AdaptersAttention', 'AdaptersAttentionTrain', 'AdaptersAttentionGrad']);
    const on = enableNativeKernels();
    expect(on.enabled).toBe(true);
    expect(on.kernels).toEqual(expect.arrayContaining([...FUSED_KERNELS, 'BatchMatMul']));
    for (const name of FUSED_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeDefined();
    disableNativeKernels();
    expect(tf.getKernel('AdaptersGelu', 'wasm')).toBeUndefined();
    for (const name of FUSED_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeUndefined();
    expect(nativeKernelStatus().kernels).toEqual([]);
    // Re-enabling works (idempotent registration, nothing left over from the previous round).
    expect(enableNativeKernels().kernels).toEqual(expect.arrayContaining([...FUSED_KERNELS]));
    expect(enableNativeKernels().kernels.filter((k) => k === 'AdaptersGelu')).toHaveLength(1);
  });
});

describeNative('AdaptersDropoutMask', () => {
  beforeAll(() => enableNativeKernels());
  afterAll(() => disableNativeKernels());

  // The generator, written out independently of kernels.ts (this file's own splitmix32 and lowbias32).
  const mix = (x: number) => {
    let z = (x + 0x9e3779b9) | 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const hash = (x: number) => {
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
    return (x ^ (x >>> 16)) >>> 0;
  };
  const expected = (n: number, rate: number, seed: number): Float32Array => {
    const k1 = mix(seed >>> 0);
    const k2 = mix(k1);
    const t = Math.floor((1 - rate) * 2 ** 32);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) if (hash((hash((i ^ k1) >>> 0) + k2) >>> 0) < t) out[i] = 1 / (1 - rate);
    return out;
  };
  const mask = (shape: number[], rate: number, seed: number): Float32Array => {
    const t = tf.engine().runKernel('AdaptersDropoutMask', {}, { shape, rate, seed } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  };

  it('matches the generator bit for bit (shapes, rates, seeds incl. 0 and 2³²−1)', () => {
    for (const [shape, rate, seed] of [[[8], 0.5, 42], [[3, 7, 5], 0.1, 0], [[1000], 0.9, 4294967295], [[64, 33], 0.25, 123456]] as const) {
      expect(mask([...shape], rate, seed)).toEqual(expected(sizeOf([...shape]), rate, seed));
    }
  });

  it('agrees with values computed in Python integer arithmetic (seed 42, rate 0.5)', () => {
    expect([...mask([8], 0.5, 42)]).toEqual([2, 2, 0, 0, 0, 2, 2, 0]);
  });

  it('rate 0 keeps everything; an empty shape gives an empty mask', () => {
    expect([...mask([5], 0, 7)]).toEqual([1, 1, 1, 1, 1]);
    expect(mask([0, 4], 0.5, 1)).toHaveLength(0);
  });

  it('names bad attributes', () => {
    expect(() => mask([2], 1, 0)).toThrow(/AdaptersDropoutMask.*rate/);
    expect(() => mask([2.5], 0.5, 0)).toThrow(/AdaptersDropoutMask.*shape/);
  });
});

describeNative('AdaptersScatterAddRows', () => {
  beforeAll(() => enableNativeKernels());
  afterAll(() => disableNativeKernels());

  const scatter = (dy: tf.Tensor, ids: tf.Tensor, rows: number, width: number): tf.Tensor =>
    tf.engine().runKernel('AdaptersScatterAddRows', { dy, ids }, { rows, width } as unknown as tf.NamedAttrMap) as tf.Tensor;

  it('adds each row of dy into its id\'s row, in order (bit-identical to a sequential float32 loop)', () => {
    const [count, width, rows] = [50, 7, 9];
    const d = randomArray(count * width, 5);
    const idv = Int32Array.from({ length: count }, (_v, i) => (i * 7) % rows);
    const want = new Float32Array(rows * width);
    for (let i = 0; i < count; i++) for (let j = 0; j < width; j++) want[idv[i]! * width + j] = Math.fround(want[idv[i]! * width + j]! + d[i * width + j]!);
    const [dy, ids] = [tf.tensor(d, [5, 10, width]), tf.tensor(idv, [5, 10], 'int32')];
    const out = scatter(dy, ids, rows, width);
    expect(out.shape).toEqual([rows, width]);
    expect(out.dataSync()).toEqual(want);
    tf.dispose([dy, ids, out]);
  });

  it('rows no id points at are zero; no ids gives an all-zero table', () => {
    const out = scatter(tf.zeros([0, 3]), tf.zeros([0], 'int32'), 4, 3);
    expect([...out.dataSync()]).toEqual(new Array(12).fill(0));
    out.dispose();
  });

  it('names an id outside the table and bad shapes', () => {
    const dy = tf.ones([2, 3]);
    expect(() => scatter(dy, tf.tensor([0, 4], [2], 'int32'), 4, 3)).toThrow(/id 4 at position 1 is outside \[0, 4\)/);
    expect(() => scatter(dy, tf.tensor([0, -1], [2], 'int32'), 4, 3)).toThrow(/id -1/);
    expect(() => scatter(dy, tf.tensor([0, 1], [2], 'int32'), 4, 2)).toThrow(/not 2 rows of width 2/);
    expect(() => scatter(dy, tf.tensor([0, 1], [2], 'float32'), 4, 3)).toThrow(/ids.*int32/);
    dy.dispose();
  });
});

describeNative('AdaptersAddLayerNorm', () => {
  beforeAll(() => enableNativeKernels());
  afterAll(() => disableNativeKernels());

  it('equals LayerNorm of the float32 sum (float64 reference), odd widths and one row included', () => {
    for (const [rows, n] of [[1, 7], [5, 33], [64, 384]] as const) {
      const [av, bv, gv, be] = [randomArray(rows * n, 1 + n), randomArray(rows * n, 2 + n), randomArray(n, 3 + n), randomArray(n, 4 + n)];
      const [a, b, g, beta] = [tf.tensor(av, [rows, n]), tf.tensor(bv, [rows, n]), tf.tensor(gv), tf.tensor(be)];
      const y = runKernel('AdaptersAddLayerNorm', { a, b, gamma: g, beta }, { epsilon: 1e-5 })[0]!;
      const out = y.dataSync();
      let worst = 0;
      for (let r = 0; r < rows; r++) {
        const s = Array.from({ length: n }, (_v, j) => Math.fround(av[r * n + j]! + bv[r * n + j]!));
        const mu = s.reduce((p, v) => p + v, 0) / n;
        const rs = 1 / Math.sqrt(s.reduce((p, v) => p + (v - mu) ** 2, 0) / n + 1e-5);
        for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(out[r * n + j]! - ((s[j]! - mu) * rs * gv[j]! + be[j]!)));
      }
      // Normalised values are O(1); float32 rounding of the centred value, rstd and the affine step: a few ulps.
      expect(worst).toBeLessThan(2e-6);
      tf.dispose([a, b, g, beta, y]);
    }
  });

  it('with a third summand c: LayerNorm((a + b) + c), bit-identical to adding first in float32', () => {
    const [rows, n] = [9, 40];
    const [a, b, c] = [1, 2, 3].map((k) => tf.tensor(randomArray(rows * n, 10 + k), [rows, n]));
    const [g, beta] = [tf.tensor(randomArray(n, 20)), tf.tensor(randomArray(n, 21))];
    const three = runKernel('AdaptersAddLayerNorm', { a: a!, b: b!, c: c!, gamma: g, beta }, { epsilon: 1e-12 })[0]!;
    const ab = tf.add(a!, b!);
    const two = runKernel('AdaptersAddLayerNorm', { a: ab, b: c!, gamma: g, beta }, { epsilon: 1e-12 })[0]!;
    expect(three.dataSync()).toEqual(two.dataSync());
    tf.dispose([a!, b!, c!, g, beta, three, ab, two]);
  });

  it('names a shape mismatch', () => {
    const [a, b, g] = [tf.ones([2, 4]), tf.ones([2, 3]), tf.ones([4])];
    expect(() => runKernel('AdaptersAddLayerNorm', { a, b, gamma: g, beta: g }, { epsilon: 1e-5 })).toThrow(/AdaptersAddLayerNorm.*'b'/);
    tf.dispose([a, b, g]);
  });
});

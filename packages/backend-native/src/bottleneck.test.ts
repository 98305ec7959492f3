import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import { disableNativeKernels, enableNativeKernels } from './index';
import { describeNative, randomArray, withPanels } from './test-util';

// AdaptersBottleneck against a float64 recomputation of its contract, written out here independently of the C.

type Activation = 'identity' | 'relu' | 'swish' | 'gelu';

/** erf by its Maclaurin series (|x| < 3 here: ample accuracy) for the GELU reference. */
function erf(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-18; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const ACT: Record<Activation, (v: number) => number> = {
  identity: (v) => v,
  relu: (v) => Math.max(0, v),
  swish: (v) => v / (1 + Math.exp(-v)),
  gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
};

interface Case {
  rows: number;
  w: number;
  m: number;
  activation: Activation;
  pre: boolean;
  scale: number;
  seed: number;
}

function layerNorm64(row: number[], g: Float32Array, b: Float32Array, eps: number): number[] {
  const mu = row.reduce((s, v) => s + v, 0) / row.length;
  const rs = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / row.length + eps);
  return row.map((v, j) => (v - mu) * rs * g[j]! + b[j]!);
}

function makeInputs(c: Case) {
  const { rows, w, m, seed } = c;
  const v = {
    h: randomArray(rows * w, seed + 1), x: randomArray(rows * w, seed + 2),
    // Scaled like trained adapters: the bottleneck's contribution is a fraction of the residual.
    wDown: randomArray(w * m, seed + 3).map((t) => t / Math.sqrt(w)), bDown: randomArray(m, seed + 4).map((t) => t * 0.1),
    wUp: randomArray(m * w, seed + 5).map((t) => t / Math.sqrt(m)), bUp: randomArray(w, seed + 6).map((t) => t * 0.1),
    gamma: randomArray(w, seed + 7).map((t) => 1 + 0.5 * t), beta: randomArray(w, seed + 8),
    preGamma: randomArray(w, seed + 9).map((t) => 1 + 0.5 * t), preBeta: randomArray(w, seed + 10),
  };
  const shapes: Record<keyof typeof v, number[]> = {
    h: [rows, w], x: [rows, w], wDown: [w, m], bDown: [m], wUp: [m, w], bUp: [w], gamma: [w], beta: [w], preGamma: [w], preBeta: [w],
  };
  return { v, shapes };
}

function reference(c: Case, v: ReturnType<typeof makeInputs>['v']): Float64Array {
  const { rows, w, m } = c;
  const out = new Float64Array(rows * w);
  for (let r = 0; r < rows; r++) {
    const h = Array.from(v.h.subarray(r * w, (r + 1) * w));
    const x = Array.from(v.x.subarray(r * w, (r + 1) * w));
    const a = c.pre ? layerNorm64(h.map((hv, j) => hv + x[j]!), v.preGamma, v.preBeta, 1e-12) : h;
    const d = Array.from({ length: m }, (_z, k) => ACT[c.activation](a.reduce((s, av, j) => s + av * v.wDown[j * m + k]!, v.bDown[k]!)));
    const sum = Array.from({ length: w }, (_z, j) => d.reduce((s, dv, k) => s + dv * v.wUp[k * w + j]!, v.bUp[j]!) * c.scale + h[j]! + x[j]!);
    out.set(layerNorm64(sum, v.gamma, v.beta, 1e-5), r * w);
  }
  return out;
}

function runNative(c: Case, v: ReturnType<typeof makeInputs>['v'], shapes: ReturnType<typeof makeInputs>['shapes']): Float32Array {
  return tf.tidy(() => {
    const t = Object.fromEntries(Object.entries(v).map(([k, a]) => [k, tf.tensor(a, shapes[k as keyof typeof shapes])])) as Record<keyof typeof v, tf.Tensor>;
    const { preGamma, preBeta, ...rest } = t;
    const inputs = c.pre ? { ...rest, preGamma, preBeta } : rest;
    const y = tf.engine().runKernel('AdaptersBottleneck', inputs, { activation: c.activation, scale: c.scale, epsilon: 1e-5, preEpsilon: 1e-12 }) as tf.Tensor;
    return y.dataSync() as Float32Array;
  });
}

describeNative('AdaptersBottleneck', () => {
  beforeAll(() => enableNativeKernels());
  afterAll(() => disableNativeKernels());

  // Widths and bottleneck sizes that hit every column path of the C loops (two v16 blocks, v16 + v8, v16, v8,
  // scalar tails) and row counts that leave short blocks and odd pairs; 300 and 520 rows run on several threads.
  const cases: Case[] = [
    { rows: 1, w: 16, m: 1, activation: 'relu', pre: true, scale: 1, seed: 10 },
    { rows: 9, w: 24, m: 24, activation: 'relu', pre: true, scale: 1, seed: 20 },
    { rows: 7, w: 40, m: 3, activation: 'swish', pre: false, scale: 1, seed: 30 },
    { rows: 33, w: 72, m: 40, activation: 'gelu', pre: true, scale: 0.5, seed: 40 },
    { rows: 16, w: 384, m: 24, activation: 'relu', pre: true, scale: 1, seed: 50 },
    { rows: 300, w: 64, m: 72, activation: 'identity', pre: false, scale: 2, seed: 60 },
    { rows: 520, w: 96, m: 16, activation: 'swish', pre: true, scale: 1, seed: 70 },
    { rows: 130, w: 50, m: 9, activation: 'gelu', pre: false, scale: 1, seed: 80 },
    // MiniLM's Pfeiffer shape but 16 columns wider (the 8-row up-projection's single-v16 tail) and a short last block.
    { rows: 45, w: 400, m: 24, activation: 'relu', pre: true, scale: 0.7, seed: 90 },
  ];

  it.each(cases)('matches the float64 contract: %j', (c) => {
    const { v, shapes } = makeInputs(c);
    const got = runNative(c, v, shapes);
    const want = reference(c, v);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    // Outputs are LayerNorm-ed (O(1)); the float32 error is a few ulps of the pre-norm sums (|sum| ≲ 4, sums of
    // ≤ 384 products) amplified by rstd (≲ 3 here), plus the 1.5e-7 of the GELU/exp approximations. Observed
    // ≤ 9e-7 over these cases; 5e-6 leaves room for other compilers' FMA contraction.
    expect(worst).toBeLessThan(5e-6);
  });

  it('gives bit-identical rows however the rows are split over threads', () => {
    const addon = loadAddon().addon!;
    const c: Case = { rows: 520, w: 96, m: 24, activation: 'relu', pre: true, scale: 1, seed: 90 };
    const { v, shapes } = makeInputs(c);
    const threads = addon.info().threads;
    try {
      addon.setNumThreads(1);
      const one = runNative(c, v, shapes);
      addon.setNumThreads(3);
      const three = runNative(c, v, shapes);
      expect(Buffer.from(three.buffer).equals(Buffer.from(one.buffer))).toBe(true);
    } finally {
      addon.setNumThreads(threads);
    }
  });

  it('the narrow panels (ADAPTERS_ATTENTION_NARROW=1, what CPUs without AVX-512 run) give the wide panels\' bits', () => {
    // The v16 panels are forced on any CPU, so both widths are compared everywhere.
    for (const c of [{ rows: 77, w: 104, m: 24, activation: 'relu', pre: true, scale: 1, seed: 5 }, { rows: 9, w: 40, m: 19, activation: 'swish', pre: false, scale: 0.5, seed: 6 }] as Case[]) {
      const { v, shapes } = makeInputs(c);
      const wide = withPanels('wide', () => runNative(c, v, shapes));
      const narrow = withPanels('narrow', () => runNative(c, v, shapes));
      expect(Buffer.from(narrow.buffer).equals(Buffer.from(wide.buffer))).toBe(true);
    }
  });

  it('names the offending input or attr, and leaks nothing', () => {
    const { v, shapes } = makeInputs({ rows: 4, w: 8, m: 2, activation: 'relu', pre: false, scale: 1, seed: 1 });
    const t = Object.fromEntries(Object.entries(v).map(([k, a]) => [k, tf.tensor(a, shapes[k as keyof typeof shapes])])) as Record<string, tf.Tensor>;
    const { preGamma, preBeta, ...rest } = t;
    const attrs = { activation: 'relu', scale: 1, epsilon: 1e-5, preEpsilon: 1e-5 };
    const before = tf.memory().numTensors;
    const run = (inputs: Record<string, tf.Tensor>, a: Record<string, unknown> = attrs) => () => tf.engine().runKernel('AdaptersBottleneck', inputs, a as tf.NamedAttrMap);
    expect(run({ ...rest, wUp: tf.zeros([3, 8]) })).toThrow(/input 'wUp' has shape \[3,8\], expected \[2,8\]/);
    expect(run({ ...rest, x: tf.zeros([4, 9]) })).toThrow(/input 'x' has shape \[4,9\]/);
    expect(run({ ...rest, preGamma: preGamma! })).toThrow(/'preGamma' and 'preBeta' or neither/);
    expect(run(rest, { ...attrs, activation: 'tanh' })).toThrow(/attr 'activation' must be one of identity, relu, swish, gelu, got 'tanh'/);
    expect(run({ ...rest, h: tf.zeros([4, 8], 'int32') })).toThrow(/input 'h' has dtype int32/);
    expect(tf.memory().numTensors).toBe(before + 3); // only the tensors made for the bad inputs
    for (let i = 0; i < 50; i++) tf.dispose(tf.engine().runKernel('AdaptersBottleneck', { ...rest, preGamma: preGamma!, preBeta: preBeta! }, attrs) as tf.Tensor);
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose(Object.values(t));
  });
});

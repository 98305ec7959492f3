import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import { disableNativeKernels, enableNativeKernels } from './index';
import { describeNative, randomArray, withPanels } from './test-util';

// AdaptersAttentionTrain / AdaptersAttentionGrad against a float64 recomputation of their contract (ops/fused.ts in
// core-graph), written out here independently of the C, dropout mask included.

interface Case {
  batch: number;
  seq: number;
  heads: number;
  dh: number;
  masked: boolean;
  rate: number;
  seed: number;
  /** Prefix rows: none, shared by the batch ([prefix, hidden]) or per example ([batch, prefix, hidden]). */
  prefix?: { rows: number; perExample: boolean };
}

const imul = Math.imul;
const splitmix32 = (x: number): number => {
  let z = (x + 0x9e3779b9) | 0;
  z = imul(z ^ (z >>> 16), 0x85ebca6b);
  z = imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
};
const lowbias32 = (x: number): number => {
  x ^= x >>> 16;
  x = imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
};

/** Entry i of the inverted-dropout mask (dropout-mask.ts): 1/(1 − rate) or 0. */
function maskEntry(c: Case): (i: number) => number {
  if (c.rate === 0) return () => 1;
  const k1 = splitmix32(c.seed >>> 0);
  const k2 = splitmix32(k1);
  const threshold = Math.floor((1 - c.rate) * 4294967296);
  const keep = Math.fround(1 / (1 - c.rate));
  return (i) => (lowbias32((lowbias32((i ^ k1) >>> 0) + k2) >>> 0) < threshold ? keep : 0);
}

function makeInputs(c: Case) {
  const n = c.batch * c.seq * c.heads * c.dh;
  // Batch row b pads its last b % 3 positions (key 0 always attends).
  const mask = new Float32Array(c.batch * c.seq).map((_z, i) => (c.masked && i % c.seq > 0 && i % c.seq >= c.seq - (Math.floor(i / c.seq) % 3) ? 0 : 1));
  const pn = (c.prefix?.rows ?? 0) * c.heads * c.dh * (c.prefix?.perExample ? c.batch : 1);
  return {
    q: randomArray(n, c.seed + 1), k: randomArray(n, c.seed + 2), v: randomArray(n, c.seed + 3), dy: randomArray(n, c.seed + 4), mask,
    pk: randomArray(pn, c.seed + 5), pv: randomArray(pn, c.seed + 6),
  };
}

/** Float64 forward (context, probabilities) and backward (dq, dk, dv, and the prefix's dpk, dpv). */
function reference(c: Case, x: ReturnType<typeof makeInputs>) {
  const { batch, seq, heads, dh } = c;
  const h = heads * dh;
  const p = c.prefix?.rows ?? 0;
  const t = p + seq;
  const scale = 1 / Math.sqrt(dh);
  const m = maskEntry(c);
  const at = (b: number, i: number, hd: number, d: number) => (b * seq + i) * h + hd * dh + d;
  // Key/value row j of batch b: the prefix's rows first, then the sequence's ([array, index of element d = 0]).
  const pre = (b: number, j: number, hd: number) => ((c.prefix?.perExample ? b * p : 0) + j) * h + hd * dh;
  const key = (b: number, j: number, hd: number): [Float32Array, number] => (j < p ? [x.pk, pre(b, j, hd)] : [x.k, at(b, j - p, hd, 0)]);
  const val = (b: number, j: number, hd: number): [Float32Array, number] => (j < p ? [x.pv, pre(b, j, hd)] : [x.v, at(b, j - p, hd, 0)]);
  const out = new Float64Array(batch * seq * h);
  const probs = new Float64Array(batch * heads * seq * t);
  const [dq, dk, dv] = [0, 1, 2].map(() => new Float64Array(batch * seq * h)) as [Float64Array, Float64Array, Float64Array];
  const [dpk, dpv] = [new Float64Array(x.pk.length), new Float64Array(x.pv.length)];
  for (let b = 0; b < batch; b++) {
    for (let hd = 0; hd < heads; hd++) {
      for (let i = 0; i < seq; i++) {
        const row = ((b * heads + hd) * seq + i) * t;
        const s = Array.from({ length: t }, (_z, j) => {
          const [ka, ko] = key(b, j, hd);
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += x.q[at(b, i, hd, d)]! * ka[ko + d]!;
          return dot * scale + (j < p ? 0 : (1 - x.mask[b * seq + j - p]!) * -1e9);
        });
        const mx = Math.max(...s);
        const e = s.map((z) => Math.exp(z - mx));
        const sum = e.reduce((acc, z) => acc + z, 0);
        for (let j = 0; j < t; j++) probs[row + j] = e[j]! / sum;
        const dp = Array.from({ length: t }, (_z, j) => {
          const [va, vo] = val(b, j, hd);
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += x.dy[at(b, i, hd, d)]! * va[vo + d]!;
          return dot * m(row + j);
        });
        const rowdot = dp.reduce((acc, g, j) => acc + g * probs[row + j]!, 0);
        for (let j = 0; j < t; j++) {
          const pj = probs[row + j]!;
          const ds = scale * pj * (dp[j]! - rowdot);
          const [ka, ko] = key(b, j, hd);
          const [va, vo] = val(b, j, hd);
          const [dka, dko] = j < p ? [dpk, pre(b, j, hd)] : [dk, at(b, j - p, hd, 0)];
          const [dva, dvo] = j < p ? [dpv, pre(b, j, hd)] : [dv, at(b, j - p, hd, 0)];
          for (let d = 0; d < dh; d++) {
            out[at(b, i, hd, d)]! += pj * m(row + j) * va[vo + d]!;
            dva[dvo + d]! += pj * m(row + j) * x.dy[at(b, i, hd, d)]!;
            dq[at(b, i, hd, d)]! += ds * ka[ko + d]!;
            dka[dko + d]! += ds * x.q[at(b, i, hd, d)]!;
          }
        }
      }
    }
  }
  return { out, probs, dq, dk, dv, dpk, dpv };
}

function runNative(c: Case, x: ReturnType<typeof makeInputs>): Float32Array[] {
  return tf.tidy(() => {
    const shape = [c.batch, c.seq, c.heads * c.dh];
    const [q, k, v, dy] = [x.q, x.k, x.v, x.dy].map((a) => tf.tensor(a, shape));
    const attrs = { heads: c.heads, scale: 1 / Math.sqrt(c.dh), rate: c.rate, seed: c.seed };
    const inputs: tf.NamedTensorMap = { q: q!, k: k!, v: v! };
    if (c.masked) inputs['mask'] = tf.tensor(x.mask, [c.batch, c.seq]);
    const prefix: tf.NamedTensorMap = {};
    if (c.prefix) {
      const pshape = c.prefix.perExample ? [c.batch, c.prefix.rows, c.heads * c.dh] : [c.prefix.rows, c.heads * c.dh];
      [prefix['prefixK'], prefix['prefixV']] = [tf.tensor(x.pk, pshape), tf.tensor(x.pv, pshape)];
    }
    const [out, probs] = tf.engine().runKernel('AdaptersAttentionTrain', { ...inputs, ...prefix }, attrs) as tf.Tensor[];
    const grads = tf.engine().runKernel('AdaptersAttentionGrad', { dy: dy!, q: q!, k: k!, v: v!, probs: probs!, ...prefix }, attrs) as tf.Tensor[];
    return [out!, probs!, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

const worst = (got: Float32Array, want: Float64Array): number => got.reduce((m, g, i) => Math.max(m, Math.abs(g - want[i]!)), 0);

describeNative('AdaptersAttentionTrain / AdaptersAttentionGrad', () => {
  beforeAll(() => enableNativeKernels());
  afterAll(() => disableNativeKernels());

  // Head sizes below, at and between the 16-wide column blocks, sequence lengths that leave short 4-row query blocks
  // and key counts that are not multiples of 16, with and without padding and dropout.
  const cases: Case[] = [
    { batch: 1, seq: 1, heads: 1, dh: 5, masked: false, rate: 0, seed: 10 },
    { batch: 2, seq: 7, heads: 3, dh: 16, masked: true, rate: 0.1, seed: 20 },
    { batch: 3, seq: 13, heads: 2, dh: 24, masked: true, rate: 0.5, seed: 30 },
    { batch: 2, seq: 33, heads: 4, dh: 32, masked: true, rate: 0.1, seed: 40 },
    { batch: 1, seq: 40, heads: 2, dh: 64, masked: false, rate: 0, seed: 50 },
    { batch: 3, seq: 9, heads: 2, dh: 16, masked: true, rate: 0.1, seed: 60, prefix: { rows: 5, perExample: false } },
    { batch: 2, seq: 6, heads: 3, dh: 8, masked: true, rate: 0.3, seed: 70, prefix: { rows: 30, perExample: true } },
  ];

  it.each(cases)('matches the float64 contract: %j', (c) => {
    const x = makeInputs(c);
    const [out, probs, dq, dk, dv, dpk, dpv] = runNative(c, x);
    const want = reference(c, x);
    // Entries in [-1, 1): probabilities to a few ulps; the context and gradients are sums over seq keys and dh
    // products (each ≲ 2^-23 relative, times the dropout scale ≤ 2): 2^-21·(seq + dh + 16) bounds them.
    const tol = 2 ** -21 * (c.seq + c.dh + 16);
    expect(worst(probs!, want.probs)).toBeLessThan(1e-6);
    expect(worst(out!, want.out)).toBeLessThan(tol);
    expect(worst(dq!, want.dq)).toBeLessThan(tol);
    expect(worst(dk!, want.dk)).toBeLessThan(tol);
    expect(worst(dv!, want.dv)).toBeLessThan(tol);
    expect(dpk === undefined).toBe(c.prefix === undefined);
    if (c.prefix) {
      // A shared prefix sums its gradient over the batch's examples: up to `batch` more rounding steps.
      expect(worst(dpk!, want.dpk)).toBeLessThan(tol * c.batch);
      expect(worst(dpv!, want.dpv)).toBeLessThan(tol * c.batch);
    }
  });

  it('gives bit-identical results however the (batch, head) pairs are split over threads', () => {
    const addon = loadAddon().addon!;
    const c: Case = { batch: 3, seq: 64, heads: 6, dh: 32, masked: true, rate: 0.1, seed: 90, prefix: { rows: 4, perExample: false } };
    const x = makeInputs(c);
    const threads = addon.info().threads;
    try {
      addon.setNumThreads(1);
      const one = runNative(c, x);
      addon.setNumThreads(3);
      const three = runNative(c, x);
      for (let i = 0; i < one.length; i++) expect(Buffer.from(three[i]!.buffer).equals(Buffer.from(one[i]!.buffer))).toBe(true);
    } finally {
      addon.setNumThreads(threads);
    }
  });

  it('the narrow panels (ADAPTERS_ATTENTION_NARROW=1, what CPUs without AVX-512 run) give the wide panels\' bits', () => {
    // The 32-column v16 panels are forced on any CPU, so both widths are compared everywhere.
    const cases: Case[] = [
      { batch: 2, seq: 45, heads: 3, dh: 40, masked: true, rate: 0.2, seed: 17, prefix: { rows: 3, perExample: true } },
      { batch: 3, seq: 128, heads: 2, dh: 32, masked: true, rate: 0.1, seed: 18 },
      { batch: 1, seq: 19, heads: 2, dh: 8, masked: false, rate: 0, seed: 19, prefix: { rows: 5, perExample: false } },
    ];
    for (const c of cases) {
      const x = makeInputs(c);
      const wide = withPanels('wide', () => runNative(c, x));
      const narrow = withPanels('narrow', () => runNative(c, x));
      expect(wide.length).toBe(narrow.length);
      for (let i = 0; i < wide.length; i++) expect(Buffer.from(narrow[i]!.buffer).equals(Buffer.from(wide[i]!.buffer))).toBe(true);
    }
  });

  it('names the offending input or attr, refuses operands outside the heap, and leaks nothing', () => {
    const q = tf.zeros([2, 3, 8]);
    const probs = tf.zeros([2, 2, 3, 3]);
    const before = tf.memory().numTensors;
    const attrs = { heads: 2, scale: 0.5, rate: 0.1, seed: 1 };
    const train = (inputs: tf.NamedTensorMap, a: tf.NamedAttrMap = attrs) => () => tf.engine().runKernel('AdaptersAttentionTrain', inputs, a);
    const grad = (inputs: tf.NamedTensorMap) => () => tf.engine().runKernel('AdaptersAttentionGrad', inputs, attrs);
    expect(train({ q, k: tf.zeros([2, 3, 9]), v: q })).toThrow(/input 'k' has shape \[2,3,9\], expected \[2,3,8\]/);
    expect(train({ q, k: q, v: q }, { ...attrs, heads: 3 })).toThrow(/attr 'heads' \(3\) must be a positive integer dividing hidden size 8/);
    expect(train({ q, k: q, v: q }, { ...attrs, rate: 1 })).toThrow(/attr 'rate' must be in \[0, 1\), got 1/);
    expect(train({ q, k: q, v: q, mask: tf.ones([2, 4]) })).toThrow(/input 'mask' has shape \[2,4\], expected \[2,3\]/);
    expect(grad({ dy: q, q, k: q, v: q, probs: tf.zeros([2, 2, 3, 4]) })).toThrow(/input 'probs' has shape \[2,2,3,4\], expected \[2,2,3,3\]/);
    expect(grad({ dy: q, q, k: q, v: q })).toThrow(/missing input 'probs'/);
    expect(train({ q, k: q, v: q, prefixK: tf.zeros([2, 8]) })).toThrow(/'prefixK' and 'prefixV' or neither/);
    expect(train({ q, k: q, v: q, prefixK: tf.zeros([2, 8]), prefixV: tf.zeros([3, 8]) })).toThrow(/input 'prefixV' has shape \[3,8\], expected \[2,8\]/);
    expect(tf.memory().numTensors).toBe(before + 6); // only the tensors made for the bad inputs
    const addon = loadAddon().addon!;
    const heap = new ArrayBuffer(1024);
    expect(() => addon.attentionTrain(heap, 0, 0, 0, -1, -1, -1, 0, 1000, 1, 4, 1, 8, 0, false, 1, 0, 0, 2 ** 32, 1)).toThrow(/outside the wasm heap/);
    expect(() => addon.attentionTrain(heap, 0, 0, 0, -1, 1000, 0, 0, 0, 1, 4, 1, 8, 2, false, 1, 0, 0, 2 ** 32, 1)).toThrow(/prefix lies outside the wasm heap/);
    expect(() => addon.attentionTrain(heap, 0, 0, 0, -1, 0, -1, 0, 0, 1, 4, 1, 8, 2, false, 1, 0, 0, 2 ** 32, 1)).toThrow(/both prefix offsets exactly when prefix > 0/);
    expect(() => addon.attentionGrad(heap, 0, 0, 0, 0, -1, -1, 0, 0, 0, 1020, -1, -1, 1, 4, 1, 8, 0, false, 1, 0, 0, 2 ** 32, 1)).toThrow(/outside the wasm heap/);
    expect(() => addon.attentionGrad(heap, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 1, 4, 1, 8, 1, false, 1, 0, 0, 2 ** 32, 1)).toThrow(/outside the wasm heap/);
    for (let i = 0; i < 10; i++) {
      const [out, p] = tf.engine().runKernel('AdaptersAttentionTrain', { q, k: q, v: q }, attrs) as tf.Tensor[];
      tf.dispose([out!, p!, ...(tf.engine().runKernel('AdaptersAttentionGrad', { dy: q, q, k: q, v: q, probs: p! }, attrs) as tf.Tensor[])]);
    }
    expect(tf.memory().numTensors).toBe(before + 6);
    tf.dispose([q, probs]);
  });
});

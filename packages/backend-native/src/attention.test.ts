import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import { disableNativeKernels, enableNativeKernels } from './index';
import { describeNative, randomArray, withPanels } from './test-util';

// AdaptersAttention against a float64 recomputation of its contract (ops/fused.ts in core-graph), written out
// here independently of the C.

interface Case {
  batch: number;
  seq: number;
  heads: number;
  dh: number;
  prefix: number;
  masked: boolean;
  seed: number;
}

function makeInputs(c: Case) {
  const h = c.heads * c.dh;
  const n = c.batch * c.seq * h;
  // Scores of O(1..3) like a trained model's: q and k entries in [-1, 1), scaled by 1/√dh in the kernel.
  // Batch row b pads its last b % 3 positions.
  const mask = new Float32Array(c.batch * c.seq).map((_z, i) => (c.masked && i % c.seq >= c.seq - (Math.floor(i / c.seq) % 3) ? 0 : 1));
  return {
    q: randomArray(n, c.seed + 1), k: randomArray(n, c.seed + 2), v: randomArray(n, c.seed + 3), mask,
    pk: randomArray(c.prefix * h, c.seed + 4), pv: randomArray(c.prefix * h, c.seed + 5),
  };
}

function reference(c: Case, x: ReturnType<typeof makeInputs>): Float64Array {
  const h = c.heads * c.dh;
  const t = c.prefix + c.seq;
  const out = new Float64Array(c.batch * c.seq * h);
  const scale = 1 / Math.sqrt(c.dh);
  const key = (arr: 'k' | 'v', b: number, j: number, hd: number, d: number): number =>
    j < c.prefix ? x[arr === 'k' ? 'pk' : 'pv'][j * h + hd * c.dh + d]! : x[arr][(b * c.seq + j - c.prefix) * h + hd * c.dh + d]!;
  for (let b = 0; b < c.batch; b++) {
    for (let hd = 0; hd < c.heads; hd++) {
      for (let i = 0; i < c.seq; i++) {
        const s: number[] = [];
        for (let j = 0; j < t; j++) {
          let dot = 0;
          for (let d = 0; d < c.dh; d++) dot += x.q[(b * c.seq + i) * h + hd * c.dh + d]! * key('k', b, j, hd, d);
          s.push(dot * scale + (j >= c.prefix && c.masked ? (1 - x.mask[b * c.seq + j - c.prefix]!) * -1e9 : 0));
        }
        const mx = Math.max(...s);
        const e = s.map((z) => Math.exp(z - mx));
        const sum = e.reduce((p, z) => p + z, 0);
        for (let d = 0; d < c.dh; d++) {
          let acc = 0;
          for (let j = 0; j < t; j++) acc += (e[j]! / sum) * key('v', b, j, hd, d);
          out[(b * c.seq + i) * h + hd * c.dh + d] = acc;
        }
      }
    }
  }
  return out;
}

function runNative(c: Case, x: ReturnType<typeof makeInputs>): Float32Array {
  return tf.tidy(() => {
    const shape = [c.batch, c.seq, c.heads * c.dh];
    const inputs: tf.NamedTensorMap = { q: tf.tensor(x.q, shape), k: tf.tensor(x.k, shape), v: tf.tensor(x.v, shape) };
    if (c.masked) inputs['mask'] = tf.tensor(x.mask, [c.batch, c.seq]);
    if (c.prefix > 0) {
      inputs['prefixK'] = tf.tensor(x.pk, [c.prefix, c.heads * c.dh]);
      inputs['prefixV'] = tf.tensor(x.pv, [c.prefix, c.heads * c.dh]);
    }
    const y = tf.engine().runKernel('AdaptersAttention', inputs, { heads: c.heads, scale: 1 / Math.sqrt(c.dh) }) as tf.Tensor;
    return y.dataSync() as Float32Array;
  });
}

describeNative('AdaptersAttention', () => {
  beforeAll(() => enableNativeKernels());
  afterAll(() => disableNativeKernels());

  // Head sizes below, at and between the 16-wide column blocks (5, 16, 24, 32, 40, 64), sequence lengths that leave
  // short 4- and 8-row query blocks and key counts that are not multiples of 16 or 32, with and without padding and a
  // prefix.
  const cases: Case[] = [
    { batch: 1, seq: 1, heads: 1, dh: 5, prefix: 0, masked: false, seed: 10 },
    { batch: 2, seq: 7, heads: 3, dh: 16, prefix: 0, masked: true, seed: 20 },
    { batch: 3, seq: 13, heads: 2, dh: 24, prefix: 4, masked: true, seed: 30 },
    { batch: 2, seq: 33, heads: 4, dh: 32, prefix: 0, masked: true, seed: 40 },
    { batch: 2, seq: 40, heads: 2, dh: 64, prefix: 10, masked: false, seed: 50 },
    { batch: 2, seq: 130, heads: 4, dh: 32, prefix: 0, masked: true, seed: 60 },
    { batch: 1, seq: 21, heads: 2, dh: 40, prefix: 3, masked: true, seed: 70 },
  ];

  // Both block shapes, forced on any CPU: the AVX-512 one (8 rows, 16-wide) and the 8-wide one.
  const paths = [{ path: 'wide' as const }, { path: 'narrow' as const }];
  const onPath = <T>(path: 'wide' | 'narrow', f: () => T): T => withPanels(path, f);

  it.each(paths.flatMap(({ path }) => cases.map((c) => ({ path, ...c }))))('matches the float64 contract: %j', ({ path, ...c }) => {
    const x = makeInputs(c);
    const got = onPath(path, () => runNative(c, x));
    const want = reference(c, x);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    // |v| < 1 and the probabilities sum to 1, so |out| < 1. Float32 error: the context sum over T keys (≤ T ulps of
    // 2^-24), the probabilities' relative error (exp approximation ~2 ulps, normalisation) and the scores' absolute
    // error (dh float32 products of size ≤ 1/√dh), each ≲ 2^-23 per term: bound 2^-23·(T + dh + 16), a worst case;
    // observed ≤ 9.2e-8 over these cases.
    const tol = 2 ** -23 * (c.prefix + c.seq + c.dh + 16);
    expect(worst).toBeLessThan(tol);
  });

  it.each(paths)('gives bit-identical results however the (batch, head) pairs are split over threads ($path)', ({ path }) => {
    const addon = loadAddon().addon!;
    const c: Case = { batch: 3, seq: 61, heads: 6, dh: 40, prefix: 2, masked: true, seed: 90 };
    const x = makeInputs(c);
    const threads = addon.info().threads;
    try {
      addon.setNumThreads(1);
      const one = onPath(path, () => runNative(c, x));
      addon.setNumThreads(3);
      const three = onPath(path, () => runNative(c, x));
      addon.setNumThreads(2);
      const two = onPath(path, () => runNative(c, x));
      expect(Buffer.from(three.buffer).equals(Buffer.from(one.buffer))).toBe(true);
      expect(Buffer.from(two.buffer).equals(Buffer.from(one.buffer))).toBe(true);
    } finally {
      addon.setNumThreads(threads);
    }
  });

  it('gives masked keys exactly zero weight and leaves the caller\'s subnormals alone (it flushes them only inside)', () => {
    // Key 1 of batch row 0 is padded: its value row holds 1e30, which any non-zero weight would reveal.
    const c: Case = { batch: 1, seq: 2, heads: 1, dh: 8, prefix: 0, masked: false, seed: 3 };
    const x = makeInputs(c);
    x.v.fill(1e30, 8, 16);
    const got = tf.tidy(() => (tf.engine().runKernel('AdaptersAttention', {
      q: tf.tensor(x.q, [1, 2, 8]), k: tf.tensor(x.k, [1, 2, 8]), v: tf.tensor(x.v, [1, 2, 8]), mask: tf.tensor([[1, 0]]),
    }, { heads: 1, scale: 1 }) as tf.Tensor).dataSync());
    expect(Array.from(got)).toEqual([...Array.from(x.v.subarray(0, 8)), ...Array.from(x.v.subarray(0, 8))]);
    const tiny = new Float64Array([5e-324, 1e-310]);
    expect(tiny[0]! * 2).toBe(1e-323);
    expect(new Float32Array([1e-40])[0]! > 0).toBe(true);
  });

  it('names the offending input or attr, and leaks nothing', () => {
    const q = tf.zeros([2, 3, 8]);
    const before = tf.memory().numTensors;
    const run = (inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = { heads: 2, scale: 0.5 }) => () =>
      tf.engine().runKernel('AdaptersAttention', inputs, attrs);
    expect(run({ q, k: tf.zeros([2, 3, 9]), v: q })).toThrow(/input 'k' has shape \[2,3,9\], expected \[2,3,8\]/);
    expect(run({ q, k: q, v: q }, { heads: 3, scale: 1 })).toThrow(/attr 'heads' \(3\) must be a positive integer dividing hidden size 8/);
    expect(run({ q, k: q, v: q, mask: tf.ones([2, 4]) })).toThrow(/input 'mask' has shape \[2,4\], expected \[2,3\]/);
    expect(run({ q, k: q, v: q, prefixK: tf.zeros([1, 8]) })).toThrow(/'prefixK' and 'prefixV' or neither/);
    expect(run({ q, k: q, v: tf.zeros([2, 3, 8], 'int32') })).toThrow(/input 'v' has dtype int32/);
    expect(tf.memory().numTensors).toBe(before + 4); // only the tensors made for the bad inputs
    for (let i = 0; i < 20; i++) tf.dispose(tf.engine().runKernel('AdaptersAttention', { q, k: q, v: q }, { heads: 2, scale: 1 }) as tf.Tensor);
    expect(tf.memory().numTensors).toBe(before + 4);
    tf.dispose(q);
  });
});

import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { registerReferenceFusedKernels } from '../testing/fused-reference';
import { applyDropout, dropoutMask } from './dropout-mask';
import { FUSED_KERNELS } from './fused';

// Computed independently (Python integer arithmetic) from the formula in dropout-mask.ts.
const PINNED = [2, 2, 0, 0, 0, 2, 2, 0];

const values = (t: tf.Tensor): Float32Array => {
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
};

describe('dropoutMask', () => {
  it('is a function of (shape, rate, seed): same seed → same mask, other seeds → other masks', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double({ min: 0.05, max: 0.9, noNaN: true }), (seed, rate) => {
      const a = values(dropoutMask([7, 33], rate, seed));
      const b = values(dropoutMask([7, 33], rate, seed));
      const c = values(dropoutMask([7, 33], rate, seed + 1));
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
    }), { numRuns: 30 });
  });

  it('holds only 0 and 1/(1 − rate), keeping a binomial share of entries', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(0.1, 0.25, 0.5, 0.8), (seed, rate) => {
      const n = 20000;
      const m = values(dropoutMask([n], rate, seed));
      const scale = Math.fround(1 / (1 - rate));
      let kept = 0;
      let other = 0;
      for (const v of m) {
        if (v === scale) kept++;
        else if (v !== 0) other++;
      }
      expect(other).toBe(0);
      // Kept ~ Binomial(n, 1 − rate): 5 standard deviations fail a correct generator with probability ~6e-7.
      const sd = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(kept - n * (1 - rate))).toBeLessThan(5 * sd);
    }), { numRuns: 20 });
  });

  it('gives independent masks for neighbouring seeds (both-kept share ≈ (1 − rate)²)', () => {
    const n = 40000;
    const rate = 0.5;
    for (let seed = 0; seed < 50; seed += 7) {
      const a = values(dropoutMask([n], rate, seed));
      const b = values(dropoutMask([n], rate, seed + 1));
      let both = 0;
      for (let i = 0; i < n; i++) if (a[i]! > 0 && b[i]! > 0) both++;
      const p = (1 - rate) ** 2;
      expect(Math.abs(both - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    }
  });

  it('has no serial correlation between neighbouring entries', () => {
    const n = 100000;
    const m = values(dropoutMask([n], 0.5, 12345));
    let both = 0;
    for (let i = 1; i < n; i++) if (m[i]! > 0 && m[i - 1]! > 0) both++;
    expect(Math.abs(both - (n - 1) / 4)).toBeLessThan(5 * Math.sqrt((n - 1) * 0.25 * 0.75));
  });

  it('takes the registered kernel when there is one, with the same values', async () => {
    const unregister = registerReferenceFusedKernels();
    try {
      const info = await tf.profile(() => dropoutMask([3, 70], 0.4, 99).dispose());
      expect(info.kernels.map((k) => k.name)).toContain(FUSED_KERNELS.dropoutMask);
      const viaKernel = values(dropoutMask([3, 70], 0.4, 99));
      unregister();
      expect(viaKernel).toEqual(values(dropoutMask([3, 70], 0.4, 99)));
    } finally {
      unregister();
    }
  });

  it('pins the generator: index 0..7 of seed 42 at rate 0.5', () => {
    // Engine packages reproduce this bit for bit; changing the hash changes every seeded run.
    expect([...values(dropoutMask([8], 0.5, 42))]).toEqual(PINNED);
  });

  it('rate 0 keeps everything at scale 1', () => {
    expect([...values(dropoutMask([5, 3], 0, 9))]).toEqual(new Array(15).fill(1));
  });

  it('names the bad rate', () => {
    expect(() => dropoutMask([2], 1, 0)).toThrow('dropout rate 1 must be in [0, 1)');
    expect(() => dropoutMask([2], -0.1, 0)).toThrow('dropout rate -0.1');
  });
});

describe('applyDropout', () => {
  it('multiplies by the mask, and its gradient is the same mask', () => {
    const x = tf.randomNormal([4, 50]);
    const mask = dropoutMask([4, 50], 0.3, 77);
    const y = applyDropout(x, 0.3, 77);
    expect(y.dataSync()).toEqual(tf.mul(x, mask).dataSync());
    const g = tf.grad((t: tf.Tensor) => tf.sum(applyDropout(t, 0.3, 77)))(x);
    expect(g.dataSync()).toEqual(mask.dataSync());
    tf.dispose([x, mask, y, g]);
  });

  it('leaks no tensors', () => {
    const x = tf.ones([8, 8]);
    applyDropout(x, 0.1, 1).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) applyDropout(x, 0.1, i).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

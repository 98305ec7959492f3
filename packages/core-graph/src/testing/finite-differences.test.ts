import fc from 'fast-check';
import { compareGradients, numericGradient } from './finite-differences';
import { refGelu, refLayerNorm } from './reference-bert';

const sinX2 = (x: Float64Array) => x.reduce((a, v) => a + Math.sin(v) * v * v, 0);
const sinX2Grad = (x: Float64Array) => x.map((v) => Math.cos(v) * v * v + 2 * v * Math.sin(v));

/** Soft-target cross-entropy -Σ t_k log softmax(z)_k, via a max-shifted log-sum-exp. */
const crossEntropy = (t: ArrayLike<number>) => (z: Float64Array) => {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
  let loss = 0;
  for (let k = 0; k < z.length; k++) loss -= t[k]! * (z[k]! - lse);
  return loss;
};
/** d/dz = softmax(z)·Σt - t. */
const crossEntropyGrad = (t: ArrayLike<number>, z: Float64Array) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  let tSum = 0;
  for (let k = 0; k < t.length; k++) tSum += t[k]!;
  return e.map((v, k) => (v / s) * tSum - t[k]!);
};

const arbX = (min: number, max: number, maxLength: number) =>
  fc.array(fc.double({ min, max, noNaN: true }), { minLength: 1, maxLength }).map((a) => Float64Array.from(a));

describe('numericGradient', () => {
  it('sum(sin(x)·x²) agrees with the closed form to 1e-6 (absolute and relative)', () => {
    // Points chosen away from roots of the derivative so the relative error is meaningful.
    const x = Float64Array.from([-2.7, -1.3, -0.4, 0.6, 1.1, 2.2, 3.4]);
    const cmp = compareGradients(sinX2Grad(x), numericGradient(sinX2, x, 1e-4));
    expect(cmp.maxAbsError).toBeLessThan(1e-6);
    expect(cmp.maxRelError).toBeLessThan(1e-6);
  });

  it('sum(sin(x)·x²): property over random points', () => {
    fc.assert(
      fc.property(arbX(-3, 3, 8), (x) => {
        expect(compareGradients(sinX2Grad(x), numericGradient(sinX2, x, 1e-4)).maxAbsError).toBeLessThan(1e-6);
      }),
    );
  });

  it('central differences are second order: 10x smaller step gives ~100x smaller error', () => {
    const x = Float64Array.from([-2.7, -1.3, 0.6, 2.2]);
    const err = (h: number) => compareGradients(sinX2Grad(x), numericGradient(sinX2, x, h)).maxAbsError;
    const ratio = err(1e-3) / err(1e-4);
    expect(ratio).toBeGreaterThan(70);
    expect(ratio).toBeLessThan(130);
    expect(err(1e-3)).toBeLessThan(1e-5); // default-step accuracy on this function
  });

  it('softmax cross-entropy (hard and soft targets) agrees with softmax·Σt - t to 1e-6', () => {
    const z = Float64Array.from([0.3, -1.2, 2.0, 0.7]);
    const hard = [0, 0, 1, 0];
    const cmp = compareGradients(crossEntropyGrad(hard, z), numericGradient(crossEntropy(hard), z, 1e-4));
    expect(cmp.maxAbsError).toBeLessThan(1e-6);
    expect(cmp.maxRelError).toBeLessThan(1e-6);
    fc.assert(
      fc.property(arbX(-6, 6, 6).chain((zz) => fc.tuple(fc.constant(zz), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: zz.length, maxLength: zz.length }))), ([zz, t]) => {
        expect(compareGradients(crossEntropyGrad(t, zz), numericGradient(crossEntropy(t), zz, 1e-4)).maxAbsError).toBeLessThan(1e-6);
      }),
    );
  });

  it('checks reference blocks: GELU derivative Φ(x) + x·φ(x), and LayerNorm backward', () => {
    const x = Float64Array.from([-3.1, -0.8, 0.05, 0.9, 2.4]);
    const phi = (v: number) => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
    const geluGrad = x.map((v) => refGelu(v) / v + v * phi(v)); // Φ(v) = gelu(v)/v for v ≠ 0
    expect(compareGradients(geluGrad, numericGradient((y) => y.reduce((a, v) => a + refGelu(v), 0), x, 1e-4)).maxRelError).toBeLessThan(1e-6);

    // L = Σ w ⊙ LN(x); with g = w ⊙ γ: dL/dx = (g - mean(g) - x̂·mean(g ⊙ x̂)) / σ.
    const gamma = [1.1, 0.9, 1.05, 0.95, 1.2];
    const beta = [0.1, -0.1, 0, 0.05, -0.05];
    const w = [0.3, -1.2, 0.8, 2.0, -0.5];
    const eps = 1e-5;
    const loss = (y: Float64Array) => refLayerNorm(y, 5, eps, gamma, beta).reduce((a, v, i) => a + v * w[i]!, 0);
    const mean = x.reduce((a, v) => a + v, 0) / 5;
    const sigma = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / 5 + eps);
    const xhat = x.map((v) => (v - mean) / sigma);
    const g = w.map((v, i) => v * gamma[i]!);
    const gMean = g.reduce((a, v) => a + v, 0) / 5;
    const gxMean = g.reduce((a, v, i) => a + v * xhat[i]!, 0) / 5;
    const lnGrad = g.map((v, i) => (v - gMean - xhat[i]! * gxMean) / sigma);
    expect(compareGradients(lnGrad, numericGradient(loss, x, 1e-4)).maxAbsError).toBeLessThan(1e-6);
  });

  it('does not mutate x, tolerates f mutating its argument, and validates eps', () => {
    const x = Float64Array.from([1, 2, 3]);
    const g = numericGradient((y) => {
      const s = y[0]! * y[1]! + y[2]!;
      y.fill(99);
      return s;
    }, x);
    expect(Array.from(x)).toEqual([1, 2, 3]);
    expect(compareGradients([2, 1, 1], g).maxAbsError).toBeLessThan(1e-12);
    expect(() => numericGradient(sinX2, x, 0)).toThrow(/eps/);
    expect(numericGradient(sinX2, new Float64Array(0))).toHaveLength(0);
  });
});

describe('compareGradients', () => {
  it('reports max absolute error, relative error with the 1e-8 floor, and the worst relative index', () => {
    // abs errors [0, 0.002, 0, 1e-10]; rel [0, 0.002/2.002, 0, 1e-10/max(1e-10, 2e-10, 1e-8) = 0.01].
    const cmp = compareGradients([1, 2, 0, 1e-10], [1, 2.002, 0, 2e-10]);
    expect(cmp.maxAbsError).toBeCloseTo(0.002, 12);
    expect(cmp.maxRelError).toBeCloseTo(0.01, 10);
    expect(cmp.worstIndex).toBe(3);
    // Above the floor the denominator is max(|a|, |n|).
    expect(compareGradients([3], [4]).maxRelError).toBe(0.25);
  });

  it('surfaces NaN/Infinity and rejects length mismatches', () => {
    expect(compareGradients([1, 2, 3], [1, NaN, 3])).toEqual({ maxAbsError: Infinity, maxRelError: Infinity, worstIndex: 1 });
    expect(compareGradients([], [])).toEqual({ maxAbsError: 0, maxRelError: 0, worstIndex: -1 });
    expect(() => compareGradients([1], [1, 2])).toThrow(/length mismatch/);
  });
});

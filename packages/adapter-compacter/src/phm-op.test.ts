// The PHM op against an explicit float64 Kronecker-sum reference, for random n, k, d, ranks and parameter forms;
// both strategies (build H / contract through the factors) agree in value and gradient; nothing leaks.
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { createRuntime, GraphBuilder } from '@adapters/core-graph';
import { createRefRng } from '@adapters/core-graph/testing';
import { kroneckerSum, phmForward } from './phm-op';
import { compacterPackage } from './index';
import { maxRelErr } from './__tests__/helpers';
import { refBmm, refKron, refKroneckerSum, refPhm } from './__tests__/reference';

const REL_TOL = 1e-5;

interface Case {
  n: number;
  a: number;
  b: number;
  rank: number;
  rows: number;
  factorizedW: boolean;
  factorizedRule: boolean;
  bias: boolean;
  rank3: boolean;
  seed: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  n: fc.integer({ min: 1, max: 5 }),
  a: fc.integer({ min: 1, max: 5 }),
  b: fc.integer({ min: 1, max: 5 }),
  rank: fc.integer({ min: 1, max: 3 }),
  rows: fc.integer({ min: 1, max: 4 }),
  factorizedW: fc.boolean(),
  factorizedRule: fc.boolean(),
  bias: fc.boolean(),
  rank3: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1_000_000 }),
});

function values(size: number, rng: ReturnType<typeof createRefRng>): Float32Array {
  return Float32Array.from({ length: size }, () => rng.normal());
}

/** Random parameter values for a case (float32, so tfjs and the reference see the same numbers). */
function paramsOf(c: Case) {
  const rng = createRefRng(c.seed);
  const { n, a, b, rank } = c;
  const out: Record<string, { shape: number[]; values: Float32Array }> = {};
  if (c.factorizedRule) {
    out['phm_rule_left'] = { shape: [n, n, 1], values: values(n * n, rng) };
    out['phm_rule_right'] = { shape: [n, 1, n], values: values(n * n, rng) };
  } else out['phm_rule'] = { shape: [n, n, n], values: values(n * n * n, rng) };
  if (c.factorizedW) {
    out['W_left'] = { shape: [n, a, rank], values: values(n * a * rank, rng) };
    out['W_right'] = { shape: [n, rank, b], values: values(n * rank * b, rng) };
  } else out['W'] = { shape: [n, a, b], values: values(n * a * b, rng) };
  if (c.bias) out['b'] = { shape: [n * b], values: values(n * b, rng) };
  const x = values(c.rows * n * a, rng);
  return { params: out, x };
}

function reference(c: Case, params: Record<string, { values: Float32Array }>, x: Float32Array): Float64Array {
  const v = (k: string) => params[k]?.values;
  return refPhm(x, {
    n: c.n, a: c.a, b: c.b, rank: c.rank,
    ...(v('phm_rule') ? { rule: v('phm_rule') as Float32Array } : { ruleLeft: v('phm_rule_left') as Float32Array, ruleRight: v('phm_rule_right') as Float32Array }),
    ...(v('W') ? { W: v('W') as Float32Array } : { WLeft: v('W_left') as Float32Array, WRight: v('W_right') as Float32Array }),
    ...(v('b') ? { bias: v('b') as Float32Array } : {}),
  });
}

describe('the float64 reference itself', () => {
  test('refKron follows the definition (A ⊗ B)[i·r + k, j·s + l] = A[i, j]·B[k, l] on a hand example', () => {
    // [[1, 2]] ⊗ [[0, 1], [1, 0]] = [[0, 1, 0, 2], [1, 0, 2, 0]]
    expect(Array.from(refKron([1, 2], 1, 2, [0, 1, 1, 0], 2, 2))).toEqual([0, 1, 0, 2, 1, 0, 2, 0]);
    // Σ over two summands with n = 2: identity rules give block-diagonal copies.
    const H = refKroneckerSum([1, 0, 0, 0, 0, 0, 0, 1], [5, 7], 2, 1, 1);
    expect(Array.from(H)).toEqual([5, 0, 0, 7]);
    expect(Array.from(refBmm([1, 2], [3, 4], 2, 1, 1, 1))).toEqual([3, 8]);
  });
});

describe('phm op: y = x·(Σ_i A_i ⊗ B_i) + b', () => {
  test('kroneckerSum and phmForward (both strategies) match the explicit float64 Kronecker sum for random n, k, d', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { params, x } = paramsOf(c);
        const ref = reference(c, params, x);
        const before = tf.memory().numTensors;
        const [H, kron, factors] = tf.tidy(() => {
          const p: Record<string, tf.Tensor> = {};
          for (const [k, t] of Object.entries(params)) p[k] = tf.tensor(t.values, t.shape);
          const xs = c.rank3 ? tf.tensor(x, [1, c.rows, c.n * c.a]) : tf.tensor(x, [c.rows, c.n * c.a]);
          const rule = p['phm_rule'] ?? tf.matMul(p['phm_rule_left'] as tf.Tensor3D, p['phm_rule_right'] as tf.Tensor3D);
          const w = p['W'] ?? tf.matMul(p['W_left'] as tf.Tensor3D, p['W_right'] as tf.Tensor3D);
          const yK = phmForward(xs, p, 'kron');
          const yF = phmForward(xs, p, 'factors');
          expect(yK.shape).toEqual(c.rank3 ? [1, c.rows, c.n * c.b] : [c.rows, c.n * c.b]);
          return [kroneckerSum(rule as tf.Tensor3D, w as tf.Tensor3D).dataSync(), yK.dataSync(), yF.dataSync()];
        });
        expect(tf.memory().numTensors).toBe(before);
        const v = (k: string) => params[k]?.values as Float32Array;
        const rule64 = v('phm_rule') ?? refBmm(v('phm_rule_left'), v('phm_rule_right'), c.n, c.n, 1, c.n);
        const w64 = v('W') ?? refBmm(v('W_left'), v('W_right'), c.n, c.a, c.rank, c.b);
        expect(maxRelErr(H as Float32Array, refKroneckerSum(rule64, w64, c.n, c.a, c.b))).toBeLessThan(REL_TOL);
        expect(maxRelErr(kron as Float32Array, ref)).toBeLessThan(REL_TOL);
        expect(maxRelErr(factors as Float32Array, ref)).toBeLessThan(REL_TOL);
      }),
      { numRuns: 60, seed: 5 },
    );
  });

  test('both strategies give the same gradients for x and every parameter', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { params, x } = paramsOf(c);
        const before = tf.memory().numTensors;
        tf.tidy(() => {
          const names = Object.keys(params);
          const tensors = [tf.tensor(x, [c.rows, c.n * c.a]), ...names.map((k) => tf.tensor(params[k]?.values as Float32Array, params[k]?.shape))];
          const weights = tf.randomNormal([c.rows, c.n * c.b], 0, 1, 'float32', c.seed);
          const loss = (strategy: 'kron' | 'factors') => (...ts: tf.Tensor[]) => {
            const p = Object.fromEntries(names.map((k, i) => [k, ts[i + 1] as tf.Tensor]));
            return tf.sum(tf.mul(phmForward(ts[0] as tf.Tensor, p, strategy), weights));
          };
          const gK = tf.grads(loss('kron'))(tensors);
          const gF = tf.grads(loss('factors'))(tensors);
          gK.forEach((g, i) => expect(maxRelErr(g.dataSync(), (gF[i] as tf.Tensor).dataSync())).toBeLessThan(1e-4));
        });
        expect(tf.memory().numTensors).toBe(before);
      }),
      { numRuns: 25, seed: 11 },
    );
  });

  test('shape inference names the node and the mismatch', () => {
    const b = new GraphBuilder({}, createRuntime([compacterPackage]));
    const x = b.input('x', ['batch', 6], 'float32');
    const sc = b.scope('p', 'adapter:t');
    const rule = { shape: [2, 2, 2], init: { kind: 'zeros' as const }, kind: 'other' as const };
    expect(() => sc.op('phm', 'bad', [x], { params: { phm_rule: rule, W: { shape: [2, 4, 2], init: { kind: 'zeros' }, kind: 'other' } } })).toThrow(
      /node 'p.bad'.*last dim 6 is not n·\(k\/n\) = 2·4/,
    );
    expect(() => sc.op('phm', 'bad2', [x], { params: { phm_rule: { ...rule, shape: [2, 3, 2] }, W: { shape: [2, 3, 2], init: { kind: 'zeros' }, kind: 'other' } } })).toThrow(
      /phm_rule must be \[n, n, n\]/,
    );
    expect(() => sc.op('phm', 'bad3', [x], { params: { phm_rule: rule } })).toThrow(/needs W, or both W_left and W_right/);
    const ok = sc.op('phm', 'ok', [x], { params: { phm_rule: rule, W_left: { shape: [2, 3, 1], init: { kind: 'zeros' }, kind: 'other' }, W_right: { shape: [2, 1, 5], init: { kind: 'zeros' }, kind: 'other' } } });
    expect(b.typeOf(ok).shape).toEqual(['batch', 10]);
  });
});

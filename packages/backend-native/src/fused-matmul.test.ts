import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { disableNativeKernels, enableNativeKernels } from './index';
import { describeNative, firstMismatch, randomArray, referenceMatMul } from './test-util';

type Activation = 'linear' | 'relu' | 'relu6' | 'leakyrelu' | 'sigmoid' | 'elu';

interface FusedCase {
  batch: number;
  m: number;
  n: number;
  k: number;
  tA: boolean;
  tB: boolean;
  bias: boolean;
  activation: Activation;
  seed: number;
}

const ALPHA = 0.1;
const ACT: Record<Activation, (x: number) => number> = {
  linear: (x) => x,
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  leakyrelu: (x) => (x < 0 ? ALPHA * x : x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  elu: (x) => (x < 0 ? Math.expm1(x) : x),
};

const shapes = (c: FusedCase): { a: [number, number, number]; b: [number, number, number] } => ({
  a: c.tA ? [c.batch, c.k, c.m] : [c.batch, c.m, c.k],
  b: c.tB ? [c.batch, c.n, c.k] : [c.batch, c.k, c.n],
});
const inputs = (c: FusedCase) => ({
  a: randomArray(c.batch * c.m * c.k, c.seed),
  b: randomArray(c.batch * c.k * c.n, c.seed + 1),
  bias: randomArray(c.n, c.seed + 2),
});

function run(native: boolean, c: FusedCase): Float32Array {
  if (native) enableNativeKernels();
  else disableNativeKernels();
  const s = shapes(c);
  const x = inputs(c);
  return tf.tidy(() => {
    const bias = c.bias ? tf.tensor1d(x.bias) : undefined;
    const y = tf.fused.matMul({ a: tf.tensor(x.a, s.a) as tf.Tensor3D, b: tf.tensor(x.b, s.b) as tf.Tensor3D,
      transposeA: c.tA, transposeB: c.tB, activation: c.activation, leakyreluAlpha: ALPHA, ...(bias ? { bias } : {}) });
    return y.dataSync() as Float32Array;
  });
}

function reference(c: FusedCase): Float64Array {
  const s = shapes(c);
  const x = inputs(c);
  const r = referenceMatMul(x.a, s.a, x.b, s.b, c.tA, c.tB);
  return r.value.map((v, i) => ACT[c.activation](v + (c.bias ? x.bias[i % c.n]! : 0)));
}

const caseArb: fc.Arbitrary<FusedCase> = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  m: fc.integer({ min: 1, max: 29 }),
  n: fc.integer({ min: 1, max: 29 }),
  k: fc.integer({ min: 1, max: 50 }),
  tA: fc.boolean(),
  tB: fc.boolean(),
  bias: fc.boolean(),
  activation: fc.constantFrom<Activation>('linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu'),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

describeNative('native _FusedMatMul', () => {
  afterAll(() => disableNativeKernels());

  it('matches float64 and the stock kernel for bias + every fusable activation', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const native = run(true, c);
        // Entries are k-term dot products of factors in [-1, 1) plus a bias in [-1, 1), so Σ|terms| <= k + 1;
        // every activation here is 1-Lipschitz, so the matmul rounding bound carries over.
        const scale = new Float64Array(native.length).fill(c.k + 1);
        expect(firstMismatch(native, reference(c), scale, c.k)).toBe(-1);
        // tfjs-wasm 4.22's own _FusedMatMul is wrong with a transposed operand (bias added to the wrong
        // elements: a [1,1,2]ᵀ·[1,1,2] product plus bias [10,20] gives [13,24,26,28], not [13,24,16,28]; and
        // a 1×49ᵀ·49×2 product differing from its own BatchMatMul) and with bias when batch > 1. The float64
        // check above covers those; compare with the stock kernel where it is right.
        if (!c.tA && !c.tB && (!c.bias || c.batch === 1)) {
          expect(firstMismatch(native, run(false, c), scale, c.k)).toBe(-1);
        }
      }),
      { numRuns: 150, seed: 99 },
    );
  });
});

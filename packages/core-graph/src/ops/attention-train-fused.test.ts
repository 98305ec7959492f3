import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { registerReferenceFusedKernels } from '../testing/fused-reference';
import { attentionOp } from './attention';
import { FUSED_KERNELS } from './fused';
import type { RunContext } from './op-def';

// The attention op's fused training path (AdaptersAttentionTrain / AdaptersAttentionGrad, here the float64 JS
// reference kernels) against its composed stock-op path and tfjs's autodiff of it: same outputs, same gradients,
// same dropout mask (both draw it from the same seed).
const TRAINING_KERNELS = [FUSED_KERNELS.attentionTrain, FUSED_KERNELS.attentionGrad];
const ctx = (seed: number): RunContext => ({ training: true, nextSeed: () => seed });

interface Case {
  b: number;
  s: number;
  heads: number;
  dh: number;
  mask: 'none' | 'float' | 'int' | 'half';
  rate: number;
  seed: number;
}

function inputs(c: Case): tf.Tensor[] {
  const shape = [c.b, c.s, c.heads * c.dh];
  const xs = [1, 2, 3].map((i) => tf.randomUniform(shape, -1.5, 1.5, 'float32', c.seed + i));
  if (c.mask !== 'none') {
    // Row r pads its last r % s positions (never all of them); 'half' gives half the batch (a Parallel splice repeats it).
    const rows = c.mask === 'half' ? c.b / 2 : c.b;
    const m = tf.tensor2d(Array.from({ length: rows }, (_z, r) => Array.from({ length: c.s }, (_y, j) => (j > 0 && j >= c.s - (r % c.s) ? 0 : 1))));
    xs.push(c.mask === 'int' ? tf.cast(m, 'int32') : m);
  }
  return xs;
}

/** Output and gradients of Σ y·w with respect to q, k, v, and the kernels that ran. */
async function outputAndGrads(c: Case, xs: tf.Tensor[], fused: boolean): Promise<{ values: Float32Array[]; kernels: string[] }> {
  const unregister = fused ? registerReferenceFusedKernels(tf.getBackend(), TRAINING_KERNELS) : () => undefined;
  try {
    const w = tf.randomUniform([c.b, c.s, c.heads * c.dh], -1, 1, 'float32', c.seed + 9);
    const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(attentionOp.run([q, k, v, ...xs.slice(3)], {}, { heads: c.heads, dropout: c.rate }, ctx(c.seed)) as tf.Tensor, w));
    let result: tf.Tensor[] = [];
    const info = await tf.profile(() => {
      const y = attentionOp.run(xs, {}, { heads: c.heads, dropout: c.rate }, ctx(c.seed)) as tf.Tensor;
      const grads = tf.grads(f)(xs.slice(0, 3));
      result = [y, ...grads];
      return result;
    });
    const values = result.map((t) => t.dataSync() as Float32Array);
    tf.dispose([...result, w]);
    return { values, kernels: info.kernels.map((k) => k.name) };
  } finally {
    unregister();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

async function compare(c: Case): Promise<void> {
  const xs = inputs(c);
  const composed = await outputAndGrads(c, xs, false);
  const fused = await outputAndGrads(c, xs, true);
  expect(composed.kernels).not.toContain(FUSED_KERNELS.attentionTrain);
  expect(fused.kernels).toContain(FUSED_KERNELS.attentionTrain);
  expect(fused.kernels).toContain(FUSED_KERNELS.attentionGrad);
  // Float32 autodiff of the composed ops vs the float64 reference: values O(1), sums of <= 9·6 terms, dropout
  // scales up to 1.25: a few float32 ulps of the largest terms; 2e-5 leaves room without hiding a wrong term (O(0.1)).
  for (let i = 0; i < 4; i++) expect(maxDiff(fused.values[i]!, composed.values[i]!)).toBeLessThan(2e-5);
  tf.dispose(xs);
}

describe('attention op: fused training kernels', () => {
  const cases: Array<[string, Case]> = [
    ['no mask, no dropout', { b: 2, s: 5, heads: 2, dh: 4, mask: 'none', rate: 0, seed: 1 }],
    ['float mask, dropout 0.1', { b: 3, s: 6, heads: 3, dh: 4, mask: 'float', rate: 0.1, seed: 2 }],
    ['int32 mask, dropout 0.5', { b: 3, s: 4, heads: 1, dh: 5, mask: 'int', rate: 0.5, seed: 3 }],
    ['mask repeated for a Parallel batch', { b: 4, s: 5, heads: 2, dh: 3, mask: 'half', rate: 0.2, seed: 4 }],
  ];
  it.each(cases)('%s: outputs and gradients equal the composed ops', async (_name, c) => compare(c));

  it('equals the composed ops for random shapes, masks, rates and seeds (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          b: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 9 }), heads: fc.integer({ min: 1, max: 3 }),
          dh: fc.integer({ min: 1, max: 6 }), mask: fc.constantFrom<Case['mask']>('none', 'float', 'int'),
          rate: fc.constantFrom(0, 0.1, 0.3), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        }),
        compare,
      ),
      { numRuns: 25 },
    );
  });

  it('leaves prefix attention to the composed ops', async () => {
    const c: Case = { b: 2, s: 4, heads: 2, dh: 4, mask: 'float', rate: 0.1, seed: 5 };
    const xs = [...inputs(c), tf.randomUniform([3, 8], -1, 1, 'float32', 7), tf.randomUniform([3, 8], -1, 1, 'float32', 8)];
    const unregister = registerReferenceFusedKernels(tf.getBackend(), TRAINING_KERNELS);
    try {
      const info = await tf.profile(() => tf.grad((q: tf.Tensor) => tf.sum(attentionOp.run([q, ...xs.slice(1)], {}, { heads: 2, dropout: 0.1 }, ctx(5)) as tf.Tensor))(xs[0]!));
      expect(info.kernels.map((k) => k.name)).not.toContain(FUSED_KERNELS.attentionTrain);
    } finally {
      unregister();
    }
    tf.dispose(xs);
  });

  it('leaks no tensors across training steps', () => {
    const c: Case = { b: 2, s: 4, heads: 2, dh: 4, mask: 'int', rate: 0.1, seed: 6 };
    const xs = inputs(c);
    const unregister = registerReferenceFusedKernels(tf.getBackend(), TRAINING_KERNELS);
    try {
      const step = () => tf.dispose(tf.grads((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(attentionOp.run([q, k, v, xs[3]!], {}, { heads: 2, dropout: 0.1 }, ctx(6)) as tf.Tensor))(xs.slice(0, 3)));
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) step();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      unregister();
    }
    tf.dispose(xs);
  });
});

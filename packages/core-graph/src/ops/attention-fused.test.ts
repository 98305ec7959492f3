import * as tf from '@tensorflow/tfjs';
import { registerReferenceFusedKernels } from '../testing/fused-reference';
import { attentionOp } from './attention';
import { FUSED_KERNELS } from './fused';
import type { RunContext } from './op-def';

// The attention op's fused path (AdaptersAttention, here the float64 JS reference kernel) against its composed
// stock-op path: same values, taken only at inference, and never under a gradient.
const ctx = (training = false): RunContext => ({ training, nextSeed: () => 7 });
const rand = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

function inputs(b: number, s: number, h: number, opts: { mask?: 'float' | 'int' | 'half'; prefix?: number } = {}): tf.Tensor[] {
  const xs = [rand([b, s, h], 1), rand([b, s, h], 2), rand([b, s, h], 3)];
  if (opts.mask) {
    // Row r pads its last r positions; 'half' gives half the batch (a Parallel splice repeats it).
    const rows = opts.mask === 'half' ? b / 2 : b;
    const m = tf.tensor2d(Array.from({ length: rows }, (_z, r) => Array.from({ length: s }, (_y, j) => (j >= s - r ? 0 : 1))));
    xs.push(opts.mask === 'int' ? tf.cast(m, 'int32') : m);
  }
  if (opts.prefix) xs.push(rand([opts.prefix, h], 4), rand([opts.prefix, h], 5));
  return xs;
}

const runOp = (xs: tf.Tensor[], heads: number, c = ctx(), dropout = 0) =>
  attentionOp.run(xs, {}, { heads, dropout }, c);

/** Output of the op and whether AdaptersAttention ran. */
async function withReference(f: () => tf.Tensor): Promise<{ y: tf.Tensor; fused: boolean }> {
  const unregister = registerReferenceFusedKernels();
  try {
    let y: tf.Tensor | undefined;
    const info = await tf.profile(() => {
      y = tf.keep(f());
      return y;
    });
    return { y: y!, fused: info.kernels.some((k) => k.name === FUSED_KERNELS.attention) };
  } finally {
    unregister();
  }
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const [av, bv] = [a.dataSync() as Float32Array, b.dataSync() as Float32Array];
  let worst = 0;
  for (let i = 0; i < av.length; i++) worst = Math.max(worst, Math.abs(av[i]! - bv[i]!));
  return worst;
}

describe('attention op: fused kernel at inference', () => {
  const shapes: Array<[string, number, number, number, number, Parameters<typeof inputs>[3]]> = [
    ['no mask', 2, 5, 8, 2, {}],
    ['float mask', 3, 6, 12, 3, { mask: 'float' }],
    ['int32 mask', 3, 6, 12, 3, { mask: 'int' }],
    ['mask repeated for a Parallel batch', 4, 5, 8, 2, { mask: 'half' }],
    ['prefix keys and values', 2, 4, 8, 2, { mask: 'float', prefix: 3 }],
  ];

  it.each(shapes)('%s: equals the composed ops', async (_name, b, s, h, heads, opts) => {
    const xs = inputs(b, s, h, opts);
    const composed = runOp(xs, heads);
    const { y, fused } = await withReference(() => runOp(xs, heads));
    expect(fused).toBe(true);
    // Composed float32 (|out| < 1, sums of ≤ 7 terms) vs float64 reference: a few float32 ulps; 1e-6 is ~16 ulps.
    expect(maxDiff(y, composed)).toBeLessThan(1e-6);
    tf.dispose([...xs, composed, y]);
  });

  it('leaves a per-example prefix [batch, prefix, hidden] (gated prefix tuning) to the composed ops', async () => {
    const xs = [...inputs(2, 4, 8, { mask: 'float' }), rand([2, 3, 8], 4), rand([2, 3, 8], 5)];
    const composed = runOp(xs, 2);
    const { y, fused } = await withReference(() => runOp(xs, 2));
    expect(fused).toBe(false);
    // The same ops both times: bit for bit.
    expect(maxDiff(y, composed)).toBe(0);
    tf.dispose([...xs, composed, y]);
  });

  it('is not used under a gradient, nor with dropout in training, and gradients still flow', async () => {
    const xs = inputs(2, 4, 8, { mask: 'float' });
    const training = await withReference(() => runOp(xs, 2, ctx(true), 0.1));
    expect(training.fused).toBe(false);
    const evalInTraining = await withReference(() => runOp(xs, 2, ctx(true), 0));
    expect(evalInTraining.fused).toBe(true);
    const unregister = registerReferenceFusedKernels();
    try {
      const info = await tf.profile(() => tf.grad((q: tf.Tensor) => tf.sum(runOp([q, ...xs.slice(1)], 2)))(xs[0]!));
      expect(info.kernels.map((k) => k.name)).not.toContain(FUSED_KERNELS.attention);
    } finally {
      unregister();
    }
    tf.dispose([...xs, training.y, evalInTraining.y]);
  });

  it('leaks no tensors', async () => {
    const xs = inputs(2, 4, 8, { mask: 'int', prefix: 2 });
    const unregister = registerReferenceFusedKernels();
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) tf.dispose(runOp(xs, 2));
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      unregister();
    }
    tf.dispose(xs);
  });
});

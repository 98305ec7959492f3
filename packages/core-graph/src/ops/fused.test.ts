import * as tf from '@tensorflow/tfjs';
import { registerReferenceFusedKernels } from '../testing/fused-reference';
import { AdamW } from '../train/adamw';
import { denseOp, embeddingOp } from './dense';
import { FUSED_KERNELS, gelu, hasFusedKernel, layerNorm, softmaxLastAxis } from './fused';

// The fused paths run the plain-JS reference kernels here (the native ones are tested in backend-native);
// what is checked is the plumbing: dispatch, the registered gradients, saved tensors, disposal.
const rand = (shape: number[], seed: number, scale = 2) => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);

function bothWays<T>(f: () => T): { composed: T; fused: T } {
  const composed = f();
  const unregister = registerReferenceFusedKernels();
  try {
    return { composed, fused: f() };
  } finally {
    unregister();
  }
}

/** Kernel names `f` runs with the reference kernels registered: proves the fused path was taken. */
async function kernelsRun(f: () => tf.TensorContainer): Promise<string[]> {
  const unregister = registerReferenceFusedKernels();
  try {
    const info = await tf.profile(() => tf.dispose(f()));
    return info.kernels.map((k) => k.name);
  } finally {
    unregister();
  }
}

function expectClose(a: tf.Tensor, b: tf.Tensor, tol: number): void {
  expect(a.shape).toEqual(b.shape);
  const [av, bv] = [a.dataSync(), b.dataSync()];
  let worst = 0;
  for (let i = 0; i < av.length; i++) worst = Math.max(worst, Math.abs(av[i]! - bv[i]!) / Math.max(1, Math.abs(bv[i]!)));
  expect(worst).toBeLessThanOrEqual(tol);
}

// Composed float32 tfjs ops vs float64 JS: a few float32 roundings per element (≲1e-6 relative); 1e-5 leaves room
// for the length-n sums in LayerNorm and softmax.
const TOL = 1e-5;

describe('fused kernels (dispatch and gradients, reference kernels)', () => {
  it('routes to a kernel only when one is registered on the active backend', () => {
    expect(hasFusedKernel(FUSED_KERNELS.gelu)).toBe(false);
    const unregister = registerReferenceFusedKernels();
    expect(hasFusedKernel(FUSED_KERNELS.gelu)).toBe(true);
    unregister();
    expect(hasFusedKernel(FUSED_KERNELS.gelu)).toBe(false);
  });

  it('GELU: forward and gradient match the composed ops', () => {
    const x = rand([6, 37], 1, 3);
    const dy = rand([6, 37], 2);
    const { composed, fused } = bothWays(() => {
      const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => tf.sum(tf.mul(gelu(t), dy)))([x]);
      return [gelu(x), grads[0]!, value];
    });
    expectClose(fused[0]!, composed[0]!, TOL);
    expectClose(fused[1]!, composed[1]!, TOL);
  });

  it('the fused kernels are what runs when registered', async () => {
    const x = rand([4, 6], 3);
    const [g, b] = [tf.ones([6]), tf.zeros([6])];
    const geluNames = await kernelsRun(() => tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x));
    expect(geluNames).toEqual(expect.arrayContaining([FUSED_KERNELS.gelu, FUSED_KERNELS.geluGrad]));
    expect(geluNames).not.toContain('Erf');
    expect(await kernelsRun(() => tf.grad((t: tf.Tensor) => tf.sum(tf.square(softmaxLastAxis(t))))(x))).toContain(FUSED_KERNELS.softmaxGrad);
    const lnNames = await kernelsRun(() => tf.grads((t: tf.Tensor, gg: tf.Tensor) => tf.sum(tf.square(layerNorm(t, gg, b, 1e-5))))([x, g]));
    expect(lnNames).toEqual(expect.arrayContaining([FUSED_KERNELS.layerNorm, FUSED_KERNELS.layerNormGrad]));
    const p = new Map([['w', tf.variable(tf.ones([6]))]]);
    const opt = new AdamW(new Set());
    expect(await kernelsRun(() => opt.apply(p, { w: g }, 0.1))).toContain(FUSED_KERNELS.adamW);
    opt.dispose();
    tf.dispose([x, g, b, ...p.values()]);
  });

  it('softmax over the last axis: forward and gradient match', () => {
    const x = rand([2, 3, 5, 9], 4, 4);
    const dy = rand([2, 3, 5, 9], 5);
    const { composed, fused } = bothWays(() => [softmaxLastAxis(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(softmaxLastAxis(t), dy)))(x)]);
    expectClose(fused[0]!, composed[0]!, TOL);
    expectClose(fused[1]!, composed[1]!, TOL);
  });

  it('LayerNorm: forward and all three gradients match (x, gamma, beta)', () => {
    const x = tf.add(rand([3, 4, 16], 6, 3), 5); // an offset makes the mean matter
    const gamma = tf.add(rand([16], 7, 0.5), 1);
    const beta = rand([16], 8);
    const dy = rand([3, 4, 16], 9);
    const { composed, fused } = bothWays(() => [
      layerNorm(x, gamma, beta, 1e-12),
      ...tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, g, b, 1e-12), dy)))([x, gamma, beta]),
    ]);
    for (let i = 0; i < 4; i++) expectClose(fused[i]!, composed[i]!, TOL);
  });

  it('LayerNorm with the fused kernel leaks no tensors across forward + backward', () => {
    const unregister = registerReferenceFusedKernels();
    const x = rand([4, 8], 10);
    const [g, b] = [tf.ones([8]), tf.zeros([8])];
    const step = () => tf.dispose(tf.grads((a: tf.Tensor, gg: tf.Tensor) => tf.sum(layerNorm(a, gg, b, 1e-5)))([x, g]));
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    unregister();
    tf.dispose([x, g, b]);
  });

  it('AdamW: the fused update equals the composed one (with and without decay), over several steps', () => {
    const run = () => {
      const params = new Map([['w', tf.variable(rand([5, 7], 11))], ['b', tf.variable(rand([7], 12))]]);
      const opt = new AdamW(new Set(['w']), { weightDecay: 0.1 });
      for (let s = 0; s < 3; s++) {
        const grads = { w: rand([5, 7], 20 + s), b: rand([7], 30 + s) };
        opt.apply(params, grads, 1e-2);
        tf.dispose(Object.values(grads));
      }
      opt.dispose();
      return [...params.values()];
    };
    const { composed, fused } = bothWays(run);
    for (let i = 0; i < 2; i++) expectClose(fused[i]!, composed[i]!, 1e-6);
    tf.dispose([...composed, ...fused]);
  });
});

describe('embedding gradient through AdaptersScatterAddRows', () => {
  it('equals the JS scatter-add bit for bit, and the kernel is what runs', async () => {
    const table = tf.variable(rand([11, 5], 40));
    const ids = tf.tensor2d([[1, 3, 3], [10, 0, 1]], [2, 3], 'int32');
    const dy = rand([2, 3, 5], 41);
    const grad = () => {
      return tf.variableGrads(() => tf.sum(tf.mul(embeddingOp.run([ids], { weight: table }, {}, { training: true, nextSeed: () => 0 }) as tf.Tensor, dy)), [table]).grads[table.name]!;
    };
    const { composed, fused } = bothWays(grad);
    expect(fused.dataSync()).toEqual(composed.dataSync());
    const names = await kernelsRun(grad);
    expect(names).toContain(FUSED_KERNELS.scatterAddRows);
    tf.dispose([table, ids, dy, composed, fused]);
  });
});

describe('dense at inference (fused bias) vs training path', () => {
  it('gives the same values for plain and transposed weights', () => {
    const x = rand([2, 3, 8], 50);
    const w = rand([8, 6], 51);
    const wt = rand([6, 8], 52);
    const b = rand([6], 53);
    const ctx = (training: boolean) => ({ training, nextSeed: () => 0 });
    for (const [weight, attrs] of [[w, {}], [wt, { transposeWeight: true }]] as const) {
      const infer = denseOp.run([x], { weight, bias: b }, attrs, ctx(false)) as tf.Tensor;
      const trainPath = denseOp.run([x], { weight, bias: b }, attrs, ctx(true)) as tf.Tensor;
      expectClose(infer, trainPath, 1e-6);
      tf.dispose([infer, trainPath]);
    }
    tf.dispose([x, w, wt, b]);
  });
});

describe('dense under a tape with the bias folded into the product (cpu: fused matMul = matMul + add)', () => {
  // On cpu fusedBiasIsExact() holds, so the training path runs linearWithBias; the reference is tfjs's own
  // matMul + add and their registered gradients. Same kernels in the same order: equal bit for bit.
  let previous = '';
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    await tf.setBackend(previous);
  });

  it.each([[true, true], [true, false], [false, true], [false, false]])('trainable weight %s, bias %s: value and gradients', async (trainW, trainB) => {
    const x = rand([2, 5, 8], 60);
    const w0 = rand([8, 6], 61);
    const b0 = rand([6], 62);
    const dy = rand([2, 5, 6], 63);
    const w = trainW ? tf.variable(w0) : w0;
    const b = trainB ? tf.variable(b0) : b0;
    const vars = [w, b].filter((t): t is tf.Variable => t instanceof tf.Variable);
    const loss = (f: (xs: tf.Tensor) => tf.Tensor) => (xs: tf.Tensor) => tf.sum(tf.mul(f(xs), dy));
    const viaOp = (xs: tf.Tensor) => denseOp.run([xs], { weight: w, bias: b }, {}, { training: true, nextSeed: () => 0 }) as tf.Tensor;
    const composed = (xs: tf.Tensor) => tf.reshape(tf.add(tf.matMul(tf.reshape(xs, [-1, 8]), w), b), [2, 5, 6]);
    const run = (f: (xs: tf.Tensor) => tf.Tensor) => {
      const dx = tf.grad(loss(f))(x);
      const vg = vars.length > 0 ? tf.variableGrads(() => loss(f)(x) as tf.Scalar, vars).grads : {};
      return [f(x), dx, ...vars.map((v) => vg[v.name]!)].map((t) => Array.from(t.dataSync()));
    };
    expect(run(viaOp)).toEqual(run(composed));
    const names = (await tf.profile(() => tf.dispose(viaOp(x)))).kernels.map((k) => k.name);
    expect(names).toContain('_FusedMatMul');
    expect(names).not.toContain('Add');
    // Nothing leaks from the forward or the backward.
    const before = tf.memory().numTensors;
    tf.dispose(tf.grad(loss(viaOp))(x));
    if (vars.length > 0) {
      const { value, grads } = tf.variableGrads(() => loss(viaOp)(x) as tf.Scalar, vars);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w0, b0, dy, ...vars]);
  });
});

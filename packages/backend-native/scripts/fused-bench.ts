// ms per call of the fused kernels: stock composed tfjs-wasm ops vs the native AdaptersXxx kernel, measured in
// one run (interleaved, best of `reps`, after one warm-up call each).
//
//   npx ts-node --transpile-only scripts/fused-bench.ts [--reps 7]
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { disableNativeKernels, enableNativeKernels } from '../src/index';
import type { FUSED_KERNELS } from '../src/index';

type Outs = tf.Tensor | tf.Tensor[];

interface Case {
  name: string;
  kernel: (typeof FUSED_KERNELS)[number];
  inputs: Record<string, tf.Tensor>;
  attrs: Record<string, number>;
  composed: () => Outs;
  /** Run the composed chain with the native matmul/transpose kernels on (what the engine ran before the fused kernel). */
  composedNative?: boolean;
  /** Threads for the native kernel (default 1). */
  threads?: number;
  /** Environment set around the native call (e.g. ADAPTERS_ATTENTION_NARROW). */
  env?: Record<string, string>;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const rand = (shape: number[], scale = 1): tf.Tensor => tf.tidy(() => tf.randomUniform(shape, -scale, scale));

function cases(): Case[] {
  const x = rand([1024, 1536], 4);
  const dy = rand([1024, 1536]);
  const cdf = (t: tf.Tensor) => tf.mul(0.5, tf.add(1, tf.erf(tf.mul(t, SQRT1_2))));
  const logits = rand([8, 12, 128, 128], 4);
  const sm = tf.softmax(logits);
  const dsm = rand([8, 12, 128, 128]);
  const lx = rand([1024, 384], 3);
  const gamma = rand([384]);
  const beta = rand([384]);
  const ldy = rand([1024, 384]);
  const eps = 1e-5;
  const stats = tf.tidy(() => {
    const { mean, variance } = tf.moments(lx, -1, true);
    return { mean: mean.reshape([1024]), rstd: tf.rsqrt(tf.add(variance, eps)).reshape([1024]) };
  });
  const p = rand([1000000]);
  const g = rand([1000000], 0.1);
  const m = rand([1000000], 0.05);
  const v = tf.tidy(() => tf.square(rand([1000000], 0.1)));
  const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: 10 };
  // One MiniLM attention layer at 16 × 128: q, k, v [16, 128, 384], 12 heads of 32, a padding mask.
  const [qa, ka, va] = [rand([16, 128, 384], 2), rand([16, 128, 384], 2), rand([16, 128, 384])];
  const amask = tf.tidy(() => tf.cast(tf.less(tf.range(0, 16 * 128).reshape([16, 128]).mod(128), 100), 'float32'));
  const composedAttention = () => {
    const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [16, 128, 12, 32]), [0, 2, 1, 3]);
    const scores = tf.add(tf.matMul(split(tf.mul(qa, 1 / Math.sqrt(32))), split(ka), false, true),
      tf.reshape(tf.mul(tf.sub(1, amask), -1e9), [16, 1, 1, 128]));
    return tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), split(va)), [0, 2, 1, 3]), [16, 128, 384]);
  };
  const attention = { kernel: 'AdaptersAttention' as const, inputs: { q: qa, k: ka, v: va, mask: amask }, attrs: { heads: 12, scale: 1 / Math.sqrt(32) }, composed: composedAttention, composedNative: true };
  return [
    { name: 'attention [16,128,384] 1 thr', ...attention },
    { name: 'attention [16,128,384] 2 thr', ...attention, threads: 2 },
    { name: 'attention 1 thr, 8-wide', ...attention, env: { ADAPTERS_ATTENTION_NARROW: '1' } },
    { name: 'GELU [1024,1536]', kernel: 'AdaptersGelu', inputs: { x }, attrs: {}, composed: () => tf.mul(x, cdf(x)) },
    {
      name: 'GELU grad [1024,1536]', kernel: 'AdaptersGeluGrad', inputs: { dy, x }, attrs: {},
      composed: () => tf.mul(dy, tf.add(cdf(x), tf.mul(x, tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI)))),
    },
    {
      name: 'softmax grad [8,12,128,128]', kernel: 'AdaptersSoftmaxGrad', inputs: { dy: dsm, y: sm }, attrs: {},
      composed: () => tf.mul(sm, tf.sub(dsm, tf.sum(tf.mul(dsm, sm), -1, true))),
    },
    {
      name: 'LayerNorm [1024,384]', kernel: 'AdaptersLayerNorm', inputs: { x: lx, gamma, beta }, attrs: { epsilon: eps },
      composed: () => {
        const { mean, variance } = tf.moments(lx, -1, true);
        const rstd = tf.rsqrt(tf.add(variance, eps));
        return [tf.add(tf.mul(tf.mul(tf.sub(lx, mean), rstd), gamma), beta), mean, rstd];
      },
    },
    {
      name: 'LayerNorm grad [1024,384]', kernel: 'AdaptersLayerNormGrad',
      inputs: { dy: ldy, x: lx, gamma, mean: stats.mean, rstd: stats.rstd }, attrs: {},
      composed: () => {
        const mean = stats.mean.reshape([1024, 1]);
        const rstd = stats.rstd.reshape([1024, 1]);
        const xh = tf.mul(tf.sub(lx, mean), rstd);
        const gg = tf.mul(ldy, gamma);
        const dx = tf.mul(rstd, tf.sub(tf.sub(gg, tf.mean(gg, -1, true)), tf.mul(xh, tf.mean(tf.mul(gg, xh), -1, true))));
        return [dx, tf.sum(tf.mul(ldy, xh), 0), tf.sum(ldy, 0)];
      },
    },
    {
      name: 'AdamW [1000000]', kernel: 'AdaptersAdamW', inputs: { param: p, grad: g, m, v }, attrs: adam,
      composed: () => {
        const c1 = 1 - adam.beta1 ** adam.step;
        const c2 = 1 - adam.beta2 ** adam.step;
        const m2 = tf.add(tf.mul(m, adam.beta1), tf.mul(g, 1 - adam.beta1));
        const v2 = tf.add(tf.mul(v, adam.beta2), tf.mul(tf.square(g), 1 - adam.beta2));
        const update = tf.div(tf.div(m2, c1), tf.add(tf.sqrt(tf.div(v2, c2)), adam.epsilon));
        return [tf.sub(tf.mul(p, 1 - adam.lr * adam.weightDecay), tf.mul(update, adam.lr)), m2, v2];
      },
    },
  ];
}

/** ms for one call; wasm kernels are synchronous, so the work is done when the call returns. */
function timeOnce(f: () => Outs): number {
  const t0 = process.hrtime.bigint();
  const out = tf.tidy(f);
  const t1 = process.hrtime.bigint();
  tf.dispose(out);
  return Number(t1 - t0) / 1e6;
}

async function main(): Promise<void> {
  const reps = arg('reps', 7);
  await tf.setBackend('wasm');
  await tf.ready();
  const status = enableNativeKernels({ threads: 1 });
  if (!status.enabled) throw new Error(`native kernels off: ${status.reason}`);
  console.log(`tfjs ${tf.version_core} wasm (SIMD ${String(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'))}); best of ${reps}, ms per call`);
  console.log(`${'kernel'.padEnd(30)}${'composed'.padStart(10)}${'native'.padStart(10)}${'speedup'.padStart(10)}`);
  const all = cases();
  for (const c of all) {
    // Stock kernels for the composed chain (Sum etc. stay stock too), native ones for the fused call.
    let stock = Infinity;
    let native = Infinity;
    for (let i = 0; i <= reps; i++) {
      if (!c.composedNative) disableNativeKernels();
      const s = timeOnce(c.composed);
      enableNativeKernels({ threads: c.threads ?? 1 });
      Object.assign(process.env, c.env);
      const n = timeOnce(() => tf.engine().runKernel(c.kernel, c.inputs as unknown as tf.NamedTensorMap,
        c.attrs as unknown as tf.NamedAttrMap) as Outs);
      for (const key of Object.keys(c.env ?? {})) delete process.env[key];
      if (i > 0) {
        stock = Math.min(stock, s);
        native = Math.min(native, n);
      }
    }
    console.log(`${c.name.padEnd(30)}${stock.toFixed(2).padStart(10)}${native.toFixed(2).padStart(10)}${`${(stock / native).toFixed(1)}×`.padStart(10)}`);
  }
  disableNativeKernels();
  tf.dispose([...new Set(all.flatMap((c) => Object.values(c.inputs)))]);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

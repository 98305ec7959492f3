// Fused element-wise kernels. An engine package (e.g. @adapters/backend-native on wasm) may register these
// kernel names on a backend; where one is registered, the ops below run it in one pass instead of a chain
// of 4–14 tfjs kernels, and fall back to the composed tfjs ops everywhere else. The contract (float32):
//   AdaptersGelu         {x} → y = ½·x·(1 + erf(x/√2))
//   AdaptersGeluGrad     {dy, x} → dy·(½·(1 + erf(x/√2)) + x·φ(x)),  φ(x) = exp(−x²/2)/√(2π)
//   AdaptersSoftmaxGrad  {dy, y} → y·(dy − Σ_last(dy·y))   (softmax over the last axis; y its output)
//   AdaptersLayerNorm    {x[…,n], gamma[n], beta[n]}, {epsilon} → [y, mean[rows], rstd[rows]]
//                        biased variance, rstd = 1/√(var + ε), y = (x − mean)·rstd·gamma + beta
//   AdaptersLayerNormGrad {dy, x, gamma, mean, rstd} → [dx, dgamma, dbeta]
//   AdaptersAdamW        {param, grad, m, v}, {lr, beta1, beta2, epsilon, weightDecay, step} → [param', m', v']
//   AdaptersDropoutMask  {}, {shape, rate, seed} → the mask of dropout-mask.ts, bit for bit
//   AdaptersScatterAddRows {dy[count·width], ids int32[count]}, {rows, width} → [rows, width], out[ids[i]] += dy[i]
//   AdaptersAddLayerNorm {a, b[, c] (same shape), gamma, beta}, {epsilon} → LayerNorm((a + b) + c)  (inference: the
//                        `addLayerNorm` op, which the add+LayerNorm lowering puts where the adds have no other reader)
//   AdaptersBottleneck   {h, x [.., w], wDown [w, m], bDown [m], wUp [m, w], bUp [w], gamma, beta [w][, preGamma, preBeta]},
//                        {activation: identity|relu|swish|gelu, scale, epsilon, preEpsilon}
//                        → LayerNorm(((act(a·wDown + bDown)·wUp + bUp)·scale + h) + x), a = LayerNorm(h + x; pre…) or h:
//                        a sequential bottleneck adapter with its residuals and the span's LayerNorm (AdapterHub's
//                        seq_bn / double_seq_bn at inference: adapter-bottleneck's `bottleneckAdapter` op and lowering)
//   AdaptersAttention    {q, k, v [b, s, h][, mask [b, s] float32, 1 = attend][, prefixK, prefixV [p, h]]}, {heads, scale}
//                        → [b, s, h]: per head, softmax(scale·q·kᵀ + (1 − mask)·(−1e9))·v with the prefix rows prepended
//                        to k and v (always attended). Inference only: used when no gradient tape is recording and no
//                        dropout applies; scores never leave the kernel.
//   AdaptersAttentionTrain {q, k, v [b, s, h], mask [b, s] float32[, prefixK, prefixV [p, h] or [b, p, h]]},
//                        {heads, scale, rate, seed} → [context [b, s, h], probs [b, heads, s, p + s]]: probs =
//                        softmax(scale·q·kᵀ + (1 − mask)·(−1e9)) per head with the prefix rows prepended to k and v
//                        (always attended), before dropout; context = (probs · dropoutMask([b, heads, s, p + s], rate,
//                        seed))·v, the mask of dropout-mask.ts bit for bit (rate 0: no dropout). Training.
//   AdaptersAttentionGrad {dy, q, k, v [b, s, h], probs[, prefixK, prefixV]}, same attrs → [dq, dk, dv[, dPrefixK,
//                        dPrefixV]] (prefix gradients in the prefix's shape): its backward.
// `referenceFusedKernels` in ./testing implements the same contract in plain JS for tests.
import * as tf from '@tensorflow/tfjs';

export const FUSED_KERNELS = {
  gelu: 'AdaptersGelu',
  geluGrad: 'AdaptersGeluGrad',
  softmaxGrad: 'AdaptersSoftmaxGrad',
  layerNorm: 'AdaptersLayerNorm',
  layerNormGrad: 'AdaptersLayerNormGrad',
  adamW: 'AdaptersAdamW',
  dropoutMask: 'AdaptersDropoutMask',
  scatterAddRows: 'AdaptersScatterAddRows',
  addLayerNorm: 'AdaptersAddLayerNorm',
  bottleneck: 'AdaptersBottleneck',
  attention: 'AdaptersAttention',
  attentionTrain: 'AdaptersAttentionTrain',
  attentionGrad: 'AdaptersAttentionGrad',
} as const;

export const hasFusedKernel = (name: string): boolean => {
  const backend = tf.getBackend() as string | null;
  return backend !== null && tf.getKernel(name, backend) !== undefined;
};

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor | tf.Tensor[] =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];

const SQRT_HALF = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const composedGelu = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1));

function geluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (hasFusedKernel(FUSED_KERNELS.geluGrad)) return run(FUSED_KERNELS.geluGrad, { dy, x }) as tf.Tensor;
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1), 0.5);
  const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), INV_SQRT_2PI);
  return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
}

/** Exact GELU, x·Φ(x). */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (!hasFusedKernel(FUSED_KERNELS.gelu) || x.dtype !== 'float32') return composedGelu(x);
  return run(FUSED_KERNELS.gelu, { x }) as tf.Tensor;
}

/** Softmax over the last axis; with a fused gradient kernel, its backward pass is one kernel instead of four. */
export function softmaxLastAxis(x: tf.Tensor): tf.Tensor {
  if (!hasFusedKernel(FUSED_KERNELS.softmaxGrad)) return tf.softmax(x, -1);
  return tf.customGrad((logits, save) => {
    const y = tf.softmax(logits as tf.Tensor, -1);
    (save as tf.GradSaveFunc)([y]);
    return { value: y, gradFunc: (dy, saved) => run(FUSED_KERNELS.softmaxGrad, { dy: dy as tf.Tensor, y: saved[0] as tf.Tensor }) as tf.Tensor };
  })(x);
}

/** LayerNorm over the last axis with biased variance and eps inside the square root (as PyTorch). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  if (!hasFusedKernel(FUSED_KERNELS.layerNorm) || x.dtype !== 'float32') {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
    return tf.add(tf.mul(normed, gamma), beta);
  }
  const [y, mean, rstd] = run(FUSED_KERNELS.layerNorm, { x, gamma, beta }, { epsilon }) as tf.Tensor[];
  // The tape keeps its own references to the saved statistics.
  tf.dispose([mean as tf.Tensor, rstd as tf.Tensor]);
  return y as tf.Tensor;
}

/**
 * Whether a gradient computation is under way (inside tf.grad/variableGrads, including the forward of a customGrad
 * there, whose recomputation must take the same path as the non-checkpointed forward).
 */
const inGradient = (): boolean => tf.engine().state.gradientDepth > 0;

/** Inputs of the fused attention kernel; `mask` already matches q's batch. */
export interface FusedAttentionInputs {
  readonly q: tf.Tensor3D;
  readonly k: tf.Tensor3D;
  readonly v: tf.Tensor3D;
  readonly mask?: tf.Tensor2D;
  /** Prefix rows prepended to k and v: [prefix, hidden] (the inference kernel takes only these) or [batch, prefix, hidden]. */
  readonly prefix?: { readonly keys: tf.Tensor2D | tf.Tensor3D; readonly values: tf.Tensor2D | tf.Tensor3D };
}

/**
 * Attention in one kernel when the backend has AdaptersAttention, no gradient is being computed and the inputs are
 * float32; otherwise undefined (the caller composes stock ops, which are also the path gradients take).
 */
export function fusedAttention(x: FusedAttentionInputs, heads: number, scale: number): tf.Tensor3D | undefined {
  if (!hasFusedKernel(FUSED_KERNELS.attention) || inGradient() || x.q.dtype !== 'float32') return undefined;
  const inputs: tf.NamedTensorMap = { q: x.q, k: x.k, v: x.v };
  if (x.prefix) [inputs['prefixK'], inputs['prefixV']] = [x.prefix.keys, x.prefix.values];
  return tf.tidy(() => {
    if (x.mask) inputs['mask'] = x.mask.dtype === 'float32' ? x.mask : tf.cast(x.mask, 'float32');
    return run(FUSED_KERNELS.attention, inputs, { heads, scale }) as tf.Tensor3D;
  });
}

/**
 * Training attention in one forward and one backward kernel when a gradient is being recorded or dropout applies, the
 * backend has both AdaptersAttentionTrain and AdaptersAttentionGrad and q is float32; otherwise undefined (the caller
 * composes stock ops). `rate` 0 applies no dropout; `seed` is the dropout seed the composed path would use, so both
 * paths draw the same mask. A prefix may be shared ([prefix, hidden]) or per example ([batch, prefix, hidden], already
 * matching q's batch).
 */
export function fusedTrainingAttention(x: FusedAttentionInputs, heads: number, scale: number, rate: number, seed: number): tf.Tensor3D | undefined {
  if (!hasFusedKernel(FUSED_KERNELS.attentionTrain) || !hasFusedKernel(FUSED_KERNELS.attentionGrad) || x.q.dtype !== 'float32') return undefined;
  // Without a gradient or dropout there is nothing to train: the probabilities it stores would be wasted.
  if (rate === 0 && !inGradient()) return undefined;
  const attrs = { heads, scale, rate, seed: seed >>> 0 };
  // The kernel always takes a float32 mask; one made here is freed below.
  const given = x.mask?.dtype === 'float32' ? x.mask : undefined;
  const mask = given ?? (x.mask ? tf.cast(x.mask, 'float32') : tf.ones([x.q.shape[0], x.q.shape[1]]));
  const prefix = x.prefix ? [x.prefix.keys, x.prefix.values] : [];
  const named = (ts: readonly tf.Tensor[]) => ({ q: ts[0]!, k: ts[1]!, v: ts[2]!, ...(ts.length > 4 ? { prefixK: ts[4]!, prefixV: ts[5]! } : {}) });
  try {
    return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args.pop() as tf.GradSaveFunc;
      const ins = args as tf.Tensor[];
      const [context, probs] = run(FUSED_KERNELS.attentionTrain, { ...named(ins), mask: ins[3]! }, attrs) as tf.Tensor[];
      save([...ins, probs as tf.Tensor]);
      return {
        value: context as tf.Tensor,
        gradFunc: (dy, saved) => {
          // The tape frees `saved` after this call: read it, never change it.
          const kept = (saved as tf.Tensor[]).slice(0, -1);
          const probsSaved = (saved as tf.Tensor[]).at(-1)!;
          const [dq, dk, dv, ...dPrefix] = run(FUSED_KERNELS.attentionGrad, { ...named(kept), dy: dy as tf.Tensor, probs: probsSaved }, attrs) as tf.Tensor[];
          return [dq!, dk!, dv!, tf.zerosLike(kept[3]!), ...dPrefix];
        },
      };
    })(x.q, x.k, x.v, mask, ...prefix) as tf.Tensor3D;
  } finally {
    if (mask !== given) mask.dispose();
  }
}

export interface AdamWStep {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Already zero for tensors that take no decay. */
  readonly weightDecay: number;
  readonly step: number;
}

/** One fused AdamW update, or undefined when no fused kernel is registered (the optimizer then composes it). */
export function fusedAdamW(param: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: AdamWStep): [tf.Tensor, tf.Tensor, tf.Tensor] | undefined {
  if (!hasFusedKernel(FUSED_KERNELS.adamW) || param.dtype !== 'float32') return undefined;
  return run(FUSED_KERNELS.adamW, { param, grad, m, v }, { ...s }) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** Gradients are registered once per tfjs copy, whichever backend later provides the kernels. */
function registerGradients(): void {
  if (!tf.getGradient(FUSED_KERNELS.gelu)) {
    tf.registerGradient({
      kernelName: FUSED_KERNELS.gelu,
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => geluGrad(dy as tf.Tensor, saved[0] as tf.Tensor) }),
    });
  }
  if (!tf.getGradient(FUSED_KERNELS.layerNorm)) {
    tf.registerGradient({
      kernelName: FUSED_KERNELS.layerNorm,
      inputsToSave: ['x', 'gamma'],
      outputsToSave: [false, true, true],
      gradFunc: (dys, saved) => {
        const [x, gamma, mean, rstd] = saved as tf.Tensor[];
        const dy = (dys as tf.Tensor[])[0] as tf.Tensor;
        // One kernel yields all three gradients; the tape's tidy frees the ones no input asks for.
        const [dx, dgamma, dbeta] = run(FUSED_KERNELS.layerNormGrad, { dy, x: x as tf.Tensor, gamma: gamma as tf.Tensor, mean: mean as tf.Tensor, rstd: rstd as tf.Tensor }) as tf.Tensor[];
        return { x: () => dx as tf.Tensor, gamma: () => dgamma as tf.Tensor, beta: () => dbeta as tf.Tensor };
      },
    });
  }
}
registerGradients();

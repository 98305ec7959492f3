import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, hasFusedKernel } from './fused';

/** splitmix32 finaliser: turns a seed into an unrelated 32-bit key. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** lowbias32 (Wellons): a 32-bit integer hash with good avalanche. */
function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The two keys and the keep threshold of a mask; the native kernel derives the same from its attrs. */
export function dropoutKeys(seed: number, rate: number): { k1: number; k2: number; threshold: number } {
  const k1 = splitmix32(seed >>> 0);
  return { k1, k2: splitmix32(k1), threshold: Math.floor((1 - rate) * 4294967296) };
}

/**
 * Inverted-dropout mask: entry i is 1/(1 − rate) when h(i) < (1 − rate)·2³², else 0, where
 * h(i) = lowbias32(lowbias32(i ⊕ k1) + k2) and k1, k2 come from the seed through splitmix32. The draw is
 * counter-based (each entry hashes its own index), so it vectorises and a native kernel
 * (AdaptersDropoutMask) produces exactly the same mask in wasm memory without a JS array. Two keyed rounds
 * keep masks of different seeds unrelated even where their index ranges line up.
 * tf.dropout instead draws uniforms one at a time through JS Alea and runs four more kernels; at MiniLM size
 * that was ~14M draws per training step and the largest cost outside the kernels.
 */
export function dropoutMask(shape: readonly number[], rate: number, seed: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate ${rate} must be in [0, 1)`);
  if (hasFusedKernel(FUSED_KERNELS.dropoutMask)) {
    return tf.engine().runKernel(FUSED_KERNELS.dropoutMask, {}, { shape: [...shape], rate, seed: seed >>> 0 }) as tf.Tensor;
  }
  return tf.tensor(dropoutMaskValues(shape.reduce((p, d) => p * d, 1), rate, seed), [...shape], 'float32');
}

/** The mask's `n` values, computed in JS (see dropoutMask). */
export function dropoutMaskValues(n: number, rate: number, seed: number): Float32Array {
  const values = new Float32Array(n);
  const scale = Math.fround(1 / (1 - rate));
  const { k1, k2, threshold } = dropoutKeys(seed, rate);
  for (let i = 0; i < n; i++) {
    if (lowbias32((lowbias32((i ^ k1) >>> 0) + k2) >>> 0) < threshold) values[i] = scale;
  }
  return values;
}

/** x · mask: inverted dropout with a seeded mask (see dropoutMask). */
export function applyDropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  return tf.tidy(() => tf.mul(x, dropoutMask(x.shape, rate, seed)));
}

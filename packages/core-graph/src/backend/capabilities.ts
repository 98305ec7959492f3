import * as tf from '@tensorflow/tfjs';

/**
 * Property a kernel config carries when its BatchMatMul runs transposed operands at full speed (set by
 * @adapters/backend-native). Stock wasm multiplies transposed operands in a scalar loop, so on stock wasm
 * gradients transpose explicitly first; everywhere else the transpose would be a wasted copy.
 */
export const FAST_TRANSPOSES = 'adaptersFastTransposes';

export function matmulTransposesAreFast(): boolean {
  if (tf.getBackend() !== 'wasm') return true;
  const kernel = tf.getKernel('BatchMatMul', 'wasm') as unknown as Record<string, unknown> | undefined;
  return kernel?.[FAST_TRANSPOSES] === true;
}

/** Property of a _FusedMatMul config that adds the bias to the finished product (set by @adapters/backend-native). */
export const EXACT_BIAS = 'adaptersExactBias';

/**
 * Whether tf.fused.matMul with a bias gives the same bits as matMul followed by add: on cpu (its _FusedMatMul
 * composes those kernels) and on wasm with @adapters/backend-native (sgemm, then the bias added to the finished
 * product). Stock wasm (XNNPACK) starts its sums from the bias, which rounds differently.
 */
export function fusedBiasIsExact(): boolean {
  const backend = tf.getBackend();
  if (backend === 'cpu') return true;
  if (backend !== 'wasm') return false;
  const kernel = tf.getKernel('_FusedMatMul', 'wasm') as unknown as Record<string, unknown> | undefined;
  return kernel?.[EXACT_BIAS] === true;
}

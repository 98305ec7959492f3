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

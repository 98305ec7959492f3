import * as tf from '@tensorflow/tfjs';
import { EXACT_BIAS, fusedBiasIsExact } from './capabilities';

describe('fusedBiasIsExact', () => {
  it('holds on cpu, and on wasm only for a _FusedMatMul marked as adding the bias to the finished product', async () => {
    const previous = tf.getBackend();
    await tf.setBackend('wasm');
    expect(fusedBiasIsExact()).toBe(false); // stock XNNPACK starts its sums from the bias
    const stock = tf.getKernel('_FusedMatMul', 'wasm')!;
    tf.unregisterKernel('_FusedMatMul', 'wasm');
    tf.registerKernel({ ...stock, [EXACT_BIAS]: true } as tf.KernelConfig);
    try {
      expect(fusedBiasIsExact()).toBe(true);
    } finally {
      tf.unregisterKernel('_FusedMatMul', 'wasm');
      tf.registerKernel(stock);
    }
    expect(fusedBiasIsExact()).toBe(false);
    await tf.setBackend('cpu');
    expect(fusedBiasIsExact()).toBe(true);
    await tf.setBackend(previous);
  });
});

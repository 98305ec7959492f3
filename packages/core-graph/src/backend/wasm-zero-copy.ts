// The wasm backend's Identity and same-dtype Cast copy their input. The engine clones every tensor a
// gradient saves for the backward pass (Engine.saveTensorsForBackwardMode → Identity), and Mul's gradient
// casts float32 to float32, so a training step copied hundreds of activations: ~7% of a MiniLM step and a
// third more peak memory. tfjs tensors are immutable (a Variable's assign swaps its data id), so sharing the
// buffer with a reference count, as the wasm Reshape and the cpu backend's Identity already do, is safe.
import * as tf from '@tensorflow/tfjs';

const BACKEND = 'wasm';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

const shared = (x: tf.TensorInfo, backend: unknown): tf.TensorInfo => {
  (backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** Stock configs replaced by enableZeroCopyKernels, to restore. */
const stock = new Map<string, tf.KernelConfig>();

function replace(name: string, make: (original: tf.KernelConfig) => tf.KernelFunc): void {
  const original = tf.getKernel(name, BACKEND);
  if (!original) return;
  tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({ ...original, kernelFunc: make(original) });
  stock.set(name, original);
}

/**
 * Makes wasm's Identity and same-dtype Cast share their input's buffer instead of copying it. Idempotent;
 * returns the kernel names replaced (none when the wasm backend is not registered).
 */
export function enableZeroCopyKernels(): string[] {
  if (stock.size > 0) return [...stock.keys()];
  replace('Identity', (original) => (args) => {
    const x = args.inputs['x'] as tf.TensorInfo;
    return x.dtype === 'string' ? original.kernelFunc(args) : shared(x, args.backend);
  });
  replace('Cast', (original) => (args) => {
    const x = args.inputs['x'] as tf.TensorInfo;
    return args.attrs?.['dtype'] === x.dtype && x.dtype !== 'string' ? shared(x, args.backend) : original.kernelFunc(args);
  });
  return [...stock.keys()];
}

/** Restores the stock kernels. Safe to call when not enabled. */
export function disableZeroCopyKernels(): void {
  for (const [name, original] of stock) {
    if (tf.getKernel(name, BACKEND)) tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(original);
  }
  stock.clear();
}

export const zeroCopyKernelsEnabled = (): boolean => stock.size > 0;

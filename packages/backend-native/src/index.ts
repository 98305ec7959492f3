// Optional native kernels for TensorFlow.js's wasm backend: enableNativeKernels() swaps them in,
// disableNativeKernels() restores the stock ones. BatchMatMul/_FusedMatMul run OpenBLAS sgemm; Sum,
// Transpose and GatherV2 are plain C loops for the cases the stock kernels handle slowly (bias gradients,
// 2-D swaps, embedding lookups).
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import type { NativeAddon } from './addon';
import { makeBatchMatMul, makeFusedMatMul, makeGatherV2, makeSum, makeTranspose } from './kernels';

export { ADDON_PATH_ENV, DISABLE_ENV, defaultAddonPath } from './addon';

export interface NativeKernelStatus {
  enabled: boolean;
  /** One line saying why the native kernels are off; absent when enabled. */
  reason?: string;
  /** Kernel names currently replaced on the wasm backend. */
  kernels: string[];
}

export interface EnableOptions {
  /** OpenBLAS thread count (default: OpenBLAS's own, i.e. OPENBLAS_NUM_THREADS or all cores). */
  threads?: number;
  /** Receives one line when the native kernels cannot be enabled; called at most once per process. */
  log?: (line: string) => void;
}

export const BACKEND_NAME = 'wasm';

const FACTORIES: ReadonlyArray<[string, (addon: NativeAddon, stock: tf.KernelConfig) => tf.KernelFunc]> = [
  ['BatchMatMul', makeBatchMatMul],
  ['_FusedMatMul', makeFusedMatMul],
  ['Sum', makeSum],
  ['Transpose', makeTranspose],
  ['GatherV2', makeGatherV2],
];

/** Stock kernel configs replaced by enableNativeKernels, by kernel name. */
const saved = new Map<string, tf.KernelConfig>();
let reported = false;

function fail(reason: string, log: EnableOptions['log']): NativeKernelStatus {
  if (!reported) {
    reported = true;
    log?.(`native kernels off: ${reason}`);
  }
  return { enabled: false, reason, kernels: [] };
}

/**
 * Replaces the wasm backend's BatchMatMul, _FusedMatMul, Sum, Transpose and GatherV2 with native kernels that compute
 * on the wasm heap in place (each falls back to the stock kernel for inputs it does not cover). Never throws: when the addon is missing or cannot load, the stock kernels stay and
 * the status carries a one-line reason. Idempotent.
 */
export function enableNativeKernels(options: EnableOptions = {}): NativeKernelStatus {
  const loaded = loadAddon();
  if (loaded.addon === undefined) return fail(loaded.reason, options.log);
  const addon = loaded.addon;
  if (options.threads !== undefined) addon.setNumThreads(options.threads);
  if (saved.size > 0) return nativeKernelStatus();
  for (const [name, factory] of FACTORIES) {
    const stock = tf.getKernel(name, BACKEND_NAME);
    if (stock === undefined) continue; // e.g. the wasm backend package is not loaded in this tfjs copy
    const config: tf.KernelConfig = { ...stock, kernelFunc: factory(addon, stock) };
    tf.unregisterKernel(name, BACKEND_NAME);
    tf.registerKernel(config);
    saved.set(name, stock);
  }
  if (saved.size === 0) {
    return fail(`no '${BACKEND_NAME}' kernels are registered with this copy of @tensorflow/tfjs ` +
      `(import @tensorflow/tfjs-backend-wasm first)`, options.log);
  }
  return nativeKernelStatus();
}

/** Restores the stock kernel configs saved by enableNativeKernels. Safe to call when not enabled. */
export function disableNativeKernels(): void {
  for (const [name, stock] of saved) {
    if (tf.getKernel(name, BACKEND_NAME) !== undefined) tf.unregisterKernel(name, BACKEND_NAME);
    tf.registerKernel(stock);
  }
  saved.clear();
}

/** What is active now, without changing anything. */
export function nativeKernelStatus(): NativeKernelStatus {
  if (saved.size > 0) return { enabled: true, kernels: [...saved.keys()] };
  const loaded = loadAddon();
  return { enabled: false, reason: loaded.addon === undefined ? loaded.reason : 'not enabled', kernels: [] };
}

/** OpenBLAS build and thread count, or undefined when the addon is not available. */
export function nativeInfo(): { config: string; corename: string; threads: number; path: string } | undefined {
  const loaded = loadAddon();
  return loaded.addon === undefined ? undefined : { ...loaded.addon.info(), path: loaded.path };
}

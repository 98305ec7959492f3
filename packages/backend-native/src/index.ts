// Optional native kernels for TensorFlow.js's wasm backend: enableNativeKernels() swaps them in,
// disableNativeKernels() restores the stock ones. BatchMatMul/_FusedMatMul run OpenBLAS sgemm; Sum,
// Transpose and GatherV2 are plain C loops for the cases the stock kernels handle slowly (bias gradients,
// 2-D swaps, embedding lookups); Add/Sub/Multiply split same-size, scalar and bias-row cases over both cores. The FUSED_KERNELS (GELU, softmax gradient, LayerNorm, AdamW) are new kernel
// names with no stock counterpart: registered by enableNativeKernels, unregistered by disableNativeKernels.
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import type { NativeAddon } from './addon';
import type { BlasCoreChoice } from './blas-core';
import type { MappedFile } from './external';
import { hasExternalTensors, installGuard, mapFile } from './external';
import { FUSED_FACTORIES, FUSED_KERNEL_NAMES, makeBatchMatMul, makeBinary, makeFusedMatMul, makeGatherV2, makePack, makeSum, makeTranspose, makeUnpack } from './kernels';

export { ADDON_PATH_ENV, DISABLE_ENV, REBUILD_COMMAND, defaultAddonPath } from './addon';
export type { BlasCoreChoice } from './blas-core';
export { AUTO_CORE_ENV, CORETYPE_ENV } from './blas-core';
export type { BlasLibraryChoice } from './blas-library';
export { AUTO_LIBRARY_ENV, BLAS_LIBRARY_ENV } from './blas-library';
export type { CpuFeatures } from './cpu-features';
export { candidateCores, readCpuFeatures } from './cpu-features';
export type { ExternalStats, MappedFile } from './external';
export { externalStats } from './external';

export interface NativeKernelStatus {
  enabled: boolean;
  /** One line saying why the native kernels are off; absent when enabled. */
  reason?: string;
  /** The one command that turns them on (absent when enabled or turned off on purpose). */
  fix?: string;
  /** Kernel names currently replaced on the wasm backend. */
  kernels: string[];
  /** OpenBLAS's kernel set, one line (e.g. "OpenBLAS SkylakeX (chosen: OpenBLAS detected Prescott, …)"). */
  blas?: string;
}

export interface EnableOptions {
  /** OpenBLAS thread count (default: OpenBLAS's own, i.e. OPENBLAS_NUM_THREADS or all cores). */
  threads?: number;
  /** Receives one line when the native kernels cannot be enabled; called at most once per process. */
  log?: (line: string) => void;
}

export const BACKEND_NAME = 'wasm';

/**
 * Fused float32 kernels registered on the wasm backend by enableNativeKernels (see README.md for each contract).
 * Call them with tf.engine().runKernel(name, inputs, attrs) when tf.getKernel(name, 'wasm') is defined.
 */
export const FUSED_KERNELS = FUSED_KERNEL_NAMES;

const FACTORIES: ReadonlyArray<[string, (addon: NativeAddon, stock: tf.KernelConfig) => tf.KernelFunc]> = [
  ['BatchMatMul', makeBatchMatMul],
  ['_FusedMatMul', makeFusedMatMul],
  ['Sum', makeSum],
  ['Transpose', makeTranspose],
  ['GatherV2', makeGatherV2],
  ['Pack', makePack],
  ['Unpack', makeUnpack],
  ['Add', makeBinary],
  ['Sub', makeBinary],
  ['Multiply', makeBinary],
];

/** Stock kernel configs replaced by enableNativeKernels, by kernel name. */
const saved = new Map<string, tf.KernelConfig>();
/** Fused kernels registered by enableNativeKernels (names with no stock kernel). */
const added: string[] = [];
let reported = false;

function fail(reason: string, log: EnableOptions['log'], fix?: string): NativeKernelStatus {
  if (!reported) {
    reported = true;
    log?.(`native kernels off: ${reason}${fix !== undefined ? `; fix: ${fix}` : ''}`);
  }
  return { enabled: false, reason, kernels: [], ...(fix !== undefined ? { fix } : {}) };
}

/**
 * Replaces the wasm backend's BatchMatMul, _FusedMatMul, Sum, Transpose, GatherV2, Pack, Unpack, Add, Sub and Multiply with native kernels that compute
 * on the wasm heap in place (each falls back to the stock kernel for inputs it does not cover), and registers the
 * FUSED_KERNELS (float32 only; they throw for other dtypes). Never throws: when the addon is missing or cannot load, the stock kernels stay and
 * the status carries a one-line reason. Idempotent.
 */
export function enableNativeKernels(options: EnableOptions = {}): NativeKernelStatus {
  const loaded = loadAddon();
  if (loaded.addon === undefined) return fail(loaded.reason, options.log, loaded.fix);
  const addon = loaded.addon;
  if (options.threads !== undefined) addon.setNumThreads(options.threads);
  if (saved.size > 0) return nativeKernelStatus();
  for (const [name, factory] of FACTORIES) {
    const stock = tf.getKernel(name, BACKEND_NAME);
    if (stock === undefined) continue; // e.g. the wasm backend package is not loaded in this tfjs copy
    // The marker tells @adapters/core-graph that transposed operands cost nothing here (sgemm flags), so
    // its gradients can skip explicit transposes. (A string, not an import: core-graph depends on us only optionally.)
    // adaptersExactBias: this _FusedMatMul adds the bias to the finished product, so core-graph may fold a training
    // bias add into it (same bits as matMul + add).
    const marker = name === 'BatchMatMul' ? { adaptersFastTransposes: true } : name === '_FusedMatMul' ? { adaptersExactBias: true } : {};
    const config = { ...stock, kernelFunc: factory(addon, stock), ...marker } as tf.KernelConfig;
    tf.unregisterKernel(name, BACKEND_NAME);
    tf.registerKernel(config);
    saved.set(name, stock);
  }
  if (saved.size === 0) {
    return fail(`no '${BACKEND_NAME}' kernels are registered with this copy of @tensorflow/tfjs ` +
      `(import @tensorflow/tfjs-backend-wasm first)`, options.log);
  }
  for (const name of FUSED_KERNEL_NAMES) {
    if (tf.getKernel(name, BACKEND_NAME) !== undefined) continue; // registered by someone else: leave it alone
    tf.registerKernel({ kernelName: name, backendName: BACKEND_NAME, kernelFunc: FUSED_FACTORIES[name](addon) });
    added.push(name);
  }
  if (hasExternalTensors()) installGuard(addon);
  return nativeKernelStatus();
}

/**
 * Restores the stock kernel configs saved by enableNativeKernels and unregisters the fused kernels it added.
 * Safe to call when not enabled.
 */
export function disableNativeKernels(): void {
  for (const name of added) {
    if (tf.getKernel(name, BACKEND_NAME) !== undefined) tf.unregisterKernel(name, BACKEND_NAME);
  }
  added.length = 0;
  for (const [name, stock] of saved) {
    if (tf.getKernel(name, BACKEND_NAME) !== undefined) tf.unregisterKernel(name, BACKEND_NAME);
    tf.registerKernel(stock);
  }
  saved.clear();
  // Mapped tensors may outlive the native kernels: the stock kernels must copy them into the heap.
  if (hasExternalTensors()) {
    const loaded = loadAddon();
    if (loaded.addon !== undefined) installGuard(loaded.addon);
  }
}

/**
 * Maps a file read-only outside the wasm heap, for tensors over its bytes (frozen weights; see MappedFile). Needs the
 * addon and the active wasm backend with the native kernels enabled (the stock kernels read mapped tensors only
 * through heap copies). Throws naming the file when it cannot be mapped.
 */
export function mapWeightsFile(path: string): MappedFile {
  const loaded = loadAddon();
  if (loaded.addon === undefined) throw new Error(`backend-native: cannot map ${path}: ${loaded.reason}`);
  if (saved.size === 0) throw new Error(`backend-native: cannot map ${path}: the native kernels are not enabled (call enableNativeKernels first)`);
  return mapFile(loaded.addon, path);
}

/** What @adapters/core-graph's loaders use to map frozen base weights (see its WeightMapper). */
export const weightMapper = { map: mapWeightsFile };

/**
 * The stock kernel config enableNativeKernels replaced under `name` (e.g. 'Add'), to time a step without the native
 * kernel; undefined when that kernel is not replaced.
 */
export function stockKernel(name: string): tf.KernelConfig | undefined {
  return saved.get(name);
}

/**
 * Threads of the pool that runs the fused element-wise kernels and Add/Sub/Multiply (1..16; default: one per core,
 * at most 8, and enableNativeKernels' `threads`). Results are the same bits for any count. False when the addon is
 * not available.
 */
export function setElementwiseThreads(threads: number): boolean {
  const loaded = loadAddon();
  if (loaded.addon === undefined) return false;
  loaded.addon.setParallelThreads(threads);
  return true;
}

/** What is active now, without changing anything. */
export function nativeKernelStatus(): NativeKernelStatus {
  const loaded = loadAddon();
  const blas = loaded.blas !== undefined ? { blas: loaded.blas.note } : {};
  if (saved.size > 0) return { enabled: true, kernels: [...saved.keys(), ...added], ...blas };
  if (loaded.addon !== undefined) return { enabled: false, reason: 'not enabled', kernels: [], ...blas };
  return { enabled: false, reason: loaded.reason, kernels: [], ...(loaded.fix !== undefined ? { fix: loaded.fix } : {}), ...blas };
}

export interface NativeInfo {
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64", or MKL's version string. */
  config: string;
  /** The kernel set OpenBLAS runs (openblas_get_corename()), or "MKL" when MKL was loaded instead. */
  corename: string;
  threads: number;
  /** The CBLAS library loaded from ADAPTERS_BLAS_LIBRARY ('' = the linked OpenBLAS). */
  library?: string;
  /** Why ADAPTERS_BLAS_LIBRARY was not loaded ('' when it was, or was not set). */
  libraryError?: string;
  /** The addon file. */
  path: string;
  /** How the kernel set was chosen. */
  blas: BlasCoreChoice;
}

/** OpenBLAS build, kernel set and thread count, or undefined when the addon is not available. */
export function nativeInfo(): NativeInfo | undefined {
  const loaded = loadAddon();
  return loaded.addon === undefined ? undefined : { ...loaded.addon.info(), path: loaded.path, blas: loaded.blas };
}

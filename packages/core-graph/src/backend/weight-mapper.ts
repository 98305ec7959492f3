// Extension point for frozen base weights outside the tensor heap: a package that can map files (on Node,
// @adapters/backend-native over mmap) registers a WeightMapper when its kernels are enabled, and the model loaders
// then make the base's large float32 tensors over the mapped file instead of copying them into the wasm heap.
import type * as tf from '@tensorflow/tfjs';

/** One mapped file. */
export interface MappedWeights {
  readonly path: string;
  /** The whole file, zero-copy and read-only (never write to it). */
  readonly bytes: Uint8Array;
  /**
   * A float32 tensor of `shape` over the bytes at byteOffset (4-aligned). storedTransposed: the bytes hold the
   * [c, r] transpose of the 2-D shape [r, c] (an nn.Linear weight for a kernel stored [in, out] here).
   */
  tensor(byteOffset: number, shape: readonly number[], storedTransposed?: boolean): tf.Tensor;
}

export interface WeightMapper {
  /** Maps `path` read-only; throws naming the file when it cannot. */
  map(path: string): MappedWeights;
}

let current: WeightMapper | undefined;

/** Registers (or with undefined, removes) the mapper the loaders use. selectBackend does this for backend-native. */
export function setWeightMapper(mapper: WeightMapper | undefined): void {
  current = mapper;
}

/** The registered mapper, if any. */
export const weightMapper = (): WeightMapper | undefined => current;

/** Env var that turns mapping off (`0`): every weight is copied into the heap as before. */
export const MAP_WEIGHTS_ENV = 'ADAPTERS_MAP_WEIGHTS';

/** Tensors smaller than this stay on the heap: mapping pays off for matrices, not biases. */
export const MIN_MAPPED_BYTES = 64 * 1024;

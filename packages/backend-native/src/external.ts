// Tensors whose float32 data lives outside the wasm heap: frozen base weights read in place from a memory-mapped
// safetensors file (no copy at load; the page cache's pages are shared by every process that maps the file).
//
// The wasm backend knows such a tensor by a dataIdMap entry whose memoryOffset is a virtual offset, region·2^40 +
// byte offset (native/external.h), and which tfjs-wasm's C++ side never registered. The native matmul and gather
// kernels take it as is (a weight stored transposed flips the sgemm flag); every other kernel runs behind a guard that
// copies external inputs into temporary heap tensors first, so nothing ever reads a virtual offset as a heap address.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NativeAddon } from './addon';

const REGION_SCALE = 2 ** 40;
const BACKEND = 'wasm';

/** A mapped file: its bytes (a read-only view: never write to it) and the tensors made over them. */
export interface MappedFile {
  readonly path: string;
  /** The whole file, zero-copy. */
  readonly bytes: Uint8Array;
  /**
   * A float32 tensor of `shape` over the file's bytes at byteOffset (4-aligned). storedTransposed: the bytes hold
   * the [c, r] transpose of the 2-D shape [r, c] (a Hugging Face nn.Linear weight for an [in, out] kernel).
   */
  tensor(byteOffset: number, shape: readonly number[], storedTransposed?: boolean): tf.Tensor;
}

interface ExternalData {
  readonly file: MappedRegion;
  readonly byteOffset: number;
  /** Stored as the transpose of the logical 2-D shape. */
  readonly transposed: boolean;
  readonly shape: readonly number[];
}

interface MappedRegion {
  readonly region: number;
  readonly buffer: ArrayBuffer;
}

interface TensorEntry {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

/** Live external tensors by data id. Each entry keeps its region's ArrayBuffer (hence the mapping) alive. */
const externals = new Map<tf.DataId, ExternalData>();
/** Materialisations by kernel name since load, for doctor output and tests. */
const copies = new Map<string, number>();

export interface ExternalStats {
  /** Live tensors over mapped memory, and their bytes. */
  tensors: number;
  bytes: number;
  /** How often a kernel without external support got a heap copy of such a tensor, by kernel name. */
  copies: Record<string, number>;
}

export function externalStats(): ExternalStats {
  let bytes = 0;
  for (const e of externals.values()) bytes += e.shape.reduce((p, d) => p * d, 4);
  return { tensors: externals.size, bytes, copies: Object.fromEntries(copies) };
}

/** The external data behind a tensor, or undefined when it lives on the heap (kernels call this per operand). */
export const externalOf = (t: tf.TensorInfo): ExternalData | undefined => (externals.size === 0 ? undefined : externals.get(t.dataId));

const heapU8 = (backend: BackendWasm): Uint8Array => (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;

/** A heap copy of an external tensor in its logical layout. */
function materialise(addon: NativeAddon, backend: BackendWasm, t: tf.TensorInfo, e: ExternalData): tf.TensorInfo {
  const out = backend.makeOutput([...t.shape], 'float32');
  const offset = backend.dataIdMap.get(out.dataId)!.memoryOffset;
  const count = e.shape.reduce((p, d) => p * d, 1);
  if (e.transposed) {
    const [r, c] = e.shape as [number, number];
    addon.transpose32(heapU8(backend).buffer as ArrayBuffer, e.file.region * REGION_SCALE + e.byteOffset, offset, 1, c, r);
  } else {
    heapU8(backend).set(new Uint8Array(e.file.buffer, e.byteOffset, count * 4), offset);
  }
  return out;
}

/** Values in the logical layout (readSync of an external tensor). */
function readValues(e: ExternalData, start = 0, end?: number): Float32Array {
  const count = e.shape.reduce((p, d) => p * d, 1);
  const stored = new Float32Array(e.file.buffer, e.byteOffset, count);
  if (!e.transposed) return stored.slice(start, end ?? count);
  const [r, c] = e.shape as [number, number];
  const out = new Float32Array(count);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[i * c + j] = stored[j * r + i]!;
  return out.slice(start, end ?? count);
}

type KernelFn = (args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];

/** Marks a kernel function that reads external operands itself (the guard leaves it alone). */
export const EXTERNAL_AWARE = Symbol.for('adapters.externalAware');

export function markExternalAware<F extends object>(f: F): F {
  (f as Record<symbol, unknown>)[EXTERNAL_AWARE] = true;
  return f;
}

const isAware = (f: unknown): boolean => typeof f === 'function' && (f as unknown as Record<symbol, unknown>)[EXTERNAL_AWARE] === true;

/**
 * Runs `kernel` with every external input replaced by a temporary heap copy (freed after the call; an output that
 * shares a copy's buffer keeps it by reference count). Identity, same-dtype Cast and a plain Reshape share the
 * external data instead: their output is the same bytes in the same order.
 */
export function guarded(addon: NativeAddon, name: string, kernel: KernelFn): KernelFn {
  return (args) => {
    if (externals.size === 0) return kernel(args);
    const entries = Object.entries(args.inputs) as Array<[string, tf.TensorInfo | undefined]>;
    if (!entries.some(([, t]) => t !== undefined && externals.has(t.dataId))) return kernel(args);
    const x = args.inputs['x'] as tf.TensorInfo | undefined;
    const e = x !== undefined ? externals.get(x.dataId) : undefined;
    if (e !== undefined && entries.length === 1 && sharesData(name, x!, e, args.attrs)) {
      args.backend.incRef(x!.dataId);
      const shape = name === 'Reshape' ? (args.attrs['shape'] as number[]) : [...x!.shape];
      return { dataId: x!.dataId, shape: tf.util.inferFromImplicitShape([...shape], tf.util.sizeFromShape([...x!.shape])), dtype: x!.dtype };
    }
    const temps: tf.TensorInfo[] = [];
    const inputs: tf.NamedTensorInfoMap = {};
    try {
      for (const [key, t] of entries) {
        const ext = t !== undefined ? externals.get(t.dataId) : undefined;
        if (t === undefined || ext === undefined) {
          if (t !== undefined) inputs[key] = t;
          continue;
        }
        const temp = materialise(addon, args.backend, t, ext);
        temps.push(temp);
        inputs[key] = temp;
        copies.set(name, (copies.get(name) ?? 0) + 1);
      }
      return kernel({ ...args, inputs });
    } finally {
      for (const t of temps) args.backend.disposeData(t.dataId);
    }
  };
}

function sharesData(name: string, x: tf.TensorInfo, e: ExternalData, attrs: tf.NamedAttrMap): boolean {
  if (name === 'Identity') return true;
  if (name === 'Cast') return attrs['dtype'] === x.dtype;
  if (name !== 'Reshape') return false;
  if (!e.transposed) return true;
  // A matrix stored transposed may only gain leading size-1 axes (fused matMul's [1, k, n]): one [r, c] matrix still,
  // which is how the matmul kernels (batch of one, flag flipped) and readSync read it.
  const target = tf.util.inferFromImplicitShape([...(attrs['shape'] as number[])], tf.util.sizeFromShape([...x.shape]));
  const lead = target.slice(0, -2);
  return lead.every((d) => d === 1) && target.slice(-2).join() === e.shape.join();
}

/**
 * Puts every wasm kernel that cannot read external operands behind `guarded` (a guard counts as aware, so this is
 * idempotent). Runs whenever a file is mapped and after enable/disableNativeKernels re-register kernels.
 */
export function installGuard(addon: NativeAddon): void {
  for (const config of tf.getKernelsForBackend(BACKEND)) {
    if (isAware(config.kernelFunc)) continue;
    const g = markExternalAware(guarded(addon, config.kernelName, config.kernelFunc as unknown as KernelFn));
    tf.unregisterKernel(config.kernelName, BACKEND);
    tf.registerKernel({ ...config, kernelFunc: g as unknown as tf.KernelFunc });
  }
}

/** Whether any mapped tensor is alive (enable/disableNativeKernels then re-install the guard). */
export const hasExternalTensors = (): boolean => externals.size > 0;

/** Backends whose readSync/disposeData know external entries. */
const patched = new WeakSet<object>();

function patchBackend(backend: BackendWasm): void {
  if (patched.has(backend)) return;
  patched.add(backend);
  const readSync = backend.readSync.bind(backend);
  backend.readSync = ((dataId: tf.DataId, start?: number, end?: number) => {
    const e = externals.get(dataId);
    return e === undefined ? readSync(dataId, start, end) : readValues(e, start, end);
  }) as typeof backend.readSync;
  const disposeData = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: tf.DataId, force = false): boolean => {
    if (!externals.has(dataId)) return disposeData(dataId, force);
    const entry = backend.dataIdMap.get(dataId) as unknown as TensorEntry | undefined;
    if (entry === undefined) return true;
    entry.refCount--;
    if (!force && entry.refCount > 0) return false;
    // Never registered with tfjs-wasm's C++ side and not malloc'ed: only forget it. The region goes with the last reference.
    backend.dataIdMap.delete(dataId);
    externals.delete(dataId);
    return true;
  };
}

function activeWasm(): BackendWasm {
  if (tf.getBackend() !== BACKEND) throw new Error(`backend-native: mapped weights need the '${BACKEND}' backend (active: ${String(tf.getBackend())})`);
  return tf.backend() as BackendWasm;
}

/**
 * Maps `path` read-only (mmap). Tensors made from it live outside the wasm heap; the mapping lasts until the file
 * object and every such tensor are gone (garbage-collected, then unmapped).
 */
export function mapFile(addon: NativeAddon, path: string): MappedFile {
  const backend = activeWasm();
  const { region, buffer } = addon.mapFile(path);
  // Once per file: kernels re-registered later by enable/disableNativeKernels get the guard from there.
  patchBackend(backend);
  installGuard(addon);
  const file: MappedRegion = { region, buffer };
  const bytes = new Uint8Array(buffer);
  return {
    path,
    bytes,
    tensor(byteOffset, shape, storedTransposed = false) {
      const count = shape.reduce((p, d) => p * d, 1);
      if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0 || byteOffset + count * 4 > bytes.length) {
        throw new RangeError(`${path}: float32 data at byte ${byteOffset} (${count} values) is outside the file or not 4-byte aligned`);
      }
      if (storedTransposed && shape.length !== 2) throw new RangeError(`${path}: only a 2-D tensor can be stored transposed, got [${shape.join(', ')}]`);
      // Ids come from the backend's own counter (private in the typings) so they never collide with its tensors'.
      const counter = backend as unknown as { dataIdNextNumber: number };
      const dataId = { id: counter.dataIdNextNumber++ };
      const entry: TensorEntry = { id: dataId.id, memoryOffset: region * REGION_SCALE + byteOffset, shape: [...shape], dtype: 'float32', refCount: 1 };
      backend.dataIdMap.set(dataId, entry as never);
      externals.set(dataId, { file, byteOffset, transposed: storedTransposed, shape: [...shape] });
      return tf.engine().makeTensorFromDataId(dataId, [...shape], 'float32', backend);
    },
  };
}

/** Where an operand's data is for the native kernels: its (possibly virtual) offset and whether it is stored transposed. */
export function operandOf(backend: BackendWasm, t: tf.TensorInfo): { offset: number; transposed: boolean } {
  const e = externalOf(t);
  return { offset: backend.dataIdMap.get(t.dataId)!.memoryOffset, transposed: e?.transposed ?? false };
}

// Kernel functions for the wasm backend that run OpenBLAS on the wasm heap in place.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NativeAddon } from './addon';

type Shape = readonly number[];

/** How output batch i maps to an input matrix: i*stride (stride 0 broadcasts), or an explicit index table. */
export interface BatchPlan {
  batch: number;
  aStride: number;
  bStride: number;
  aIndex: Int32Array | null;
  bIndex: Int32Array | null;
}

const size = (shape: Shape): number => shape.reduce((p, d) => p * d, 1);

/** Matrix index of operand `inShape` (right-aligned batch dims, size-1 dims broadcast) for each output batch. */
function indexTable(inShape: Shape, outShape: Shape): Int32Array {
  const rank = outShape.length;
  const padded = [...new Array<number>(rank - inShape.length).fill(1), ...inShape];
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : s;
    s *= padded[d]!;
  }
  const total = size(outShape);
  const table = new Int32Array(total);
  const coord = new Array<number>(rank).fill(0);
  let idx = 0;
  for (let i = 0; i < total; i++) {
    table[i] = idx;
    // Odometer increment over outShape, keeping idx in step.
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]!++;
      idx += strides[d]!;
      if (coord[d]! < outShape[d]!) break;
      idx -= strides[d]! * coord[d]!;
      coord[d] = 0;
    }
  }
  return table;
}

/** Plans the batch loop for a [..aBatch, *, *] x [..bBatch, *, *] product with numpy/tfjs broadcasting. */
export function planBatches(aBatch: Shape, bBatch: Shape, outBatch: Shape): BatchPlan {
  const batch = size(outBatch);
  const na = size(aBatch);
  const nb = size(bBatch);
  // When an operand has as many matrices as the output, its batch shape equals the output's (each dim is
  // 1 or the output dim, and the products agree); one matrix broadcasts to all.
  const plan: BatchPlan = { batch, aStride: 1, bStride: 1, aIndex: null, bIndex: null };
  if (na === 1) plan.aStride = 0;
  else if (na !== batch) plan.aIndex = indexTable(aBatch, outBatch);
  if (nb === 1) plan.bStride = 0;
  else if (nb !== batch) plan.bIndex = indexTable(bBatch, outBatch);
  return plan;
}

interface MatMulGeometry {
  m: number;
  n: number;
  k: number;
  outShape: number[];
  plan: BatchPlan;
}

export function matMulGeometry(aShape: Shape, bShape: Shape, transposeA: boolean, transposeB: boolean): MatMulGeometry {
  const ar = aShape.length;
  const br = bShape.length;
  const m = (transposeA ? aShape[ar - 1] : aShape[ar - 2])!;
  const kA = (transposeA ? aShape[ar - 2] : aShape[ar - 1])!;
  const kB = (transposeB ? bShape[br - 1] : bShape[br - 2])!;
  const n = (transposeB ? bShape[br - 2] : bShape[br - 1])!;
  if (kA !== kB) {
    // Same wording as tfjs's kernels so error handling does not depend on which kernel ran.
    throw new Error(`Error in matMul: inner shapes (${kA}) and (${kB}) of Tensors with shapes ${aShape.join(',')} and ` +
      `${bShape.join(',')} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(aBatch, bBatch);
  return { m, n, k: kA, outShape: [...outBatch, m, n], plan: planBatches(aBatch, bBatch, outBatch) };
}

const isArrayBuffer = (x: unknown): x is ArrayBuffer => Object.prototype.toString.call(x) === '[object ArrayBuffer]';

/** The current wasm memory buffer. Re-read after every allocation: growing the memory detaches the old one. */
const heapOf = (backend: BackendWasm): ArrayBufferLike => (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer;

function offsetOf(backend: BackendWasm, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset;
}

/**
 * Runs C = op(A)·op(B) into a fresh wasm output. Returns undefined (and allocates nothing) when the heap is
 * not a plain ArrayBuffer (threaded wasm), so the caller can fall back to the stock kernel.
 */
function gemmInto(
  addon: NativeAddon, backend: BackendWasm, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean,
  transposeB: boolean,
): { out: tf.TensorInfo; rows: number; n: number; heap: ArrayBuffer } | undefined {
  if (!isArrayBuffer(heapOf(backend))) return undefined;
  const g = matMulGeometry(a.shape, b.shape, transposeA, transposeB);
  // Allocate first: _malloc may grow wasm memory, which detaches the previous ArrayBuffer.
  const out = backend.makeOutput(g.outShape, 'float32');
  const heap = heapOf(backend) as ArrayBuffer;
  const p = g.plan;
  let batch = p.batch;
  let m = g.m;
  // [batch, m, k]·[k, n] with one shared B is a single [batch*m, k]·[k, n] product.
  if (!transposeA && p.bStride === 0 && p.bIndex === null && p.aStride === 1 && p.aIndex === null) {
    m *= batch;
    batch = 1;
  }
  try {
    addon.gemm(heap, offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out), batch, m, g.n, g.k,
      transposeA, transposeB, p.aStride, p.bStride, p.aIndex, p.bIndex);
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
  return { out, rows: batch * m, n: g.n, heap };
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}

export function makeBatchMatMul(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock.kernelFunc(args) as tf.TensorInfo;
    const r = gemmInto(addon, args.backend, a, b, args.attrs['transposeA'] === true, args.attrs['transposeB'] === true);
    return r === undefined ? (stock.kernelFunc(args) as tf.TensorInfo) : r.out;
  };
  return kernel as unknown as tf.KernelFunc;
}

/** tfjs-wasm's FusableActivation codes; prelu (3) needs a weights tensor and stays on the stock kernel. */
const ACTIVATIONS: Readonly<Record<string, number>> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 4, sigmoid: 5, elu: 6 };

export function makeFusedMatMul(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const activation = String(args.attrs['activation'] ?? 'linear');
    const act = ACTIVATIONS[activation];
    const useStock = a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32' ||
      act === undefined || preluActivationWeights != null ||
      (bias != null && (bias.dtype !== 'float32' || bias.shape.length !== 1));
    if (useStock) return stock.kernelFunc(args) as tf.TensorInfo;
    const n = (args.attrs['transposeB'] === true ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1])!;
    if (bias != null && bias.shape[0] !== n) return stock.kernelFunc(args) as tf.TensorInfo;
    const r = gemmInto(addon, args.backend, a, b, args.attrs['transposeA'] === true, args.attrs['transposeB'] === true);
    if (r === undefined) return stock.kernelFunc(args) as tf.TensorInfo;
    if (bias != null || act !== 0) {
      const alpha = Number(args.attrs['leakyreluAlpha'] || 0); // as the stock wasm kernel reads it
      try {
        addon.biasAct(r.heap, offsetOf(args.backend, r.out), r.rows, r.n,
          bias != null ? offsetOf(args.backend, bias) : -1, act, alpha);
      } catch (e) {
        args.backend.disposeData(r.out.dataId);
        throw e;
      }
    }
    return r.out;
  };
  return kernel as unknown as tf.KernelFunc;
}

/**
 * Collapses a permutation: drops size-1 axes and merges runs of input axes that stay adjacent, e.g.
 * [16,128,12,32] with perm [0,2,1,3] stays 4-D, while [2048,384] with [1,0] is a plain 2-D swap.
 */
export function collapsePermutation(shape: Shape, perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = perm.filter((p) => shape[p] !== 1);
  const groups: number[][] = [];
  for (const p of kept) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[last.length - 1]! + 1 === p) last.push(p);
    else groups.push([p]);
  }
  // Input order of the groups gives the collapsed input shape; output order gives the collapsed perm.
  const byInput = [...groups].sort((g, h) => g[0]! - h[0]!);
  return {
    shape: byInput.map((g) => g.reduce((s, p) => s * shape[p]!, 1)),
    perm: groups.map((g) => byInput.indexOf(g)),
  };
}

/** Native Transpose for 4-byte dtypes when the permutation is a (batched) 2-D swap; else the stock kernel. */
export function makeTranspose(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const perm = args.attrs['perm'] as number[];
    const heap = heapOf(args.backend);
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || !isArrayBuffer(heap)) return stock.kernelFunc(args) as tf.TensorInfo;
    const c = collapsePermutation(x.shape, perm);
    let batch: number;
    if (c.shape.length === 2 && c.perm[0] === 1) batch = 1;
    else if (c.shape.length === 3 && c.perm[0] === 0 && c.perm[1] === 2) batch = c.shape[0]!;
    else return stock.kernelFunc(args) as tf.TensorInfo; // identity copies and other permutations
    const rows = c.shape[c.shape.length - 2]!;
    const cols = c.shape[c.shape.length - 1]!;
    const out = args.backend.makeOutput(perm.map((p) => x.shape[p]!), x.dtype);
    try {
      addon.transpose32(heapOf(args.backend) as ArrayBuffer, offsetOf(args.backend, x),
        offsetOf(args.backend, out), batch, rows, cols);
    } catch (e) {
      args.backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  };
  return kernel as unknown as tf.KernelFunc;
}

/**
 * Native Sum for float32 over one contiguous run of axes (e.g. bias gradients: the leading axes), with no
 * transpose and double accumulation; other cases go to the stock kernel.
 */
export function makeSum(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const heap = heapOf(args.backend);
    if (x.dtype !== 'float32' || !isArrayBuffer(heap)) return stock.kernelFunc(args) as tf.TensorInfo;
    const axisAttr = args.attrs['axis'] as number | number[] | null | undefined;
    const axes = axisAttr == null
      ? x.shape.map((_, i) => i)
      : [...new Set(tf.util.parseAxisParam(axisAttr, x.shape))].sort((p, q) => p - q);
    const first = axes[0];
    if (first === undefined || axes.some((a, i) => a !== first + i)) return stock.kernelFunc(args) as tf.TensorInfo;
    const last = axes[axes.length - 1]!;
    const outer = size(x.shape.slice(0, first));
    const reduce = size(x.shape.slice(first, last + 1));
    const inner = size(x.shape.slice(last + 1));
    const outShape = args.attrs['keepDims'] === true
      ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
      : x.shape.filter((_, i) => i < first || i > last);
    const out = args.backend.makeOutput(outShape, 'float32');
    try {
      addon.reduceSum(heapOf(args.backend) as ArrayBuffer, offsetOf(args.backend, x),
        offsetOf(args.backend, out), outer, reduce, inner);
    } catch (e) {
      args.backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  };
  return kernel as unknown as tf.KernelFunc;
}

/** Native GatherV2 (batchDims 0) for float32/int32 tables and int32 indices: one memcpy per gathered slice. */
export function makeGatherV2(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const batchDims = Number(args.attrs['batchDims'] ?? 0);
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || indices.dtype !== 'int32' || batchDims !== 0 ||
      size(x.shape) === 0 || !isArrayBuffer(heapOf(args.backend))) {
      return stock.kernelFunc(args) as tf.TensorInfo;
    }
    const axis = tf.util.parseAxisParam(args.attrs['axis'] as number, x.shape)[0]!;
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const out = args.backend.makeOutput(outShape, x.dtype);
    try {
      addon.gather32(heapOf(args.backend) as ArrayBuffer, offsetOf(args.backend, x), offsetOf(args.backend, indices),
        offsetOf(args.backend, out), size(x.shape.slice(0, axis)), x.shape[axis]!, size(x.shape.slice(axis + 1)),
        size(indices.shape));
    } catch (e) {
      args.backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  };
  return kernel as unknown as tf.KernelFunc;
}

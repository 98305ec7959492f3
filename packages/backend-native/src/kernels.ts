// Kernel functions for the wasm backend that run OpenBLAS on the wasm heap in place.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NativeAddon } from './addon';
import { externalOf, guarded, markExternalAware, operandOf } from './external';

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
  // A mapped weight (external.ts) is read in place; one stored transposed is the same product with the flag flipped.
  const ea = operandOf(backend, a);
  const eb = operandOf(backend, b);
  try {
    addon.gemm(heap, ea.offset, eb.offset, offsetOf(backend, out), batch, m, g.n, g.k,
      transposeA !== ea.transposed, transposeB !== eb.transposed, p.aStride, p.bStride, p.aIndex, p.bIndex);
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

/** The stock kernel behind the external-weights guard (it cannot read mapped operands itself). */
const guardedStock = (addon: NativeAddon, stock: tf.KernelConfig, args: KernelArgs): tf.TensorInfo =>
  guarded(addon, stock.kernelName, stock.kernelFunc as never)(args) as tf.TensorInfo;

export function makeBatchMatMul(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return guardedStock(addon, stock, args);
    const r = gemmInto(addon, args.backend, a, b, args.attrs['transposeA'] === true, args.attrs['transposeB'] === true);
    return r === undefined ? guardedStock(addon, stock, args) : r.out;
  };
  return markExternalAware(kernel) as unknown as tf.KernelFunc;
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
      (bias != null && (bias.dtype !== 'float32' || bias.shape.length !== 1 || externalOf(bias) !== undefined));
    if (useStock) return guardedStock(addon, stock, args);
    const n = (args.attrs['transposeB'] === true ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1])!;
    if (bias != null && bias.shape[0] !== n) return guardedStock(addon, stock, args);
    const r = gemmInto(addon, args.backend, a, b, args.attrs['transposeA'] === true, args.attrs['transposeB'] === true);
    if (r === undefined) return guardedStock(addon, stock, args);
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
  return markExternalAware(kernel) as unknown as tf.KernelFunc;
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

/**
 * A collapsed permutation that swaps two axes above a contiguous block: [rows, cols, inner] with perm [1,0,2], or
 * [batch, rows, cols, inner] with [0,2,1,3] (attention's head split and merge). Blocks under 4 elements stay on the
 * element-wise paths (the per-block copy would dominate).
 */
export function blockSwap(c: { shape: number[]; perm: number[] }): { batch: number; rows: number; cols: number; inner: number } | undefined {
  const [s, p] = [c.shape, c.perm.join(',')];
  if (p === '1,0,2' && s[2]! >= 4) return { batch: 1, rows: s[0]!, cols: s[1]!, inner: s[2]! };
  if (p === '0,2,1,3' && s[3]! >= 4) return { batch: s[0]!, rows: s[1]!, cols: s[2]!, inner: s[3]! };
  return undefined;
}

/** Native Transpose for 4-byte dtypes when the permutation is a (batched) 2-D swap, of elements or of blocks; else the stock kernel. */
export function makeTranspose(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const perm = args.attrs['perm'] as number[];
    const heap = heapOf(args.backend);
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || !isArrayBuffer(heap)) return stock.kernelFunc(args) as tf.TensorInfo;
    const c = collapsePermutation(x.shape, perm);
    // [rows, cols] or [batch, rows, cols] swapped elementwise; [(batch,) rows, cols, inner] swapped in blocks of inner.
    const blocks = blockSwap(c);
    let batch: number;
    if (blocks !== undefined) batch = 0;
    else if (c.shape.length === 2 && c.perm[0] === 1) batch = 1;
    else if (c.shape.length === 3 && c.perm[0] === 0 && c.perm[1] === 2) batch = c.shape[0]!;
    else return stock.kernelFunc(args) as tf.TensorInfo; // identity copies and other permutations
    const rows = c.shape[c.shape.length - 2]!;
    const cols = c.shape[c.shape.length - 1]!;
    const out = args.backend.makeOutput(perm.map((p) => x.shape[p]!), x.dtype);
    try {
      const heap = heapOf(args.backend) as ArrayBuffer;
      if (blocks !== undefined) {
        addon.transposeBlocks32(heap, offsetOf(args.backend, x), offsetOf(args.backend, out), blocks.batch, blocks.rows, blocks.cols, blocks.inner);
      } else addon.transpose32(heap, offsetOf(args.backend, x), offsetOf(args.backend, out), batch, rows, cols);
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

/** binary32's operation codes for the stock kernel names it replaces. */
export const BINARY_OPS: Readonly<Record<string, number>> = { Add: 0, Sub: 1, Multiply: 2 };

/** How binary32 reads an operand of an element-wise op: 0 full, 1 one row of n broadcast over the rows, 2 one value. */
export interface BinaryPlan {
  rows: number;
  n: number;
  aKind: number;
  bKind: number;
  outShape: number[];
}

/**
 * The binary32 layout of a ∘ b with numpy broadcasting, or undefined when it is none of: same size (shapes equal up
 * to leading 1s), one value, or a trailing block (e.g. a bias [384] against [2048, 384]). Those are the broadcasts
 * where a flat loop over the output reads each operand contiguously.
 */
export function planBinary(aShape: Shape, bShape: Shape): BinaryPlan | undefined {
  const outShape = tf.broadcast_util.assertAndGetBroadcastShape([...aShape], [...bShape]);
  const total = size(outShape);
  const kindOf = (shape: Shape): { kind: number; n: number } | undefined => {
    const count = size(shape);
    if (count === total) return { kind: 0, n: 0 };
    if (count === 1) return { kind: 2, n: 0 };
    const dims = shape.slice(shape.findIndex((d) => d !== 1));
    const tail = outShape.slice(outShape.length - dims.length);
    return dims.every((d, i) => d === tail[i]) ? { kind: 1, n: count } : undefined;
  };
  const a = kindOf(aShape);
  const b = kindOf(bShape);
  if (a === undefined || b === undefined || (a.kind === 1 && b.kind === 1 && a.n !== b.n)) return undefined;
  const n = a.kind === 1 ? a.n : b.kind === 1 ? b.n : Math.max(total, 1);
  return { rows: total === 0 ? 0 : total / n, n, aKind: a.kind, bKind: b.kind, outShape };
}

/**
 * Native Add/Sub/Multiply for float32 operands of the same size, with one value, or with a trailing-block broadcast
 * (residual sums, gradient accumulation, bias adds): one float32 operation per element as the stock kernel, so the
 * same bits, split over the element-wise pool. Other dtypes and broadcasts go to the stock kernel.
 */
export function makeBinary(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const op = BINARY_OPS[stock.kernelName];
  if (op === undefined) throw new Error(`makeBinary: no native kernel for ${stock.kernelName}`);
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !isArrayBuffer(heapOf(args.backend))) return stock.kernelFunc(args) as tf.TensorInfo;
    const plan = planBinary(a.shape, b.shape);
    if (plan === undefined) return stock.kernelFunc(args) as tf.TensorInfo;
    const out = args.backend.makeOutput(plan.outShape, 'float32');
    try {
      addon.binary32(heapOf(args.backend) as ArrayBuffer, op, offsetOf(args.backend, a), plan.aKind, offsetOf(args.backend, b),
        plan.bKind, offsetOf(args.backend, out), plan.rows, plan.n);
    } catch (e) {
      args.backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  };
  return kernel as unknown as tf.KernelFunc;
}

/** Pack/Unpack geometry around `axis` of `shape`: rows before it, the axis length, contiguous elements after it. */
function axisSplit(shape: Shape, axis: number): { outer: number; n: number; inner: number } {
  return { outer: size(shape.slice(0, axis)), n: shape[axis]!, inner: size(shape.slice(axis + 1)) };
}

/** Native Unpack (tf.unstack, and stack's gradient) for 4-byte dtypes: one strided copy per output. */
export function makeUnpack(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => {
    const { value } = args.inputs as { value: tf.TensorInfo };
    if ((value.dtype !== 'float32' && value.dtype !== 'int32') || !isArrayBuffer(heapOf(args.backend))) {
      return stock.kernelFunc(args) as tf.TensorInfo[];
    }
    const axis = tf.util.parseAxisParam(args.attrs['axis'] as number, value.shape)[0]!;
    const { outer, n, inner } = axisSplit(value.shape, axis);
    const outShape = value.shape.filter((_, i) => i !== axis);
    const outs: tf.TensorInfo[] = [];
    try {
      for (let i = 0; i < n; i++) outs.push(args.backend.makeOutput(outShape, value.dtype));
      const heap = heapOf(args.backend) as ArrayBuffer;
      const src = offsetOf(args.backend, value);
      outs.forEach((o, i) => addon.stridedCopy32(heap, src + 4 * i * inner, offsetOf(args.backend, o), outer, inner, n * inner, inner));
    } catch (e) {
      for (const o of outs) args.backend.disposeData(o.dataId);
      throw e;
    }
    return outs;
  };
  return kernel as unknown as tf.KernelFunc;
}

/** Native Pack (tf.stack) for 4-byte dtypes: one strided copy per input. */
export function makePack(addon: NativeAddon, stock: tf.KernelConfig): tf.KernelFunc {
  const kernel = (args: KernelArgs): tf.TensorInfo => {
    const inputs = Object.values(args.inputs) as tf.TensorInfo[];
    const first = inputs[0];
    if (!first || inputs.length < 2 || (first.dtype !== 'float32' && first.dtype !== 'int32') || !isArrayBuffer(heapOf(args.backend)) ||
      inputs.some((t) => t.dtype !== first.dtype || !tf.util.arraysEqual(t.shape, first.shape))) {
      return stock.kernelFunc(args) as tf.TensorInfo; // stock also reports mismatched shapes and dtypes
    }
    const axis = tf.util.parseAxisParam(args.attrs['axis'] as number, [...first.shape, inputs.length])[0]!;
    const outShape = [...first.shape.slice(0, axis), inputs.length, ...first.shape.slice(axis)];
    const { outer, n, inner } = axisSplit(outShape, axis);
    const out = args.backend.makeOutput(outShape, first.dtype);
    try {
      const heap = heapOf(args.backend) as ArrayBuffer;
      const dst = offsetOf(args.backend, out);
      inputs.forEach((t, i) => addon.stridedCopy32(heap, offsetOf(args.backend, t), dst + 4 * i * inner, outer, inner, inner, n * inner));
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
      size(x.shape) === 0 || !isArrayBuffer(heapOf(args.backend)) || externalOf(indices) !== undefined) {
      return guardedStock(addon, stock, args);
    }
    // A mapped embedding table is read in place; one stored transposed gets a heap copy (guarded calls back here).
    if (externalOf(x)?.transposed === true) return guarded(addon, 'GatherV2', kernel as never)(args) as tf.TensorInfo;
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
  return markExternalAware(kernel) as unknown as tf.KernelFunc;
}

// ---------------------------------------------------------------------------------------------------------
// Fused element-wise kernels under new names (no stock kernel): float32 only, computed in one C pass each.

/** Names of the fused kernels, in registration order. */
export const FUSED_KERNEL_NAMES = [
  'AdaptersGelu', 'AdaptersGeluGrad', 'AdaptersSoftmaxGrad', 'AdaptersLayerNorm', 'AdaptersLayerNormGrad', 'AdaptersAdamW',
  'AdaptersDropoutMask', 'AdaptersScatterAddRows', 'AdaptersAddLayerNorm', 'AdaptersBottleneck', 'AdaptersAttention',
  'AdaptersAttentionTrain', 'AdaptersAttentionGrad',
] as const;

export type FusedKernelName = (typeof FUSED_KERNEL_NAMES)[number];

function requireFloat32(kernel: string, inputs: Record<string, tf.TensorInfo | undefined>): Record<string, tf.TensorInfo> {
  for (const [name, t] of Object.entries(inputs)) {
    if (t === undefined) throw new Error(`${kernel}: missing input '${name}'`);
    if (t.dtype !== 'float32') throw new Error(`${kernel}: input '${name}' has dtype ${t.dtype}; only float32 is supported`);
  }
  return inputs as Record<string, tf.TensorInfo>;
}

function requireShape(kernel: string, name: string, t: tf.TensorInfo, expected: Shape): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`${kernel}: input '${name}' has shape [${t.shape.join(',')}], expected [${expected.join(',')}]`);
  }
}

function requireSize(kernel: string, name: string, t: tf.TensorInfo, expected: number, what: string): void {
  if (size(t.shape) !== expected) {
    throw new Error(`${kernel}: input '${name}' has shape [${t.shape.join(',')}], expected ${expected} elements (${what})`);
  }
}

function numberAttr(kernel: string, attrs: tf.NamedAttrMap, name: string): number {
  const v = attrs[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${kernel}: attr '${name}' must be a finite number`);
  return v;
}

/**
 * Allocates the outputs (all of them before reading the heap: each allocation may grow wasm memory and detach
 * the previous ArrayBuffer), then runs `call` with the current heap and the outputs' byte offsets. Disposes
 * the outputs if anything throws.
 */
function computeInto(
  kernel: string, backend: BackendWasm, shapes: readonly Shape[],
  call: (heap: ArrayBuffer, outOffsets: number[]) => void,
): tf.TensorInfo[] {
  if (!isArrayBuffer(heapOf(backend))) {
    throw new Error(`${kernel}: needs the non-threaded wasm backend (the heap is a SharedArrayBuffer)`);
  }
  const outs: tf.TensorInfo[] = [];
  try {
    for (const shape of shapes) outs.push(backend.makeOutput([...shape], 'float32'));
    call(heapOf(backend) as ArrayBuffer, outs.map((o) => offsetOf(backend, o)));
  } catch (e) {
    for (const o of outs) backend.disposeData(o.dataId);
    throw e;
  }
  return outs;
}

type FusedKernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const asKernelFunc = (k: FusedKernel): tf.KernelFunc => k as unknown as tf.KernelFunc;

function makeGeluFamily(addon: NativeAddon, grad: boolean): tf.KernelFunc {
  const kernel = grad ? 'AdaptersGeluGrad' : 'AdaptersGelu';
  return asKernelFunc(({ inputs, backend }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    if (!grad) {
      const { x } = requireFloat32(kernel, { x: ins['x'] }) as { x: tf.TensorInfo };
      return computeInto(kernel, backend, [x.shape], (heap, [y]) =>
        addon.geluFwd(heap, offsetOf(backend, x), y!, size(x.shape)))[0]!;
    }
    const { dy, x } = requireFloat32(kernel, { dy: ins['dy'], x: ins['x'] }) as { dy: tf.TensorInfo; x: tf.TensorInfo };
    requireShape(kernel, 'dy', dy, x.shape);
    return computeInto(kernel, backend, [x.shape], (heap, [dx]) =>
      addon.geluGrad(heap, offsetOf(backend, dy), offsetOf(backend, x), dx!, size(x.shape)))[0]!;
  });
}

/** AdaptersGelu: {x} → y = 0.5·x·(1 + erf(x/√2)). */
export const makeGelu = (addon: NativeAddon): tf.KernelFunc => makeGeluFamily(addon, false);

/** AdaptersGeluGrad: {dy, x} → dx = dy·(Φ(x) + x·φ(x)). */
export const makeGeluGrad = (addon: NativeAddon): tf.KernelFunc => makeGeluFamily(addon, true);

/** Rows and row length for an op over the last axis (a scalar counts as one row of one). */
function lastAxis(shape: Shape): { rows: number; n: number } {
  const n = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  return { rows: size(shape.slice(0, -1)), n };
}

/** AdaptersSoftmaxGrad: {dy, y} → dx = y·(dy − Σ_last(dy·y)). */
export function makeSoftmaxGrad(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersSoftmaxGrad';
  return asKernelFunc(({ inputs, backend }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const { dy, y } = requireFloat32(kernel, { dy: ins['dy'], y: ins['y'] }) as { dy: tf.TensorInfo; y: tf.TensorInfo };
    requireShape(kernel, 'dy', dy, y.shape);
    const { rows, n } = lastAxis(y.shape);
    return computeInto(kernel, backend, [y.shape], (heap, [dx]) =>
      addon.softmaxGrad(heap, offsetOf(backend, dy), offsetOf(backend, y), dx!, rows, n))[0]!;
  });
}

/** Validates x [..., n] (rank >= 1) and gamma/beta-like [n] inputs; returns rows and n. */
function layerNormGeometry(kernel: string, x: tf.TensorInfo, perFeature: Record<string, tf.TensorInfo>): { rows: number; n: number } {
  if (x.shape.length === 0) throw new Error(`${kernel}: input 'x' must have rank >= 1`);
  const g = lastAxis(x.shape);
  for (const [name, t] of Object.entries(perFeature)) requireShape(kernel, name, t, [g.n]);
  return g;
}

/** AdaptersLayerNorm: {x, gamma, beta}, {epsilon} → [y, mean [rows], rstd [rows]]. */
export function makeLayerNorm(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersLayerNorm';
  return asKernelFunc(({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const { x, gamma, beta } = requireFloat32(kernel, { x: ins['x'], gamma: ins['gamma'], beta: ins['beta'] }) as
      { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const { rows, n } = layerNormGeometry(kernel, x, { gamma, beta });
    const epsilon = numberAttr(kernel, attrs, 'epsilon');
    return computeInto(kernel, backend, [x.shape, [rows], [rows]], (heap, [y, mean, rstd]) =>
      addon.layerNorm(heap, offsetOf(backend, x), offsetOf(backend, gamma), offsetOf(backend, beta), y!, mean!, rstd!,
        rows, n, epsilon));
  });
}

/** AdaptersLayerNormGrad: {dy, x, gamma, mean, rstd} → [dx, dgamma [n], dbeta [n]]. */
export function makeLayerNormGrad(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersLayerNormGrad';
  return asKernelFunc(({ inputs, backend }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const { dy, x, gamma, mean, rstd } = requireFloat32(kernel,
      { dy: ins['dy'], x: ins['x'], gamma: ins['gamma'], mean: ins['mean'], rstd: ins['rstd'] }) as
      { dy: tf.TensorInfo; x: tf.TensorInfo; gamma: tf.TensorInfo; mean: tf.TensorInfo; rstd: tf.TensorInfo };
    const { rows, n } = layerNormGeometry(kernel, x, { gamma });
    requireShape(kernel, 'dy', dy, x.shape);
    // mean/rstd as AdaptersLayerNorm returns them ([rows]), or any shape with rows elements (e.g. [..., 1]).
    requireSize(kernel, 'mean', mean, rows, 'one per row of x');
    requireSize(kernel, 'rstd', rstd, rows, 'one per row of x');
    return computeInto(kernel, backend, [x.shape, [n], [n]], (heap, [dx, dgamma, dbeta]) =>
      addon.layerNormGrad(heap, offsetOf(backend, dy), offsetOf(backend, x), offsetOf(backend, gamma),
        offsetOf(backend, mean), offsetOf(backend, rstd), dx!, dgamma!, dbeta!, rows, n));
  });
}

/** AdaptersAdamW: {param, grad, m, v}, {lr, beta1, beta2, epsilon, weightDecay, step} → [param', m', v']. */
export function makeAdamW(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersAdamW';
  return asKernelFunc(({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const { param, grad, m, v } = requireFloat32(kernel, { param: ins['param'], grad: ins['grad'], m: ins['m'], v: ins['v'] }) as
      { param: tf.TensorInfo; grad: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo };
    for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) requireShape(kernel, name, t, param.shape);
    const [lr, beta1, beta2, epsilon, weightDecay, step] = (['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'step'] as const)
      .map((name) => numberAttr(kernel, attrs, name)) as [number, number, number, number, number, number];
    if (step < 1) throw new Error(`${kernel}: attr 'step' must be >= 1, got ${step}`);
    return computeInto(kernel, backend, [param.shape, param.shape, param.shape], (heap, [pOut, mOut, vOut]) =>
      addon.adamW(heap, offsetOf(backend, param), offsetOf(backend, grad), offsetOf(backend, m), offsetOf(backend, v),
        pOut!, mOut!, vOut!, size(param.shape), lr, beta1, beta2, epsilon, weightDecay, step));
  });
}

/** splitmix32 finaliser (the same key derivation as @adapters/core-graph's dropout-mask.ts). */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** The mask's keys, keep threshold (2³² keeps all) and keep scale for a seed and rate, as dropout-mask.ts derives them. */
function dropoutKeys(seed: number, rate: number): { k1: number; k2: number; threshold: number; keepScale: number } {
  const k1 = splitmix32(seed >>> 0);
  return { k1, k2: splitmix32(k1), threshold: Math.floor((1 - rate) * 4294967296), keepScale: Math.fround(1 / (1 - rate)) };
}

/**
 * AdaptersDropoutMask: {}, {shape, rate, seed} → float32 mask, entry i = 1/(1 − rate) when
 * lowbias32(lowbias32(i ⊕ k1) + k2) < ⌊(1 − rate)·2³²⌋ else 0, with k1 = splitmix32(seed), k2 = splitmix32(k1).
 * Written straight into wasm memory: no JS array, no copy.
 */
export function makeDropoutMask(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersDropoutMask';
  return asKernelFunc(({ backend, attrs }) => {
    const shape = attrs['shape'];
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || (d as number) < 0)) {
      throw new Error(`${kernel}: attr 'shape' must be an array of non-negative integers`);
    }
    const rate = numberAttr(kernel, attrs, 'rate');
    if (!(rate >= 0 && rate < 1)) throw new Error(`${kernel}: attr 'rate' must be in [0, 1), got ${rate}`);
    const seed = numberAttr(kernel, attrs, 'seed') >>> 0;
    const { k1, k2, threshold, keepScale } = dropoutKeys(seed, rate);
    const dims = shape as number[];
    return computeInto(kernel, backend, [dims], (heap, [out]) =>
      addon.dropoutMask(heap, out!, size(dims), k1, k2, threshold, keepScale))[0]!;
  });
}

/**
 * AdaptersScatterAddRows: {dy float32 [count, width] (any shape of that size), ids int32 [count]}, {rows, width} →
 * [rows, width] with out[ids[i]] += dy[i] (the embedding table's gradient); ids outside [0, rows) throw.
 */
export function makeScatterAddRows(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersScatterAddRows';
  return asKernelFunc(({ inputs, backend, attrs }) => {
    const { dy, ids } = inputs as { dy?: tf.TensorInfo; ids?: tf.TensorInfo };
    if (!dy || !ids) throw new Error(`${kernel}: needs inputs 'dy' and 'ids'`);
    if (dy.dtype !== 'float32') throw new Error(`${kernel}: input 'dy' has dtype ${dy.dtype}; only float32 is supported`);
    if (ids.dtype !== 'int32') throw new Error(`${kernel}: input 'ids' has dtype ${ids.dtype}; expected int32`);
    const rows = numberAttr(kernel, attrs, 'rows');
    const width = numberAttr(kernel, attrs, 'width');
    const count = size(ids.shape);
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(width) || width < 0) {
      throw new Error(`${kernel}: attrs 'rows' (${rows}) and 'width' (${width}) must be non-negative integers`);
    }
    if (size(dy.shape) !== count * width) {
      throw new Error(`${kernel}: dy [${dy.shape.join(',')}] is not ${count} rows of width ${width}`);
    }
    return computeInto(kernel, backend, [[rows, width]], (heap, [out]) =>
      addon.scatterAddRows(heap, offsetOf(backend, dy), offsetOf(backend, ids), out!, count, width, rows))[0]!;
  });
}

/**
 * AdaptersAddLayerNorm: {a, b[, c] (same shape [..., n]), gamma [n], beta [n]}, {epsilon} → LayerNorm(a + b [+ c]),
 * the residual sums and the norm in one pass ((a + b) + c, in that order). Inference: no statistics are returned,
 * so it has no gradient.
 */
export function makeAddLayerNorm(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersAddLayerNorm';
  return asKernelFunc(({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const { a, b, gamma, beta } = requireFloat32(kernel, { a: ins['a'], b: ins['b'], gamma: ins['gamma'], beta: ins['beta'] }) as
      { a: tf.TensorInfo; b: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    requireShape(kernel, 'b', b, a.shape);
    const c = ins['c'];
    if (c !== undefined) {
      requireFloat32(kernel, { c });
      requireShape(kernel, 'c', c, a.shape);
    }
    const { rows, n } = layerNormGeometry(kernel, a, { gamma, beta });
    const epsilon = numberAttr(kernel, attrs, 'epsilon');
    return computeInto(kernel, backend, [a.shape], (heap, [y]) =>
      addon.addLayerNorm(heap, offsetOf(backend, a), offsetOf(backend, b), c ? offsetOf(backend, c) : -1, offsetOf(backend, gamma),
        offsetOf(backend, beta), y!, rows, n, epsilon))[0]!;
  });
}

/** The bottleneck kernel's activation codes (native/bottleneck.h). */
export const BOTTLENECK_ACTIVATIONS: Readonly<Record<string, number>> = { identity: 0, relu: 1, swish: 2, gelu: 3 };

/**
 * AdaptersBottleneck: {h, x [..., w], wDown [w, m], bDown [m], wUp [m, w], bUp [w], gamma [w], beta [w][, preGamma,
 * preBeta [w]]}, {activation, scale, epsilon, preEpsilon} → LayerNorm(((act(a·wDown + bDown)·wUp + bUp)·scale + h) + x)
 * with a = LayerNorm(h + x; preGamma, preBeta) when those are given, else h. Inference only (no gradient).
 */
export function makeBottleneck(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersBottleneck';
  return asKernelFunc(({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const names = ['h', 'x', 'wDown', 'bDown', 'wUp', 'bUp', 'gamma', 'beta'] as const;
    const t = requireFloat32(kernel, Object.fromEntries(names.map((n) => [n, ins[n]]))) as Record<(typeof names)[number], tf.TensorInfo>;
    const [preGamma, preBeta] = [ins['preGamma'], ins['preBeta']];
    if ((preGamma === undefined) !== (preBeta === undefined)) throw new Error(`${kernel}: give both 'preGamma' and 'preBeta' or neither`);
    requireShape(kernel, 'x', t.x, t.h.shape);
    const { rows, n: w } = layerNormGeometry(kernel, t.h, { bUp: t.bUp, gamma: t.gamma, beta: t.beta });
    if (preGamma && preBeta) {
      requireFloat32(kernel, { preGamma, preBeta });
      layerNormGeometry(kernel, t.h, { preGamma, preBeta });
    }
    if (t.wDown.shape.length !== 2 || t.wDown.shape[0] !== w) {
      throw new Error(`${kernel}: input 'wDown' has shape [${t.wDown.shape.join(',')}], expected [${w}, m]`);
    }
    const m = t.wDown.shape[1]!;
    requireShape(kernel, 'bDown', t.bDown, [m]);
    requireShape(kernel, 'wUp', t.wUp, [m, w]);
    const activation = String(attrs['activation'] ?? 'identity');
    const act = BOTTLENECK_ACTIVATIONS[activation];
    if (act === undefined) throw new Error(`${kernel}: attr 'activation' must be one of ${Object.keys(BOTTLENECK_ACTIVATIONS).join(', ')}, got '${activation}'`);
    const scale = numberAttr(kernel, attrs, 'scale');
    const epsilon = numberAttr(kernel, attrs, 'epsilon');
    const preEpsilon = preGamma ? numberAttr(kernel, attrs, 'preEpsilon') : 0;
    const off = (x: tf.TensorInfo): number => offsetOf(backend, x);
    return computeInto(kernel, backend, [t.h.shape], (heap, [y]) =>
      addon.bottleneck(heap, off(t.h), off(t.x), off(t.wDown), off(t.bDown), off(t.wUp), off(t.bUp), off(t.gamma), off(t.beta),
        preGamma ? off(preGamma) : -1, preBeta ? off(preBeta) : -1, y!, rows, w, m, act, scale, epsilon, preEpsilon))[0]!;
  });
}

/** q, k, v [batch, seq, hidden] of equal shapes and attr heads dividing hidden. */
function attentionGeometry(kernel: string, q: tf.TensorInfo, k: tf.TensorInfo, v: tf.TensorInfo, attrs: tf.NamedAttrMap) {
  if (q.shape.length !== 3) throw new Error(`${kernel}: input 'q' has shape [${q.shape.join(',')}], expected [batch, seq, hidden]`);
  requireShape(kernel, 'k', k, q.shape);
  requireShape(kernel, 'v', v, q.shape);
  const [batch, seq, hidden] = q.shape as [number, number, number];
  const heads = numberAttr(kernel, attrs, 'heads');
  if (!Number.isInteger(heads) || heads < 1 || hidden % heads !== 0) {
    throw new Error(`${kernel}: attr 'heads' (${heads}) must be a positive integer dividing hidden size ${hidden}`);
  }
  return { batch, seq, heads, hidden };
}

/**
 * AdaptersAttention: {q, k, v [batch, seq, hidden][, mask [batch, seq]][, prefixK, prefixV [prefix, hidden]]},
 * {heads, scale} → context [batch, seq, hidden] = softmax(scale·q·kᵀ + (1 − mask)·(−1e9))·v per head, the prefix rows
 * prepended to k and v and always attended. Inference only (no gradient): scores never leave the native pass.
 */
export function makeAttention(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersAttention';
  return asKernelFunc(({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const { q, k, v } = requireFloat32(kernel, { q: ins['q'], k: ins['k'], v: ins['v'] }) as Record<'q' | 'k' | 'v', tf.TensorInfo>;
    const { batch, seq, heads, hidden } = attentionGeometry(kernel, q, k, v, attrs);
    const scale = numberAttr(kernel, attrs, 'scale');
    const mask = ins['mask'];
    if (mask !== undefined) {
      requireFloat32(kernel, { mask });
      requireShape(kernel, 'mask', mask, [batch, seq]);
    }
    const [pk, pv] = [ins['prefixK'], ins['prefixV']];
    if ((pk === undefined) !== (pv === undefined)) throw new Error(`${kernel}: give both 'prefixK' and 'prefixV' or neither`);
    let prefix = 0;
    if (pk && pv) {
      requireFloat32(kernel, { prefixK: pk, prefixV: pv });
      prefix = pk.shape[0] ?? 0;
      requireShape(kernel, 'prefixK', pk, [prefix, hidden]);
      requireShape(kernel, 'prefixV', pv, [prefix, hidden]);
    }
    const off = (t: tf.TensorInfo | undefined): number => (t ? offsetOf(backend, t) : -1);
    return computeInto(kernel, backend, [q.shape], (heap, [out]) =>
      addon.attention(heap, off(q), off(k), off(v), off(mask), prefix > 0 ? off(pk) : -1, prefix > 0 ? off(pv) : -1, out!,
        batch, seq, heads, hidden / heads, prefix, scale))[0]!;
  });
}

/**
 * Training attention: attentionGeometry plus attrs scale, rate and seed, and the optional prefix rows (prefixK, prefixV:
 * [prefix, hidden] shared by the batch or [batch, prefix, hidden] per example).
 */
function trainingAttentionGeometry(kernel: string, ins: Record<string, tf.TensorInfo | undefined>, attrs: tf.NamedAttrMap) {
  const { q, k, v } = requireFloat32(kernel, { q: ins['q'], k: ins['k'], v: ins['v'] }) as Record<'q' | 'k' | 'v', tf.TensorInfo>;
  const { batch, seq, heads, hidden } = attentionGeometry(kernel, q, k, v, attrs);
  const rate = numberAttr(kernel, attrs, 'rate');
  if (!(rate >= 0 && rate < 1)) throw new Error(`${kernel}: attr 'rate' must be in [0, 1), got ${rate}`);
  const drop = dropoutKeys(numberAttr(kernel, attrs, 'seed'), rate);
  const [pk, pv] = [ins['prefixK'], ins['prefixV']];
  if ((pk === undefined) !== (pv === undefined)) throw new Error(`${kernel}: give both 'prefixK' and 'prefixV' or neither`);
  let prefix = 0;
  const perExample = pk?.shape.length === 3;
  if (pk && pv) {
    requireFloat32(kernel, { prefixK: pk, prefixV: pv });
    prefix = pk.shape.at(-2) ?? 0;
    const shape = perExample ? [batch, prefix, hidden] : [prefix, hidden];
    requireShape(kernel, 'prefixK', pk, shape);
    requireShape(kernel, 'prefixV', pv, shape);
  }
  return {
    q, k, v, pk, pv, batch, seq, heads, dh: hidden / heads, hidden, prefix, perExample, scale: numberAttr(kernel, attrs, 'scale'), drop,
    probsShape: [batch, heads, seq, prefix + seq],
  };
}

/**
 * AdaptersAttentionTrain: {q, k, v [batch, seq, hidden][, mask [batch, seq]][, prefixK, prefixV]}, {heads, scale, rate, seed}
 * → [context [batch, seq, hidden], probabilities [batch, heads, seq, prefix + seq]]: per head
 * softmax(scale·q·kᵀ + (1 − mask)·(−1e9)) with the prefix rows prepended to k and v (always attended), then inverted dropout
 * with the AdaptersDropoutMask mask of (that shape, rate, seed), times v. The probabilities are those before dropout (the
 * backward pass needs them; the mask is recomputed).
 */
export function makeAttentionTrain(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersAttentionTrain';
  return asKernelFunc(({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const g = trainingAttentionGeometry(kernel, ins, attrs);
    const mask = ins['mask'];
    if (mask !== undefined) {
      requireFloat32(kernel, { mask });
      requireShape(kernel, 'mask', mask, [g.batch, g.seq]);
    }
    const off = (t: tf.TensorInfo | undefined): number => (t ? offsetOf(backend, t) : -1);
    return computeInto(kernel, backend, [g.q.shape, g.probsShape], (heap, [out, probs]) =>
      addon.attentionTrain(heap, off(g.q), off(g.k), off(g.v), off(mask), off(g.pk), off(g.pv), out!, probs!, g.batch, g.seq, g.heads,
        g.dh, g.prefix, g.perExample, g.scale, g.drop.k1, g.drop.k2, g.drop.threshold, g.drop.keepScale));
  });
}

/**
 * AdaptersAttentionGrad: {dy, q, k, v [batch, seq, hidden], probs [batch, heads, seq, prefix + seq][, prefixK, prefixV]},
 * same attrs → [dq, dk, dv] and, with a prefix, [dPrefixK, dPrefixV] in the prefix's shape (a shared prefix's summed over
 * the batch in double, in batch order).
 */
export function makeAttentionGrad(addon: NativeAddon): tf.KernelFunc {
  const kernel = 'AdaptersAttentionGrad';
  return asKernelFunc(({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, tf.TensorInfo | undefined>;
    const g = trainingAttentionGeometry(kernel, ins, attrs);
    const { dy, probs } = requireFloat32(kernel, { dy: ins['dy'], probs: ins['probs'] }) as Record<'dy' | 'probs', tf.TensorInfo>;
    requireShape(kernel, 'dy', dy, g.q.shape);
    requireShape(kernel, 'probs', probs, g.probsShape);
    const off = (x: tf.TensorInfo | undefined): number => (x ? offsetOf(backend, x) : -1);
    const perExample = [g.batch, g.prefix, g.hidden];
    const shapes = [g.q.shape, g.q.shape, g.q.shape, ...(g.prefix > 0 ? [perExample, perExample] : [])];
    const outs = computeInto(kernel, backend, shapes, (heap, [dq, dk, dv, dpk, dpv]) =>
      addon.attentionGrad(heap, off(dy), off(g.q), off(g.k), off(g.v), off(g.pk), off(g.pv), off(probs), dq!, dk!, dv!, dpk ?? -1,
        dpv ?? -1, g.batch, g.seq, g.heads, g.dh, g.prefix, g.perExample, g.scale, g.drop.k1, g.drop.k2, g.drop.threshold,
        g.drop.keepScale));
    if (g.prefix === 0 || g.perExample) return outs;
    // A shared prefix: its gradient is the sum of the examples' shares.
    const summed = outs.slice(3).map((share) => {
      const [total] = computeInto(kernel, backend, [[g.prefix, g.hidden]], (heap, [out]) =>
        addon.reduceSum(heap, offsetOf(backend, share), out!, 1, g.batch, g.prefix * g.hidden));
      backend.disposeData(share.dataId);
      return total!;
    });
    return [...outs.slice(0, 3), ...summed];
  });
}

/** Factory per fused kernel name. */
export const FUSED_FACTORIES: Readonly<Record<FusedKernelName, (addon: NativeAddon) => tf.KernelFunc>> = {
  AdaptersGelu: makeGelu,
  AdaptersGeluGrad: makeGeluGrad,
  AdaptersSoftmaxGrad: makeSoftmaxGrad,
  AdaptersLayerNorm: makeLayerNorm,
  AdaptersLayerNormGrad: makeLayerNormGrad,
  AdaptersAdamW: makeAdamW,
  AdaptersDropoutMask: makeDropoutMask,
  AdaptersScatterAddRows: makeScatterAddRows,
  AdaptersAddLayerNorm: makeAddLayerNorm,
  AdaptersBottleneck: makeBottleneck,
  AdaptersAttention: makeAttention,
  AdaptersAttentionTrain: makeAttentionTrain,
  AdaptersAttentionGrad: makeAttentionGrad,
};

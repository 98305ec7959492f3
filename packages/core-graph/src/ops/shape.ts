import * as tf from '@tensorflow/tfjs';
import type { Dim } from '../graph/types';
import type { InferArgs } from './op-def';
import { defineOp, input, numAttr, shapeError } from './op-def';

function dimsAttr(args: InferArgs, name: string): Dim[] {
  const v = args.attrs[name];
  if (!Array.isArray(v) || !v.every((d) => typeof d === 'number' || d === 'batch' || d === 'seq')) {
    throw shapeError(args, `attribute '${name}' must be a list of dims`);
  }
  return v as Dim[];
}

const axisOf = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Reshape; target dims may be symbolic ('batch', 'seq') and resolve against the input's runtime shape. */
export const reshapeOp = defineOp({
  name: 'reshape',
  pure: true,
  arity: 1,
  inferType(args) {
    const x = input(args, 0);
    const shape = dimsAttr(args, 'shape');
    const fixed = (dims: readonly Dim[]) => dims.filter((d): d is number => typeof d === 'number').reduce((a, b) => a * b, 1);
    const sym = (dims: readonly Dim[]) => dims.filter((d) => typeof d === 'string').sort().join(',');
    if (fixed(x.shape) !== fixed(shape) || sym(x.shape) !== sym(shape)) {
      throw shapeError(args, `cannot reshape [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
    }
    return { shape, dtype: x.dtype };
  },
  run([x], _p, attrs) {
    const xs = x as tf.Tensor;
    const target = attrs['shape'] as Dim[];
    // Symbolic dims: batch is the input's first dim, seq its second (the convention every model input follows).
    const resolved = target.map((d) => (d === 'batch' ? xs.shape[0] : d === 'seq' ? xs.shape[1] : d) as number);
    return tf.reshape(xs, resolved);
  },
});

export const transposeOp = defineOp({
  name: 'transpose',
  pure: true,
  arity: 1,
  inferType(args) {
    const x = input(args, 0);
    const perm = args.attrs['perm'];
    if (!Array.isArray(perm) || perm.length !== x.shape.length || [...perm].sort().some((p, i) => p !== i)) {
      throw shapeError(args, `perm ${JSON.stringify(perm)} is not a permutation of rank ${x.shape.length}`);
    }
    return { shape: (perm as number[]).map((p) => x.shape[p] as Dim), dtype: x.dtype };
  },
  run: ([x], _p, attrs) => tf.transpose(x as tf.Tensor, attrs['perm'] as number[]),
});

export const concatOp = defineOp({
  name: 'concat',
  pure: true,
  arity: [1, 64],
  inferType(args) {
    const first = input(args, 0);
    const axis = axisOf(numAttr(args.attrs, 'axis'), first.shape.length);
    let size: Dim = 0;
    args.inputs.forEach((t, i) => {
      if (t.shape.length !== first.shape.length || t.shape.some((d, j) => j !== axis && d !== first.shape[j])) {
        throw shapeError(args, `input ${i} [${t.shape.join(', ')}] does not match input 0 outside axis ${axis}`);
      }
      const d = t.shape[axis] as Dim;
      size = typeof size === 'number' && typeof d === 'number' ? size + d : typeof d === 'string' ? d : size;
    });
    return { shape: first.shape.map((d, j) => (j === axis ? size : d)), dtype: first.dtype };
  },
  run: (inputs, _p, attrs) => tf.concat(inputs as tf.Tensor[], numAttr(attrs, 'axis')),
});

/** Slice `size` entries from `begin` along `axis` (size -1 = to the end). Sub-batches keep the symbolic dim. */
export const sliceOp = defineOp({
  name: 'slice',
  pure: true,
  arity: 1,
  inferType(args) {
    const x = input(args, 0);
    const axis = axisOf(numAttr(args.attrs, 'axis'), x.shape.length);
    const begin = numAttr(args.attrs, 'begin');
    const size = numAttr(args.attrs, 'size');
    const d = x.shape[axis];
    if (d === undefined) throw shapeError(args, `axis ${axis} out of range`);
    if (typeof d === 'number' && (begin < 0 || (size >= 0 && begin + size > d))) {
      throw shapeError(args, `slice [${begin}, ${begin + size}) out of range for dim ${d}`);
    }
    const out: Dim = typeof d === 'number' ? (size < 0 ? d - begin : size) : d;
    return { shape: x.shape.map((e, j) => (j === axis ? out : e)), dtype: x.dtype };
  },
  run([x], _p, attrs) {
    const xs = x as tf.Tensor;
    const axis = axisOf(numAttr(attrs, 'axis'), xs.rank);
    // Symbolic dims are only known now: check them (tf.slice does not), and `total` when a split gives it.
    const dim = xs.shape[axis] as number;
    const [from, count] = [numAttr(attrs, 'begin'), numAttr(attrs, 'size')];
    const total = attrs['total'];
    if (typeof total === 'number' && dim !== total) throw new RangeError(`dim ${axis} has ${dim} entries, but the split sizes sum to ${total}`);
    if (from < 0 || from > dim || (count >= 0 && from + count > dim)) throw new RangeError(`slice [${from}, ${from + count}) out of range for dim ${axis} of size ${dim}`);
    const begin = xs.shape.map((_d, j) => (j === axis ? numAttr(attrs, 'begin') : 0));
    const size = xs.shape.map((_d, j) => (j === axis ? numAttr(attrs, 'size') : -1));
    return tf.slice(xs, begin, size);
  },
});

/** Picks one position along the sequence axis: [batch, seq, hidden] → [batch, hidden] (CLS pooling). */
export const tokenOp = defineOp({
  name: 'token',
  pure: true,
  arity: 1,
  inferType(args) {
    const x = input(args, 0);
    if (x.shape.length !== 3) throw shapeError(args, `expected [batch, seq, hidden]`);
    return { shape: [x.shape[0] as Dim, x.shape[2] as Dim], dtype: x.dtype };
  },
  run([x], _p, attrs) {
    const xs = x as tf.Tensor3D;
    const [b, , h] = xs.shape;
    return tf.reshape(tf.slice(xs, [0, numAttr(attrs, 'index', 0), 0], [b, 1, h]), [b, h]);
  },
});

/** Mean over non-padded positions: ([batch, seq, hidden], [batch, seq]) → [batch, hidden]. */
export const maskedMeanOp = defineOp({
  name: 'maskedMean',
  pure: true,
  arity: 2,
  inferType(args) {
    const x = input(args, 0);
    if (x.shape.length !== 3 || input(args, 1).shape.length !== 2) throw shapeError(args, `expected [batch, seq, hidden] and [batch, seq]`);
    return { shape: [x.shape[0] as Dim, x.shape[2] as Dim], dtype: 'float32' };
  },
  run([x, mask]) {
    const m = tf.expandDims(tf.cast(matchBatch(mask as tf.Tensor, (x as tf.Tensor).shape[0] as number), 'float32'), -1);
    return tf.div(tf.sum(tf.mul(x as tf.Tensor, m), 1), tf.maximum(tf.sum(m, 1), 1e-9));
  },
});

/** Name of `seqMean` (for plugins that emit it: AdapterHub's gate pooling in LoRA, prefix tuning and bottleneck gates). */
export const SEQ_MEAN_OP = 'seqMean';

/**
 * Mean over the sequence axis keeping it: [batch, seq, n] → [batch, 1, n], broadcast back over positions.
 * Every position counts, padding included, as AdapterHub's gate pooling `torch.mean(gate, dim=1)`.
 */
export const seqMeanOp = defineOp({
  name: SEQ_MEAN_OP,
  pure: true,
  arity: 1,
  inferType(args) {
    const x = input(args, 0);
    if (x.shape.length !== 3) throw shapeError(args, `seqMean expects [batch, seq, n]`);
    return { shape: [x.shape[0] as Dim, 1, x.shape[2] as Dim], dtype: 'float32' };
  },
  run: ([x]) => tf.mean(x as tf.Tensor, 1, true),
});

/** Position ids [batch, seq]: 0..seq-1 + offset, or RoBERTa's cumulative count of non-padding tokens. */
export const positionsOp = defineOp({
  name: 'positions',
  pure: true,
  arity: [1, 2],
  inferType(args) {
    const ids = input(args, 0);
    if (ids.shape.length !== 2) throw shapeError(args, `expected [batch, seq] ids`);
    return { shape: ids.shape, dtype: 'int32' };
  },
  run([ids, mask], _p, attrs) {
    const idt = ids as tf.Tensor2D;
    const offset = numAttr(attrs, 'offset', 0);
    if (attrs['style'] === 'roberta' && mask) {
      const m = tf.cast(mask as tf.Tensor, 'int32');
      return tf.add(tf.mul(tf.cumsum(m, 1), m), tf.scalar(offset - 1, 'int32'));
    }
    const [b, s] = idt.shape;
    return tf.tile(tf.reshape(tf.add(tf.range(0, s, 1, 'int32'), tf.scalar(offset, 'int32')), [1, s]), [b, 1]);
  },
});

/**
 * A Parallel branch's input: inputs [x, reference] where reference is a graph input with the model's batch B.
 * When x already holds `parts` stacked copies (an earlier Parallel splice ran) it takes copy `index`;
 * when x still has batch B (lower splices were skipped: AdapterDrop) every branch reads all of x, so the
 * lower layers run once for all tasks.
 */
export const branchInputOp = defineOp({
  name: 'branchInput',
  arity: 2,
  inferType: (args) => {
    const parts = numAttr(args.attrs, 'parts');
    const index = numAttr(args.attrs, 'index');
    if (!(Number.isInteger(parts) && parts > 0 && index >= 0 && index < parts)) throw shapeError(args, `branch ${index} of ${parts} does not exist`);
    return input(args, 0);
  },
  run([x, reference], _p, attrs) {
    const xs = x as tf.Tensor;
    const batch = (reference as tf.Tensor).shape[0] as number;
    const parts = numAttr(attrs, 'parts');
    const rows = xs.shape[0] as number;
    if (rows === batch) return tf.clone(xs);
    if (rows !== batch * parts) throw new RangeError(`a Parallel branch got ${rows} rows; expected ${batch} or ${parts} × ${batch}`);
    return tf.slice(xs, xs.shape.map((_d, j) => (j === 0 ? numAttr(attrs, 'index') * batch : 0)), xs.shape.map((d, j) => (j === 0 ? batch : d)));
  },
});

/** Repeats a per-example tensor (e.g. the attention mask) to match a batch of stacked Parallel copies. */
export function matchBatch(t: tf.Tensor, rows: number): tf.Tensor {
  const batch = t.shape[0] as number;
  if (batch === rows) return t;
  if (rows % batch !== 0) throw new RangeError(`cannot match a batch of ${batch} to ${rows} rows`);
  return tf.tile(t, t.shape.map((_d, j) => (j === 0 ? rows / batch : 1)));
}

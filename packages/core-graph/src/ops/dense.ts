import * as tf from '@tensorflow/tfjs';
import { defineOp, input, lastDim, param, shapeError } from './op-def';

/**
 * y = x·W + b with W stored [in, out]. Activations are flattened to 2D first: tfjs's 3D×2D matMul has a
 * broken gradient, and the 2D untransposed product takes wasm's fast path.
 * `transposeWeight` reads W as [out, in] (tied output layers reuse the [vocab, hidden] embedding table).
 */
export const denseOp = defineOp({
  name: 'dense',
  arity: 1,
  params: ['weight'],
  optionalParams: ['bias'],
  inferType(args) {
    const x = input(args, 0);
    const w = param(args, 'weight');
    const transposed = args.attrs['transposeWeight'] === true;
    if (w.shape.length !== 2) throw shapeError(args, `weight must be 2-D, got [${w.shape.join(', ')}]`);
    const [inDim, outDim] = transposed ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]];
    if (lastDim(x) !== inDim) {
      throw shapeError(args, `input's last dim ${String(lastDim(x))} does not match weight [${w.shape.join(', ')}]`);
    }
    const b = args.params['bias'];
    if (b && (b.shape.length !== 1 || b.shape[0] !== outDim)) {
      throw shapeError(args, `bias [${b.shape.join(', ')}] does not match output size ${String(outDim)}`);
    }
    return { shape: [...x.shape.slice(0, -1), outDim as number], dtype: 'float32' };
  },
  run([x], p, attrs) {
    const xs = x as tf.Tensor;
    const w = p['weight'] as tf.Tensor2D;
    const transposed = attrs['transposeWeight'] === true;
    const inDim = xs.shape[xs.shape.length - 1] as number;
    const flat = xs.rank === 2 ? (xs as tf.Tensor2D) : tf.reshape(xs, [-1, inDim]) as tf.Tensor2D;
    let y: tf.Tensor = linear(flat, w, transposed);
    const b = p['bias'];
    if (b) y = tf.add(y, b);
    const outDim = y.shape[1] as number;
    return xs.rank === 2 ? y : tf.reshape(y, [...xs.shape.slice(0, -1), outDim]);
  },
});

const isTrainable = (t: tf.Tensor): boolean => t instanceof tf.Variable && t.trainable;

/**
 * x·W (or x·Wᵀ) with hand-written gradients whose matmuls are all untransposed: tfjs's own BatchMatMul
 * gradient multiplies by transposed operands, which wasm runs in a slow scalar loop. A frozen W is closed
 * over rather than passed in, so no weight gradient is ever computed for it.
 */
function linear(x: tf.Tensor2D, w: tf.Tensor2D, transposed: boolean): tf.Tensor2D {
  const dx = (dy: tf.Tensor2D) => tf.matMul(dy, transposed ? w : tf.transpose(w));
  if (!isTrainable(w)) {
    return tf.customGrad((xs) => ({
      value: tf.matMul(xs as tf.Tensor2D, w, false, transposed),
      gradFunc: (dy) => dx(dy as tf.Tensor2D),
    }))(x) as tf.Tensor2D;
  }
  return tf.customGrad((xs, ws, save) => {
    // The forward runs in its own tidy: x must be saved explicitly to survive until the backward pass.
    (save as tf.GradSaveFunc)([xs as tf.Tensor]);
    return {
      value: tf.matMul(xs as tf.Tensor2D, ws as tf.Tensor2D, false, transposed),
      gradFunc: (dy, saved) => {
        const g = dy as tf.Tensor2D;
        const xSaved = saved[0] as tf.Tensor2D;
        const dw = transposed ? tf.matMul(tf.transpose(g), xSaved) : tf.matMul(tf.transpose(xSaved), g);
        return [dx(g), dw];
      },
    };
  })(x, w) as tf.Tensor2D;
}

/** Builds dense's gradient-safe embedding lookup; see embeddingOp. */
function scatterAddRows(dy: tf.Tensor, ids: Int32Array, rows: number, width: number): tf.Tensor {
  const grad = new Float32Array(rows * width);
  const d = dy.dataSync() as Float32Array;
  for (let i = 0; i < ids.length; i++) {
    const row = ids[i] as number;
    const dst = row * width;
    const src = i * width;
    for (let j = 0; j < width; j++) grad[dst + j] = (grad[dst + j] as number) + (d[src + j] as number);
  }
  return tf.tensor2d(grad, [rows, width]);
}

/**
 * Row lookup in a [rows, width] table. The gradient is a row scatter-add done in JS: wasm has no
 * UnsortedSegmentSum (gather's gradient) and cpu's is pathologically slow.
 */
export const embeddingOp = defineOp({
  name: 'embedding',
  arity: 1,
  params: ['weight'],
  inferType(args) {
    const ids = input(args, 0);
    if (ids.dtype !== 'int32') throw shapeError(args, `ids must be int32, got ${ids.dtype}`);
    const w = param(args, 'weight');
    if (w.shape.length !== 2) throw shapeError(args, `table must be 2-D, got [${w.shape.join(', ')}]`);
    return { shape: [...ids.shape, w.shape[1] as number], dtype: 'float32' };
  },
  run([ids], p) {
    const table = p['weight'] as tf.Tensor2D;
    const idTensor = ids as tf.Tensor;
    const flatIds = tf.reshape(idTensor, [-1]);
    const [rows, width] = table.shape;
    const idValues = flatIds.dataSync() as Int32Array;
    for (const id of idValues) {
      if (id < 0 || id >= rows) throw new RangeError(`token id ${id} is outside the embedding table of ${rows} rows`);
    }
    const lookup = tf.customGrad((t) => ({
      value: tf.gather(t as tf.Tensor, flatIds),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => scatterAddRows(dy as tf.Tensor, idValues, rows, width),
    }));
    const flat = lookup(table);
    return tf.reshape(flat, [...idTensor.shape, width]);
  },
});

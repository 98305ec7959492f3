import * as tf from '@tensorflow/tfjs';
import { fusedBiasIsExact, matmulTransposesAreFast } from '../backend/capabilities';
import { FUSED_KERNELS, hasFusedKernel } from './fused';
import { defineOp, input, lastDim, param, shapeError } from './op-def';

/**
 * y = x·W + b with W stored [in, out]. Activations are flattened to 2D first: tfjs's 3D×2D matMul has a
 * broken gradient, and the 2D untransposed product takes wasm's fast path.
 * `transposeWeight` reads W as [out, in] (tied output layers reuse the [vocab, hidden] embedding table).
 */
export const denseOp = defineOp({
  name: 'dense',
  pure: true,
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
  run([x], p, attrs, ctx) {
    const xs = x as tf.Tensor;
    const w = p['weight'] as tf.Tensor2D;
    const transposed = attrs['transposeWeight'] === true;
    const inDim = xs.shape[xs.shape.length - 1] as number;
    const flat = xs.rank === 2 ? (xs as tf.Tensor2D) : tf.reshape(xs, [-1, inDim]) as tf.Tensor2D;
    const b = p['bias'];
    let y: tf.Tensor;
    // Without a gradient tape (Executor.run): one fused kernel adds the bias while the product is still in
    // cache. Under a tape, the hand-written gradients of linear() (no weight gradient for frozen weights, no slow
    // transposes). Not for a transposed weight: stock tfjs-wasm 4.22's _FusedMatMul is wrong with transposeB.
    if ((ctx.gradientFree === true || !ctx.training) && b && !transposed) y = tf.fused.matMul({ a: flat, b: w, bias: b });
    else if (b && !transposed && fusedBiasIsExact()) y = linearWithBias(flat, w, b as tf.Tensor1D);
    else {
      y = linear(flat, w, transposed);
      if (b) y = tf.add(y, b);
    }
    const outDim = y.shape[1] as number;
    return xs.rank === 2 ? y : tf.reshape(y, [...xs.shape.slice(0, -1), outDim]);
  },
});

const isTrainable = (t: tf.Tensor): boolean => t instanceof tf.Variable && t.trainable;

/**
 * x·W (or x·Wᵀ) with hand-written gradients. Stock wasm runs transposed matmuls in a slow scalar loop, so
 * there the gradients transpose explicitly and multiply untransposed; with fast transposes (native
 * kernels, other backends) they pass the transpose flags instead and skip the copy. A frozen W is closed
 * over rather than passed in, so no weight gradient is ever computed for it.
 */
function linear(x: tf.Tensor2D, w: tf.Tensor2D, transposed: boolean): tf.Tensor2D {
  const fast = matmulTransposesAreFast();
  const dx = (dy: tf.Tensor2D) => (fast ? tf.matMul(dy, w, false, !transposed) : tf.matMul(dy, transposed ? w : tf.transpose(w)));
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
        const [a, b] = transposed ? [g, xSaved] : [xSaved, g];
        const dw = fast ? tf.matMul(a, b, true, false) : tf.matMul(tf.transpose(a), b);
        return [dx(g), dw];
      },
    };
  })(x, w) as tf.Tensor2D;
}

/**
 * x·W + b as one fused product (the bias added while the product is in cache; one kernel instead of two) with the
 * gradients of matMul + add: dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ_rows dy, each only for a trainable input. Used only
 * where the fused kernel gives the same bits as matMul then add (fusedBiasIsExact), so training is unchanged.
 */
function linearWithBias(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const fast = matmulTransposesAreFast();
  const [trainW, trainB] = [isTrainable(w), isTrainable(b)];
  const inputs: tf.Tensor[] = [x, ...(trainW ? [w] : []), ...(trainB ? [b] : [])];
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[inputs.length] as tf.GradSaveFunc;
    const xs = args[0] as tf.Tensor;
    const ws = trainW ? (args[1] as tf.Tensor) : w;
    const bs = trainB ? (args[inputs.length - 1] as tf.Tensor) : b;
    if (trainW) save([xs]); // the weight gradient needs x after the forward's tidy
    return {
      value: tf.fused.matMul({ a: xs as tf.Tensor2D, b: ws as tf.Tensor2D, bias: bs }),
      gradFunc: (dy, saved) => {
        const g = dy as tf.Tensor2D;
        const grads: tf.Tensor[] = [fast ? tf.matMul(g, w, false, true) : tf.matMul(g, tf.transpose(w))];
        if (trainW) {
          const xSaved = saved[0] as tf.Tensor2D;
          grads.push(fast ? tf.matMul(xSaved, g, true, false) : tf.matMul(tf.transpose(xSaved), g));
        }
        if (trainB) grads.push(tf.sum(g, 0));
        return grads;
      },
    };
  })(...inputs) as tf.Tensor2D;
}

/** The embedding table's gradient: row i of dy added into row ids[i] (see embeddingOp). */
function scatterAddRows(dy: tf.Tensor, ids: Int32Array, rows: number, width: number): tf.Tensor {
  if (hasFusedKernel(FUSED_KERNELS.scatterAddRows)) {
    return tf.tidy(() => tf.engine().runKernel(FUSED_KERNELS.scatterAddRows, { dy, ids: tf.tensor1d(ids, 'int32') }, { rows, width }) as tf.Tensor);
  }
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
  pure: true,
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

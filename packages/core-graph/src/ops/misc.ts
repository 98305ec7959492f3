import * as tf from '@tensorflow/tfjs';
import { applyDropout } from './dropout-mask';
import { GraphError } from '../errors';
import { defineOp, input, numAttr, shapeError } from './op-def';

/** A graph input; the executor feeds it, so running it is an error. */
export const inputOp = defineOp({
  name: 'input',
  arity: 0,
  inferType(args) {
    const shape = args.attrs['shape'];
    const dtype = args.attrs['dtype'];
    if (!Array.isArray(shape) || (dtype !== 'float32' && dtype !== 'int32')) {
      throw shapeError(args, `input needs attrs shape and dtype`);
    }
    return { shape: shape as never, dtype };
  },
  run: () => {
    throw new GraphError(`input nodes are fed, not run`);
  },
});

export const dropoutOp = defineOp({
  name: 'dropout',
  arity: 1,
  inferType: (args) => {
    const rate = numAttr(args.attrs, 'rate');
    if (rate < 0 || rate >= 1) throw shapeError(args, `dropout rate ${rate} must be in [0, 1)`);
    return input(args, 0);
  },
  run([x], _p, attrs, ctx) {
    const rate = numAttr(attrs, 'rate');
    return ctx.training && rate > 0 ? applyDropout(x as tf.Tensor, rate, ctx.nextSeed()) : tf.clone(x as tf.Tensor);
  },
});

/**
 * Chooses between an adapted branch (input 0) and its bypass (input 1) at run time, so adapters can be
 * skipped per call (AdapterDrop) without rewriting. The executor evaluates only the chosen branch.
 */
export const switchOp = defineOp({
  name: 'switch',
  arity: 2,
  inferType(args) {
    const a = input(args, 0);
    const b = input(args, 1);
    if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
      throw shapeError(args, `adapted and bypass branches differ in shape`);
    }
    return a;
  },
  run: ([a]) => tf.clone(a as tf.Tensor),
});

export const matmulOp = defineOp({
  name: 'matmul',
  pure: true,
  arity: 2,
  inferType(args) {
    const a = input(args, 0);
    const b = input(args, 1);
    const ta = args.attrs['transposeA'] === true;
    const tb = args.attrs['transposeB'] === true;
    if (a.shape.length < 2 || a.shape.length !== b.shape.length) throw shapeError(args, `matmul needs equal ranks >= 2`);
    const r = a.shape.length;
    const [m, ka] = ta ? [a.shape[r - 1], a.shape[r - 2]] : [a.shape[r - 2], a.shape[r - 1]];
    const [kb, n] = tb ? [b.shape[r - 1], b.shape[r - 2]] : [b.shape[r - 2], b.shape[r - 1]];
    if (ka !== kb) throw shapeError(args, `inner dims ${String(ka)} and ${String(kb)} differ`);
    return { shape: [...a.shape.slice(0, -2), m as never, n as never], dtype: a.dtype };
  },
  run: ([a, b], _p, attrs) =>
    tf.matMul(a as tf.Tensor, b as tf.Tensor, attrs['transposeA'] === true, attrs['transposeB'] === true),
});

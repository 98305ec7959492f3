import * as tf from '@tensorflow/tfjs';
import { broadcastShapes, defineOp, input, numAttr, shapeError } from './op-def';

function binary(name: string, fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) {
  return defineOp({
    name,
    pure: true,
    arity: 2,
    inferType(args) {
      const a = input(args, 0);
      const b = input(args, 1);
      if (a.dtype !== b.dtype) throw shapeError(args, `dtypes ${a.dtype} and ${b.dtype} differ`);
      return { shape: broadcastShapes(args, a.shape, b.shape), dtype: a.dtype };
    },
    run: ([a, b]) => fn(a as tf.Tensor, b as tf.Tensor),
  });
}

export const addOp = binary('add', tf.add);
export const subOp = binary('sub', tf.sub);
export const mulOp = binary('mul', tf.mul);

/** Sum of any number of same-shaped inputs (residual sums of several branches). */
export const sumOp = defineOp({
  name: 'sum',
  pure: true,
  arity: [1, 64],
  inferType(args) {
    let shape = input(args, 0).shape;
    for (let i = 1; i < args.inputs.length; i++) shape = broadcastShapes(args, shape, input(args, i).shape);
    return { shape, dtype: input(args, 0).dtype };
  },
  run: (inputs) => (inputs.length === 1 ? tf.clone(inputs[0] as tf.Tensor) : tf.addN(inputs as tf.Tensor[])),
});

/** Multiply by a constant `factor` (fixed scaling). */
export const scaleOp = defineOp({
  name: 'scale',
  pure: true,
  arity: 1,
  inferType: (args) => {
    numAttr(args.attrs, 'factor');
    return input(args, 0);
  },
  run: ([x], _p, attrs) => tf.mul(x as tf.Tensor, tf.scalar(numAttr(attrs, 'factor'))),
});

/** Multiply by a learned parameter `scale` (a scalar or broadcastable vector). */
export const scaleByParamOp = defineOp({
  name: 'scaleByParam',
  pure: true,
  arity: 1,
  params: ['scale'],
  inferType: (args) => {
    const x = input(args, 0);
    const s = args.params['scale'];
    if (!s) throw shapeError(args, `missing parameter 'scale'`);
    broadcastShapes(args, x.shape, s.shape);
    return x;
  },
  run: ([x], p) => tf.mul(x as tf.Tensor, p['scale'] as tf.Tensor),
});

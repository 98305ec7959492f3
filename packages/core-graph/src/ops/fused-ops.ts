// Fused ops: ordinary ops of the vocabulary that the `lower` pass puts in place of a subgraph. Each runs the
// backend's fused kernel when it has one and the composition of the stock ops it replaced otherwise (same ops in
// the same order, so the fallback is bit for bit the unlowered graph).
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, hasFusedKernel, layerNorm } from './fused';
import { layerNormOp } from './norm';
import { broadcastShapes, defineOp, input, numAttr, shapeError } from './op-def';

export const ADD_LAYER_NORM_OP = 'addLayerNorm';

/**
 * LayerNorm((a + b) + c) over the last axis (c optional), parameters `weight`/`bias`, attr `eps`: the residual
 * sum is never materialised when the backend has AdaptersAddLayerNorm. The kernel has no gradient: it runs only
 * in gradient-free runs (Executor.run) and on same-shaped float32 operands.
 */
export const addLayerNormOp = defineOp({
  name: ADD_LAYER_NORM_OP,
  arity: [2, 3],
  params: ['weight', 'bias'],
  pure: true,
  inferType(args) {
    const first = input(args, 0);
    let shape = first.shape;
    for (let i = 1; i < args.inputs.length; i++) {
      const t = input(args, i);
      if (t.dtype !== first.dtype) throw shapeError(args, `dtypes ${first.dtype} and ${t.dtype} differ`);
      shape = broadcastShapes(args, shape, t.shape);
    }
    return layerNormOp.inferType({ ...args, inputs: [{ shape, dtype: first.dtype }], inputIds: [args.nodeId] });
  },
  run(inputs, p, attrs, ctx) {
    const [a, b, c] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const gamma = p['weight'] as tf.Tensor;
    const beta = p['bias'] as tf.Tensor;
    const epsilon = numAttr(attrs, 'eps');
    const fusable = ctx.gradientFree === true && hasFusedKernel(FUSED_KERNELS.addLayerNorm) && inputs.every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, a.shape));
    if (fusable) return tf.engine().runKernel(FUSED_KERNELS.addLayerNorm, { a, b, ...(c ? { c } : {}), gamma, beta }, { epsilon }) as tf.Tensor;
    const ab = tf.add(a, b);
    return layerNorm(c ? tf.add(ab, c) : ab, gamma, beta, epsilon);
  },
});

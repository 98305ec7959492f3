import type * as tf from '@tensorflow/tfjs';
import { layerNorm } from './fused';
import { defineOp, input, lastDim, numAttr, param, shapeError } from './op-def';

/** LayerNorm over the last axis with biased variance and eps inside the square root (as PyTorch). */
export const layerNormOp = defineOp({
  name: 'layerNorm',
  pure: true,
  arity: 1,
  params: ['weight', 'bias'],
  inferType(args) {
    const x = input(args, 0);
    numAttr(args.attrs, 'eps');
    for (const name of ['weight', 'bias']) {
      const p = param(args, name);
      if (p.shape.length !== 1 || p.shape[0] !== lastDim(x)) {
        throw shapeError(args, `${name} [${p.shape.join(', ')}] does not match last dim ${String(lastDim(x))}`);
      }
    }
    return x;
  },
  run([x], p, attrs) {
    return layerNorm(x as tf.Tensor, p['weight'] as tf.Tensor, p['bias'] as tf.Tensor, numAttr(attrs, 'eps'));
  },
});

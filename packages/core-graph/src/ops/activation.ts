import * as tf from '@tensorflow/tfjs';
import { gelu } from './fused';
import { defineOp, input } from './op-def';

function unary(name: string, fn: (x: tf.Tensor) => tf.Tensor) {
  return defineOp({ name, arity: 1, pure: true, inferType: (args) => input(args, 0), run: ([x]) => fn(x as tf.Tensor) });
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Exact GELU, x·Φ(x), as BERT uses. */
export const geluOp = unary('gelu', gelu);
/** Tanh approximation of GELU (`gelu_new` in Hugging Face). */
export const geluNewOp = unary('gelu_new', (x) =>
  tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI)), 1)),
);
export const reluOp = unary('relu', tf.relu);
/** swish = SiLU = x·σ(x). */
export const swishOp = unary('swish', (x) => tf.mul(x, tf.sigmoid(x)));
export const tanhOp = unary('tanh', tf.tanh);
export const sigmoidOp = unary('sigmoid', tf.sigmoid);
export const identityOp = unary('identity', (x) => tf.clone(x));

export const ACTIVATIONS = ['gelu', 'gelu_new', 'relu', 'swish', 'tanh', 'sigmoid', 'identity'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

import * as tf from '@tensorflow/tfjs';
import { applyDropout } from './dropout-mask';
import { fusedAttention, fusedTrainingAttention, softmaxLastAxis } from './fused';
import type { Attrs } from '../graph/types';
import type { RunContext } from './op-def';
import { defineOp, input, numAttr, shapeError } from './op-def';
import { matchBatch } from './shape';

/** Additive bias for padded keys; exp() of it is exactly 0 in float32, as with Hugging Face's dtype minimum. */
export const MASKED_SCORE = -1e9;

/**
 * Multi-head scaled dot-product attention (a composite op): inputs q, k, v [batch, seq, hidden] and an
 * optional attention mask [batch, seq] (1 = attend, 0 = padding); attrs `heads` and `dropout` (on the probabilities).
 * Prefix tuning passes two more inputs after the mask, prefix keys and values [prefix, hidden] (shared by the
 * batch), or [batch, prefix, hidden] (per example: UniPELT's gated prefix): they are prepended to k and v and always
 * attended (the mask is extended by `prefix` ones).
 */
export const attentionOp = defineOp({
  name: 'attention',
  arity: [3, 6],
  inferType(args) {
    const q = input(args, 0);
    const heads = numAttr(args.attrs, 'heads');
    for (const i of [1, 2]) {
      const t = input(args, i);
      if (t.shape.length !== 3 || t.shape.some((d, j) => d !== q.shape[j])) {
        throw shapeError(args, `q, k and v must have equal [batch, seq, hidden] shapes`);
      }
    }
    const hidden = q.shape[2];
    if (typeof hidden !== 'number' || hidden % heads !== 0) {
      throw shapeError(args, `hidden size ${String(hidden)} is not divisible by ${heads} heads`);
    }
    if (args.inputs.length >= 4) {
      const m = input(args, 3);
      if (m.shape.length !== 2) throw shapeError(args, `attention mask must be [batch, seq]`);
    }
    if (args.inputs.length === 5) throw shapeError(args, `prefix keys need prefix values (6 inputs: q, k, v, mask, prefix keys, prefix values)`);
    if (args.inputs.length === 6) {
      const [pk, pv] = [input(args, 4), input(args, 5)];
      const rank = pk.shape.length;
      if ((rank !== 2 && rank !== 3) || pk.shape[rank - 1] !== hidden || pv.shape.length !== rank || pk.shape.some((d, j) => d !== pv.shape[j])) {
        throw shapeError(args, `prefix keys and values must both be [prefix, ${hidden}] or [batch, prefix, ${hidden}]`);
      }
    }
    return q;
  },
  run(inputs, _p, attrs, ctx) {
    const fused = runFused(inputs, attrs, ctx);
    if (fused) return fused;
    if (inputs.length === 6) return prefixAttention(inputs, attrs, ctx);
    const [q, k, v, mask] = inputs as tf.Tensor3D[];
    const heads = numAttr(attrs, 'heads');
    const [b, s, h] = (q as tf.Tensor3D).shape;
    const dh = h / heads;
    const rate = numAttr(attrs, 'dropout', 0);
    // One seed per dropout draw on either path, so the fused and composed paths use the same mask.
    const seed = ctx.training && rate > 0 ? ctx.nextSeed() : undefined;
    const fusedTraining = fusedTrainingAttention({
      q: q as tf.Tensor3D, k: k as tf.Tensor3D, v: v as tf.Tensor3D,
      ...(mask ? { mask: matchBatch(mask, b) as tf.Tensor2D } : {}),
    }, heads, 1 / Math.sqrt(dh), seed === undefined ? 0 : rate, seed ?? 0);
    if (fusedTraining) return fusedTraining;
    const split = (t: tf.Tensor3D) => tf.transpose(tf.reshape(t, [b, s, heads, dh]), [0, 2, 1, 3]);
    // Scaling q rather than the scores touches seq/dh times fewer elements, forward and backward.
    let scores = tf.matMul(split(tf.mul(q as tf.Tensor3D, 1 / Math.sqrt(dh)) as tf.Tensor3D), split(k as tf.Tensor3D), false, true);
    if (mask) {
      // After a Parallel splice the batch holds stacked copies; the mask repeats to match.
      const bias = tf.mul(tf.sub(1, tf.cast(matchBatch(mask, b), 'float32')), MASKED_SCORE);
      scores = tf.add(scores, tf.reshape(bias, [b, 1, 1, s]));
    }
    let probs = softmaxLastAxis(scores);
    if (seed !== undefined) probs = applyDropout(probs, rate, seed);
    const context = tf.matMul(probs, split(v as tf.Tensor3D));
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [b, s, h]);
  },
});

/** The fused kernel at inference (no dropout to apply, no tape recording), else undefined. */
function runFused(inputs: readonly tf.Tensor[], attrs: Attrs, ctx: RunContext): tf.Tensor | undefined {
  if (ctx.training && numAttr(attrs, 'dropout', 0) > 0) return undefined;
  const [q, k, v, mask, pk, pv] = inputs as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor2D?, tf.Tensor2D?, tf.Tensor2D?];
  // The kernel takes a prefix shared by the batch; a per-example one (UniPELT's gated prefix) takes the composed ops.
  if (pk !== undefined && pk.rank !== 2) return undefined;
  const heads = numAttr(attrs, 'heads');
  return fusedAttention({
    q, k, v,
    ...(mask ? { mask: matchBatch(mask, q.shape[0]) as tf.Tensor2D } : {}),
    ...(pk && pv ? { prefix: { keys: pk, values: pv } } : {}),
  }, heads, 1 / Math.sqrt(q.shape[2] / heads));
}

/** attentionOp with prefix keys/values: a separate path so graphs without a prefix run exactly as before. */
function prefixAttention(inputs: readonly tf.Tensor[], attrs: Attrs, ctx: RunContext): tf.Tensor {
  const [q, k, v, mask, pk, pv] = inputs as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor2D, tf.Tensor, tf.Tensor];
  const heads = numAttr(attrs, 'heads');
  const [b, s, h] = q.shape;
  const p = pk.shape.at(-2) as number;
  const dh = h / heads;
  const split = (t: tf.Tensor3D, n: number) => tf.transpose(tf.reshape(t, [b, n, heads, dh]), [0, 2, 1, 3]);
  // A batched prefix ([batch, prefix, hidden]) is already per example; a shared one is tiled over the batch.
  const withPrefix = (prefix: tf.Tensor, t: tf.Tensor3D) =>
    tf.concat([prefix.rank === 3 ? (matchBatch(prefix, b) as tf.Tensor3D) : tf.tile(tf.expandDims(prefix as tf.Tensor2D, 0), [b, 1, 1]), t], 1) as tf.Tensor3D;
  let scores = tf.matMul(split(tf.mul(q, 1 / Math.sqrt(dh)) as tf.Tensor3D, s), split(withPrefix(pk, k), p + s), false, true);
  const bias = tf.mul(tf.sub(1, tf.cast(matchBatch(mask, b), 'float32')), MASKED_SCORE);
  scores = tf.add(scores, tf.reshape(tf.concat([tf.zeros([b, p]), bias], 1), [b, 1, 1, p + s]));
  let probs = softmaxLastAxis(scores);
  const rate = numAttr(attrs, 'dropout', 0);
  if (ctx.training && rate > 0) probs = applyDropout(probs, rate, ctx.nextSeed());
  const context = tf.matMul(probs, split(withPrefix(pv, v), p + s));
  return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [b, s, h]);
}

export const softmaxOp = defineOp({
  name: 'softmax',
  pure: true,
  arity: 1,
  inferType: (args) => input(args, 0),
  run: ([x], _p, attrs) => tf.softmax(x as tf.Tensor, numAttr(attrs, 'axis', -1)),
});

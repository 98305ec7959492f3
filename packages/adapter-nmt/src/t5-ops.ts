// T5's ops: RMSNorm (T5LayerNorm), the relative position bias and attention without the 1/√d scale plus that bias.
// Carried in the runtime of the graphs `buildT5` builds, as the other encoder-decoder ops; nothing registers at import.
import * as tf from '@tensorflow/tfjs';
import type { Attrs, InferArgs, OpDef, TensorType } from '@adapters/core-graph';
import { applyDropout, defineOp, GraphError, MASKED_SCORE } from '@adapters/core-graph';

const at = (args: InferArgs, i: number): TensorType => {
  const t = args.inputs[i];
  if (!t) throw new GraphError(`node '${args.nodeId}': missing input ${i}`);
  return t;
};

function num(attrs: Attrs, name: string): number {
  const v = attrs[name];
  if (typeof v !== 'number') throw new GraphError(`attribute '${name}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** T5LayerNorm: weight · x / √(mean(x²) + eps); no mean subtraction, no bias. */
export const rmsNormOp: OpDef = defineOp({
  name: 'rmsNorm',
  pure: true,
  arity: 1,
  params: ['weight'],
  inferType(args) {
    const x = at(args, 0);
    const w = args.params['weight'];
    if (!w || w.shape.length !== 1 || w.shape[0] !== x.shape.at(-1)) throw new GraphError(`node '${args.nodeId}': weight must be [${String(x.shape.at(-1))}]`);
    return x;
  },
  run([x], params, attrs) {
    const t = x as tf.Tensor;
    const variance = tf.mean(tf.square(t), -1, true);
    return tf.mul(tf.mul(t, tf.rsqrt(tf.add(variance, num(attrs, 'eps')))), params['weight'] as tf.Tensor);
  },
});

/**
 * transformers' `_relative_position_bucket`, in float32 steps as torch computes it (the log branch rounds like torch's
 * float32 ops, so bucket boundaries agree): relative = key − query position.
 */
export function relativePositionBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = 0;
  let n = numBuckets;
  let r = relative;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (r > 0) buckets += n;
    r = Math.abs(r);
  } else {
    r = -Math.min(r, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (r < maxExact) return buckets + r;
  const f = Math.fround;
  const scaled = f(f(f(Math.log(f(f(r) / maxExact))) / f(Math.log(maxDistance / maxExact))) * (n - maxExact));
  return buckets + Math.min(maxExact + Math.trunc(scaled), n - 1);
}

/**
 * The relative position bias [1, heads, tq, tk] of queries (input 0, [batch, tq, ·]) over keys (input 1, [batch, tk, ·]):
 * query i sits at absolute position tk − tq + i (keys include a decoder's cache), key j at j; the bias is the bucket's
 * row of `weight` [buckets, heads]. Attrs: `bidirectional` (encoder), `buckets`, `maxDistance`.
 */
export const relativePositionBiasOp: OpDef = defineOp({
  name: 'relativePositionBias',
  pure: true,
  arity: 2,
  params: ['weight'],
  inferType(args) {
    const [q, k] = [at(args, 0), at(args, 1)];
    const w = args.params['weight'];
    if (!w || w.shape.length !== 2 || w.shape[0] !== num(args.attrs, 'buckets')) throw new GraphError(`node '${args.nodeId}': weight must be [buckets, heads]`);
    return { shape: [1, w.shape[1] as number, q.shape[1] as number | string, k.shape[1] as number | string], dtype: 'float32' } as TensorType;
  },
  run([q, k], params, attrs) {
    const tq = (q as tf.Tensor).shape[1] as number;
    const tk = (k as tf.Tensor).shape[1] as number;
    const weight = params['weight'] as tf.Tensor2D;
    const heads = weight.shape[1];
    const idx = new Int32Array(tq * tk);
    const bidirectional = attrs['bidirectional'] === true;
    const [buckets, maxDistance] = [num(attrs, 'buckets'), num(attrs, 'maxDistance')];
    for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) idx[i * tk + j] = relativePositionBucket(j - (tk - tq + i), bidirectional, buckets, maxDistance);
    const values = tf.gather(weight, tf.tensor1d(idx, 'int32'));
    return tf.reshape(tf.transpose(tf.reshape(values, [tq, tk, heads]), [2, 0, 1]), [1, heads, tq, tk]);
  },
});

/**
 * T5 attention: q [batch, tq, inner], k and v [batch, tk, inner]; scores q·kᵀ (no 1/√d scale) + the optional
 * position bias [1|batch, heads, tq, tk] (attr `bias`) + the optional key mask [batch, tk] (attr `mask`), causal with
 * tk − tq cached positions when `causal`. Inputs: q, k, v, then the mask, then the bias, each when its attr is set.
 */
export const t5AttentionOp: OpDef = defineOp({
  name: 't5Attention',
  arity: [3, 5],
  inferType(args) {
    const [q, k, v] = [at(args, 0), at(args, 1), at(args, 2)];
    const heads = num(args.attrs, 'heads');
    if ([q, k, v].some((t) => t.shape.length !== 3)) throw new GraphError(`node '${args.nodeId}': q, k and v must be [batch, seq, inner]`);
    const inner = q.shape[2];
    if (typeof inner !== 'number' || inner % heads !== 0 || k.shape[2] !== inner || v.shape[2] !== inner) throw new GraphError(`node '${args.nodeId}': q, k, v widths must agree and divide by ${heads} heads`);
    const expected = 3 + (args.attrs['mask'] === true ? 1 : 0) + (args.attrs['bias'] === true ? 1 : 0);
    if (args.inputs.length !== expected) throw new GraphError(`node '${args.nodeId}': expected ${expected} inputs for its mask/bias attrs, got ${args.inputs.length}`);
    return q;
  },
  run(inputs, _p, attrs, ctx) {
    const [q, k, v] = inputs as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const mask = attrs['mask'] === true ? (inputs[3] as tf.Tensor2D) : undefined;
    const bias = attrs['bias'] === true ? (inputs[attrs['mask'] === true ? 4 : 3] as tf.Tensor4D) : undefined;
    const heads = num(attrs, 'heads');
    const [b, tq, inner] = q.shape;
    const tk = k.shape[1];
    const dh = inner / heads;
    const split = (t: tf.Tensor3D, n: number) => tf.transpose(tf.reshape(t, [b, n, heads, dh]), [0, 2, 1, 3]);
    let scores: tf.Tensor = tf.matMul(split(q, tq), split(k, tk), false, true);
    if (bias) scores = tf.add(scores, bias);
    if (mask) scores = tf.add(scores, tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASKED_SCORE), [b, 1, 1, tk]));
    if (attrs['causal'] === true) {
      const values = new Float32Array(tq * tk);
      for (let i = 0; i < tq; i++) for (let j = tk - tq + i + 1; j < tk; j++) values[i * tk + j] = MASKED_SCORE;
      scores = tf.add(scores, tf.tensor2d(values, [tq, tk]));
    }
    let probs = tf.softmax(scores, -1);
    const rate = typeof attrs['dropout'] === 'number' ? attrs['dropout'] : 0;
    if (ctx.training && rate > 0) probs = applyDropout(probs, rate, ctx.nextSeed());
    return tf.reshape(tf.transpose(tf.matMul(probs, split(v, tk)), [0, 2, 1, 3]), [b, tq, inner]);
  },
});

export const T5_OPS: readonly OpDef[] = [rmsNormOp, relativePositionBiasOp, t5AttentionOp];

// Ops an encoder-decoder needs beyond core's vocabulary. The graphs `seq2seqBuilder` builds carry them in their
// runtime (and `nmtPackage` contributes them to `createRuntime`); nothing registers at import.
import * as tf from '@tensorflow/tfjs';
import type { Attrs, InferArgs, OpDef, TensorType } from '@adapters/core-graph';
import { applyDropout, defineOp, GraphError, MASKED_SCORE } from '@adapters/core-graph';

function fail(args: InferArgs, problem: string): GraphError {
  const ins = args.inputIds.map((id, i) => `${id} [${args.inputs[i]?.shape.join(', ') ?? '?'}]`).join(', ');
  return new GraphError(`node '${args.nodeId}': ${problem} (inputs: ${ins || 'none'})`);
}

function num(attrs: Attrs, name: string, fallback?: number): number {
  const v = attrs[name];
  if (typeof v === 'number') return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new GraphError(`attribute '${name}' must be a number, got ${JSON.stringify(v)}`);
}

const at = (args: InferArgs, i: number): TensorType => {
  const t = args.inputs[i];
  if (!t) throw fail(args, `missing input ${i}`);
  return t;
};

/**
 * Multi-head attention whose keys may be longer than its queries: q [batch, tq, hidden], k and v [batch, tk, hidden],
 * an optional key mask [batch, tk] (1 = attend). Attr `causal`: query i sits at absolute position tk − tq + i and
 * attends keys 0..tk − tq + i (decoder self-attention with tk − tq cached positions before it). Cross-attention
 * passes the encoder's states as k, v and its padding mask.
 */
export const seq2seqAttentionOp: OpDef = defineOp({
  name: 'seq2seqAttention',
  arity: [3, 4],
  inferType(args) {
    const [q, k, v] = [at(args, 0), at(args, 1), at(args, 2)];
    const heads = num(args.attrs, 'heads');
    if ([q, k, v].some((t) => t.shape.length !== 3)) throw fail(args, 'q, k and v must be [batch, seq, hidden]');
    const hidden = q.shape[2];
    if (k.shape[2] !== hidden || v.shape[2] !== hidden) throw fail(args, 'q, k and v must have the same hidden size');
    if (typeof hidden !== 'number' || hidden % heads !== 0) throw fail(args, `hidden size ${String(hidden)} is not divisible by ${heads} heads`);
    if (args.inputs.length === 4 && at(args, 3).shape.length !== 2) throw fail(args, 'the key mask must be [batch, seq]');
    return q;
  },
  run(inputs, _p, attrs, ctx) {
    const [q, k, v, mask] = inputs as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor2D | undefined];
    const heads = num(attrs, 'heads');
    const [b, tq, h] = q.shape;
    const tk = k.shape[1];
    if (k.shape[0] !== b || v.shape[0] !== b || v.shape[1] !== tk) {
      throw new RangeError(`attention: q [${q.shape.join(', ')}], k [${k.shape.join(', ')}] and v [${v.shape.join(', ')}] disagree`);
    }
    const dh = h / heads;
    const split = (t: tf.Tensor3D, n: number) => tf.transpose(tf.reshape(t, [b, n, heads, dh]), [0, 2, 1, 3]);
    let scores = tf.matMul(split(tf.mul(q, 1 / Math.sqrt(dh)) as tf.Tensor3D, tq), split(k, tk), false, true);
    if (mask) {
      if (mask.shape[0] !== b || mask.shape[1] !== tk) throw new RangeError(`attention: key mask [${mask.shape.join(', ')}] does not match keys [${b}, ${tk}]`);
      const bias = tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASKED_SCORE);
      scores = tf.add(scores, tf.reshape(bias, [b, 1, 1, tk]));
    }
    if (attrs['causal'] === true) {
      if (tk < tq) throw new RangeError(`causal attention: ${tk} keys for ${tq} queries`);
      scores = tf.add(scores, causalBias(tq, tk));
    }
    let probs = tf.softmax(scores, -1);
    const rate = num(attrs, 'dropout', 0);
    if (ctx.training && rate > 0) probs = applyDropout(probs, rate, ctx.nextSeed());
    const context = tf.matMul(probs, split(v, tk));
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [b, tq, h]);
  },
});

/** [tq, tk] additive bias: key j is hidden from query i when j > tk − tq + i. */
function causalBias(tq: number, tk: number): tf.Tensor2D {
  const values = new Float32Array(tq * tk);
  const past = tk - tq;
  for (let i = 0; i < tq; i++) for (let j = past + i + 1; j < tk; j++) values[i * tk + j] = MASKED_SCORE;
  return tf.tensor2d(values, [tq, tk]);
}

/**
 * Position ids [batch, t] of the next t decoder tokens: past + 0..t−1 + offset, where past is the length of the
 * cached keys (input 1, [batch, past, hidden]); without a cache input, 0..t−1 + offset.
 */
export const stepPositionsOp: OpDef = defineOp({
  name: 'stepPositions',
  arity: [1, 2],
  inferType(args) {
    const ids = at(args, 0);
    if (ids.shape.length !== 2) throw fail(args, 'expected [batch, seq] ids');
    if (args.inputs.length === 2 && at(args, 1).shape.length !== 3) throw fail(args, 'the cache input must be [batch, past, hidden]');
    return { shape: ids.shape, dtype: 'int32' };
  },
  run([ids, past], _p, attrs) {
    const [b, t] = (ids as tf.Tensor2D).shape;
    const start = (past ? (past.shape[1] as number) : 0) + num(attrs, 'offset', 0);
    return tf.tile(tf.reshape(tf.range(start, start + t, 1, 'int32'), [1, t]), [b, 1]);
  },
});

/**
 * Marian's sinusoidal position embeddings of position ids [batch, t] → [batch, t, dim]: sin(p / 10000^(2⌊j/2⌋/dim)) of
 * the even j in the first half, cos of the odd j in the second (not interleaved). No parameters: Hugging Face does not
 * save the table either. Computed in float64 and rounded once, as the reference builds its table with numpy.
 */
export const sinusoidalPositionsOp: OpDef = defineOp({
  name: 'sinusoidalPositions',
  arity: 1,
  inferType(args) {
    const ids = at(args, 0);
    const dim = num(args.attrs, 'dim');
    num(args.attrs, 'maxPositions');
    if (ids.shape.length !== 2 || ids.dtype !== 'int32') throw fail(args, 'expected int32 [batch, seq] position ids');
    if (!Number.isInteger(dim) || dim <= 0) throw fail(args, `dim must be a positive integer, got ${dim}`);
    return { shape: [...ids.shape, dim], dtype: 'float32' };
  },
  run([ids], _p, attrs) {
    const dim = num(attrs, 'dim');
    const max = num(attrs, 'maxPositions');
    const positions = (ids as tf.Tensor).dataSync();
    const out = new Float32Array(positions.length * dim);
    const half = Math.ceil(dim / 2);
    positions.forEach((p, r) => {
      if (p < 0 || p >= max) throw new RangeError(`position ${p} is outside the ${max} positions the model was configured with (max_position_embeddings)`);
      for (let j = 0; j < dim; j++) {
        const angle = p / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
        // even j → column j/2 (sin); odd j → column half + (j−1)/2 (cos)
        if (j % 2 === 0) out[r * dim + j / 2] = Math.sin(angle);
        else out[r * dim + half + (j - 1) / 2] = Math.cos(angle);
      }
    });
    return tf.tensor(out, [...(ids as tf.Tensor).shape, dim]);
  },
});

export const NMT_OPS: readonly OpDef[] = [seq2seqAttentionOp, stepPositionsOp, sinusoidalPositionsOp];

// Two ops the K-Adapter heads need that core-graph's vocabulary lacks: pooling at marker tokens found in
// `input_ids`, and pairwise token scores (dependency heads). The kadapter plugin carries them (`ops`), so they are in
// the runtime of every graph it builds; nothing registers at import.
import * as tf from '@tensorflow/tfjs';
import type { Dim, InferArgs, OpDef, TensorType } from '@adapters/core-graph';
import { defineOp, GraphError, MASKED_SCORE } from '@adapters/core-graph';

function inputAt(args: InferArgs, i: number): TensorType {
  const t = args.inputs[i];
  if (!t) throw new GraphError(`node '${args.nodeId}': missing input ${i}`);
  return t;
}

function numberAttr(args: { readonly attrs: InferArgs['attrs'] }, name: string, nodeId: string): number {
  const v = args.attrs[name];
  if (typeof v !== 'number') throw new GraphError(`node '${nodeId}': attribute '${name}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * `kadapterMarkerPool`: ([batch, seq, hidden], input_ids [batch, seq]) → [batch, hidden], the mean of the
 * hidden states at the positions whose id equals attr `tokenId` (an entity start marker; zeros when absent).
 */
export const markerPoolOp: OpDef = defineOp({
  name: 'kadapterMarkerPool',
  arity: 2,
  inferType(args) {
    const x = inputAt(args, 0);
    const ids = inputAt(args, 1);
    numberAttr(args, 'tokenId', args.nodeId);
    if (x.shape.length !== 3) throw new GraphError(`node '${args.nodeId}': expected hidden states [batch, seq, hidden], got [${x.shape.join(', ')}]`);
    if (ids.shape.length !== 2 || ids.dtype !== 'int32') throw new GraphError(`node '${args.nodeId}': expected int32 ids [batch, seq], got ${ids.dtype} [${ids.shape.join(', ')}]`);
    return { shape: [x.shape[0] as Dim, x.shape[2] as Dim], dtype: 'float32' };
  },
  run([x, ids], _p, attrs) {
    const tokenId = attrs['tokenId'] as number;
    const mask = tf.cast(tf.equal(ids as tf.Tensor, tf.scalar(tokenId, 'int32')), 'float32');
    const count = tf.maximum(tf.sum(mask, 1, true), 1);
    return tf.div(tf.sum(tf.mul(x as tf.Tensor, tf.expandDims(mask, -1)), 1), count);
  },
});

/**
 * `kadapterPairScores`: (dependents [batch, seq, k], heads [batch, seq, k], attention_mask [batch, seq]) →
 * [batch, seq, seq] scores s[b, i, j] = ⟨dep_i, head_j⟩ · attr `scale`, with padded candidates j masked.
 */
export const pairScoresOp: OpDef = defineOp({
  name: 'kadapterPairScores',
  arity: [2, 3],
  inferType(args) {
    const d = inputAt(args, 0);
    const h = inputAt(args, 1);
    numberAttr(args, 'scale', args.nodeId);
    if (d.shape.length !== 3 || h.shape.length !== 3 || d.shape.some((v, i) => v !== h.shape[i])) {
      throw new GraphError(`node '${args.nodeId}': dependents [${d.shape.join(', ')}] and heads [${h.shape.join(', ')}] must be equal [batch, seq, k]`);
    }
    if (args.inputs.length === 3 && inputAt(args, 2).shape.length !== 2) throw new GraphError(`node '${args.nodeId}': attention mask must be [batch, seq]`);
    return { shape: [d.shape[0] as Dim, d.shape[1] as Dim, d.shape[1] as Dim], dtype: 'float32' };
  },
  run([dep, head, mask], _p, attrs) {
    const scores = tf.mul(tf.matMul(dep as tf.Tensor3D, head as tf.Tensor3D, false, true), attrs['scale'] as number);
    if (!mask) return scores;
    const [b, s] = (mask as tf.Tensor2D).shape;
    const bias = tf.mul(tf.sub(1, tf.cast(mask as tf.Tensor, 'float32')), MASKED_SCORE);
    return tf.add(scores, tf.reshape(bias, [b, 1, s]));
  },
});

/** The K-Adapter heads' ops (carried by the `kadapter` plugin and `kadapterPackage`). */
export const KADAPTER_OPS: readonly OpDef[] = [markerPoolOp, pairScoresOp];

// Biaffine dependency parser head (Dozat & Manning 2017), on word vectors r_0..r_n (r_0 = ROOT, the <s>/[CLS]
// vector):  a_i = relu(W_d r_i + b_d), c_j = relu(W_h r_j + b_h)  (arc MLPs)
//   arc score  s[i][j] = a_i·U·c_j + c_j·u        (dependent i, head j)
//   label score l[i][k] = [a'_i; 1]·U_k·[c'_h(i); 1]  with a', c' the label MLPs and h(i) i's (gold or predicted) head.
// 2D matMuls and batched 3D×3D only (tfjs' 3D×2D matMul gradient is broken).
import * as tf from '@tensorflow/tfjs';

export interface BiaffineSizes {
  readonly hidden: number;
  readonly arc: number;
  readonly label: number;
  readonly labels: number;
}

export type BiaffineWeights = Record<'arcDepW' | 'arcDepB' | 'arcHeadW' | 'arcHeadB' | 'arcU' | 'arcBias' | 'labDepW' | 'labDepB' | 'labHeadW' | 'labHeadB' | 'labU', tf.Variable>;

/** Fresh weights: MLPs N(0, 0.02²)-ish (Glorot-scaled), biaffine tensors zero (uniform scores at init), seeded. */
export function initBiaffine(s: BiaffineSizes, seed: number): BiaffineWeights {
  const n = (shape: number[], fan: number, k: number): tf.Variable => tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / fan), 'float32', seed + k));
  const z = (shape: number[]): tf.Variable => tf.variable(tf.zeros(shape));
  return {
    arcDepW: n([s.hidden, s.arc], s.hidden + s.arc, 1), arcDepB: z([s.arc]),
    arcHeadW: n([s.hidden, s.arc], s.hidden + s.arc, 2), arcHeadB: z([s.arc]),
    arcU: z([s.arc, s.arc]), arcBias: z([s.arc]),
    labDepW: n([s.hidden, s.label], s.hidden + s.label, 3), labDepB: z([s.label]),
    labHeadW: n([s.hidden, s.label], s.hidden + s.label, 4), labHeadB: z([s.label]),
    labU: z([s.label + 1, s.labels, s.label + 1]),
  };
}

/**
 * out[b][w] = x[b][idx[b][w]], [B, W, d], as one-hot × x (batched 3D×3D matMul). Not tf.gather: its gradient
 * needs UnsortedSegmentSum, which wasm lacks, and gather with batchDims gives wrong rows on wasm.
 */
export function gatherRows(x: tf.Tensor3D, idx: tf.Tensor2D): tf.Tensor3D {
  const t = x.shape[1];
  return tf.matMul(tf.oneHot(tf.cast(idx, 'int32'), t) as tf.Tensor3D, x);
}

function mlp(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor): tf.Tensor3D {
  const [bs, t, d] = x.shape;
  return tf.reshape(tf.relu(tf.add(tf.matMul(tf.reshape(x, [bs * t, d]), w as tf.Tensor2D), b)), [bs, t, w.shape[1] as number]);
}

/** s[b][i][j] = a_i·U·c_j + c_j·u, [B, T, T] (dependent i, head j). */
export function arcScores(dep: tf.Tensor3D, head: tf.Tensor3D, u: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor3D {
  const [b, t, a] = dep.shape;
  const du = tf.reshape(tf.matMul(tf.reshape(dep, [b * t, a]), u), [b, t, a]);
  const bilinear = tf.matMul(du, head, false, true);
  const headBias = tf.reshape(tf.matMul(tf.reshape(head, [b * t, a]), tf.reshape(bias, [a, 1])), [b, 1, t]);
  return tf.add(bilinear, headBias);
}

/** l[b][i][k] = [a_i; 1]·U_k·[c_{heads[b][i]}; 1], [B, T, K]. */
export function labelScores(dep: tf.Tensor3D, head: tf.Tensor3D, u: tf.Tensor3D, heads: tf.Tensor2D): tf.Tensor3D {
  const [b, t, l] = dep.shape;
  const k = u.shape[1];
  const ones = tf.ones([b, t, 1]);
  const dep1 = tf.reshape(tf.concat([dep, ones], 2), [b * t, l + 1]);
  const sel = gatherRows(head, heads); // [B, T, l]: each word's head vector
  const head1 = tf.reshape(tf.concat([sel, ones], 2), [b * t, 1, l + 1]);
  const du = tf.reshape(tf.matMul(dep1, tf.reshape(u, [l + 1, k * (l + 1)])), [b * t, k, l + 1]);
  return tf.reshape(tf.sum(tf.mul(du, head1), 2), [b, t, k]);
}

export interface ParserOutputs {
  readonly arcs: tf.Tensor3D;
  readonly labels: tf.Tensor3D;
}

/** Both score tensors for word vectors [B, T, hidden]; labels scored on `heads` (gold in training, predicted at test). */
export function biaffineForward(words: tf.Tensor3D, w: BiaffineWeights, heads: tf.Tensor2D): ParserOutputs {
  const arcs = arcScores(mlp(words, w.arcDepW, w.arcDepB), mlp(words, w.arcHeadW, w.arcHeadB), w.arcU as tf.Tensor as tf.Tensor2D, w.arcBias as tf.Tensor as tf.Tensor1D);
  const labels = labelScores(mlp(words, w.labDepW, w.labDepB), mlp(words, w.labHeadW, w.labHeadB), w.labU as tf.Tensor as tf.Tensor3D, heads);
  return { arcs, labels };
}

/**
 * Mean cross-entropy over real words (mask [B, T], 1 for words 1..n, 0 for ROOT and padding) of the gold head
 * (heads [B, T]) and the gold label (labelIds [B, T]); heads that are padding (wordMask 0 except ROOT) are masked out.
 */
export function parserLoss(out: ParserOutputs, heads: tf.Tensor2D, labelIds: tf.Tensor2D, mask: tf.Tensor2D, candidates: tf.Tensor2D): tf.Scalar {
  const t = out.arcs.shape[1];
  const headMask = tf.reshape(candidates, [candidates.shape[0], 1, t]);
  const arcs = tf.add(out.arcs, tf.mul(tf.sub(1, headMask), -1e9));
  const arcNll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(arcs), tf.oneHot(tf.cast(heads, 'int32'), t)), 2));
  const k = out.labels.shape[2];
  const labNll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(out.labels), tf.oneHot(tf.cast(labelIds, 'int32'), k)), 2));
  const words = tf.maximum(tf.sum(mask), 1);
  return tf.div(tf.sum(tf.mul(tf.add(arcNll, labNll), mask)), words) as tf.Scalar;
}

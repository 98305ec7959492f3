import * as tf from '@tensorflow/tfjs';
import { IGNORE_LABEL } from './batches';

/**
 * Mean softmax cross-entropy over labelled positions. Logits [batch, classes] with labels [batch], or
 * [batch, seq, classes] with labels [batch, seq] where IGNORE_LABEL marks positions that don't count.
 */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.shape.length - 1] as number;
    const flatLogits = tf.reshape(logits, [-1, classes]);
    const flatLabels = tf.reshape(labels, [-1]);
    const valid = tf.cast(tf.notEqual(flatLabels, IGNORE_LABEL), 'float32');
    const safeLabels = tf.where(tf.notEqual(flatLabels, IGNORE_LABEL), flatLabels, tf.zerosLike(flatLabels));
    const logProbs = tf.logSoftmax(flatLogits);
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(safeLabels, classes)), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, valid))), tf.maximum(tf.sum(valid), 1)) as tf.Scalar;
  });
}

/** Predicted class per example (or per token): argmax over the last axis. */
export function predictions(logits: tf.Tensor): tf.Tensor {
  return tf.argMax(logits, -1);
}

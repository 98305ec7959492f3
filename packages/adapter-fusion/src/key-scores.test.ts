// fusionKeyScores folds the key projection into the query: q · (z_n W + b) = (q Wᵀ) · z_n + q · b. Checked
// against projecting every adapter output (AdapterHub's way), values and gradients (W, b, q, z).
import * as tf from '@tensorflow/tfjs';
import { fusionKeyScoresOp } from './ops';

const NO_TRAIN = { training: false, nextSeed: () => 0 };

const unfolded = (q: tf.Tensor, z: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => {
  const [n, d] = z.shape.slice(-2) as [number, number];
  const keys = tf.add(tf.reshape(tf.matMul(tf.reshape(z, [-1, d]), w), [...z.shape.slice(0, -2), n, d]), b);
  return tf.sum(tf.mul(tf.expandDims(q, q.rank - 1), keys), -1);
};

const folded = (q: tf.Tensor, z: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => fusionKeyScoresOp.run([q, z], { weight: w, bias: b }, {}, NO_TRAIN) as tf.Tensor;

describe('fusionKeyScores', () => {
  it('equals the scores against projected keys, values and all four gradients', () => {
    const [batch, seq, n, d] = [2, 3, 5, 8];
    const q = tf.randomNormal([batch, seq, d], 0, 1, 'float32', 1);
    const z = tf.randomNormal([batch, seq, n, d], 0, 1, 'float32', 2);
    const w = tf.randomNormal([d, d], 0, 0.3, 'float32', 3);
    const b = tf.randomNormal([d], 0, 0.3, 'float32', 4);
    const r = tf.randomNormal([batch, seq, n], 0, 1, 'float32', 5);
    const close = (a: tf.Tensor, e: tf.Tensor) => {
      // Different summation orders of O(10)-sized dot products in float32.
      expect(tf.max(tf.abs(tf.sub(a, e))).dataSync()[0]).toBeLessThan(1e-4 * Math.max(1, tf.max(tf.abs(e)).dataSync()[0] as number));
    };
    close(folded(q, z, w, b), unfolded(q, z, w, b));
    const loss = (f: typeof folded) => (qq: tf.Tensor, zz: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(qq, zz, ww, bb), r));
    const gf = tf.grads(loss(folded))([q, z, w, b]);
    const gu = tf.grads(loss(unfolded))([q, z, w, b]);
    gf.forEach((g, i) => close(g, gu[i] as tf.Tensor));
    tf.dispose([q, z, w, b, r, ...gf, ...gu]);
  });

  it('names bad parameter shapes', () => {
    const t = (shape: (number | string)[]) => ({ shape, dtype: 'float32' as const });
    const args = (w: number[]) => ({ nodeId: 'f.key', inputs: [t(['batch', 4]), t(['batch', 3, 4])], inputIds: ['q', 'z'], attrs: {}, params: { weight: t(w), bias: t([4]) } });
    expect(fusionKeyScoresOp.inferType(args([4, 4]) as never).shape).toEqual(['batch', 3]);
    expect(() => fusionKeyScoresOp.inferType(args([4, 5]) as never)).toThrow(/key weight must be \[4, 4\]/);
  });
});

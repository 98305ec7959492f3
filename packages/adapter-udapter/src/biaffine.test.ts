import * as tf from '@tensorflow/tfjs';
import { arcScores, gatherRows, labelScores } from './biaffine';

function rand(shape: number[], seed: number): { t: tf.Tensor; v: Float64Array } {
  const t = tf.randomNormal(shape, 0, 1, 'float32', seed);
  return { t, v: Float64Array.from(t.dataSync()) };
}

describe('biaffine scores against a float64 reference', () => {
  const [B, T, A, L, K] = [2, 5, 6, 4, 3];
  it('arc scores s[i][j] = a_i·U·c_j + c_j·u', () => {
    const dep = rand([B, T, A], 1), head = rand([B, T, A], 2), u = rand([A, A], 3), bias = rand([A], 4);
    const got = tf.tidy(() => arcScores(dep.t as tf.Tensor3D, head.t as tf.Tensor3D, u.t as tf.Tensor2D, bias.t as tf.Tensor1D).arraySync());
    let worst = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
      let s = 0;
      for (let p = 0; p < A; p++) {
        s += head.v[(b * T + j) * A + p]! * bias.v[p]!;
        for (let q = 0; q < A; q++) s += dep.v[(b * T + i) * A + p]! * u.v[p * A + q]! * head.v[(b * T + j) * A + q]!;
      }
      worst = Math.max(worst, Math.abs(got[b]![i]![j]! - s) / Math.max(1, Math.abs(s)));
    }
    // float32 sums of ~50 products of O(1) values: relative error ~1e-6; 1e-5 leaves margin.
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([dep.t, head.t, u.t, bias.t]);
  });

  it('label scores on given heads: [a_i;1]·U_k·[c_h(i);1]', () => {
    const dep = rand([B, T, L], 5), head = rand([B, T, L], 6), u = rand([L + 1, K, L + 1], 7);
    const heads = [[0, 0, 1, 1, 3], [0, 2, 0, 2, 2]];
    const got = tf.tidy(() => labelScores(dep.t as tf.Tensor3D, head.t as tf.Tensor3D, u.t as tf.Tensor3D, tf.tensor2d(heads, undefined, 'int32')).arraySync());
    let worst = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) for (let k = 0; k < K; k++) {
      const h = heads[b]![i]!;
      const a = [...dep.v.slice((b * T + i) * L, (b * T + i + 1) * L), 1];
      const c = [...head.v.slice((b * T + h) * L, (b * T + h + 1) * L), 1];
      let s = 0;
      for (let p = 0; p <= L; p++) for (let q = 0; q <= L; q++) s += a[p]! * u.v[(p * K + k) * (L + 1) + q]! * c[q]!;
      worst = Math.max(worst, Math.abs(got[b]![i]![k]! - s) / Math.max(1, Math.abs(s)));
    }
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([dep.t, head.t, u.t]);
  });
});

it('gatherRows picks each batch row\'s own positions', () => {
  const x = tf.tensor3d([[[1, 1], [2, 2], [3, 3]], [[4, 4], [5, 5], [6, 6]]]);
  const idx = tf.tensor2d([[2, 0, 1], [1, 1, 0]], undefined, 'int32');
  const got = tf.tidy(() => gatherRows(x as tf.Tensor3D, idx as tf.Tensor2D).arraySync());
  expect(got).toEqual([[[3, 3], [1, 1], [2, 2]], [[5, 5], [5, 5], [4, 4]]]);
  tf.dispose([x, idx]);
});

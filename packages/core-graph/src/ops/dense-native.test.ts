import * as tf from '@tensorflow/tfjs';
import { fusedBiasIsExact } from '../backend/capabilities';
import { selectBackend } from '../backend/select-backend';
import { denseOp } from './dense';

// With @adapters/backend-native's kernels (when built), training folds dense's bias into _FusedMatMul: the value
// and every gradient must be the bits of matMul + add and their registered gradients on the same backend.
describe('dense bias fold on the native wasm kernels', () => {
  it.each([[true, true], [false, true], [false, false]])('trainable weight %s, bias %s: same bits as matMul + add', async (trainW, trainB) => {
    await selectBackend({ prefer: 'wasm', env: {} });
    if (!fusedBiasIsExact()) return console.log('skipping: the native kernels are not enabled here');
    const seeded = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
    const x = seeded([4, 33, 96], 1);
    const w0 = seeded([96, 200], 2);
    const b0 = seeded([200], 3);
    const dy = seeded([4, 33, 200], 4);
    const w = trainW ? tf.variable(w0) : w0;
    const b = trainB ? tf.variable(b0) : b0;
    const vars = [w, b].filter((t): t is tf.Variable => t instanceof tf.Variable);
    const loss = (f: (xs: tf.Tensor) => tf.Tensor) => (xs: tf.Tensor) => tf.sum(tf.mul(f(xs), dy));
    const viaOp = (xs: tf.Tensor) => denseOp.run([xs], { weight: w, bias: b }, {}, { training: true, nextSeed: () => 0 }) as tf.Tensor;
    const composed = (xs: tf.Tensor) => tf.reshape(tf.add(tf.matMul(tf.reshape(xs, [-1, 96]), w), b), [4, 33, 200]);
    const bits = (t: tf.Tensor) => Buffer.from((t.dataSync() as Float32Array).buffer).toString('base64');
    const run = (f: (xs: tf.Tensor) => tf.Tensor) => tf.tidy(() => {
      const grads = vars.length > 0 ? tf.variableGrads(() => loss(f)(x) as tf.Scalar, vars).grads : {};
      return [f(x), tf.grad(loss(f))(x), ...vars.map((v) => grads[v.name]!)].map(bits);
    });
    expect(run(viaOp)).toEqual(run(composed));
    const names = (await tf.profile(() => tf.dispose(viaOp(x)))).kernels.map((k) => k.name);
    expect(names).toContain('_FusedMatMul');
    tf.dispose([x, w0, b0, dy, ...vars]);
  });
});

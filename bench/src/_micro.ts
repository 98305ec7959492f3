import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@adapters/core-graph';
async function main() {
  await selectBackend({ log: () => {} });
  const R = 2048, H = 384, B = 24;
  const h = tf.randomNormal([R, H]), x = tf.randomNormal([R, H]);
  const g = tf.ones([H]), be = tf.zeros([H]);
  const wd = tf.randomNormal([H, B]), bd = tf.zeros([B]), wu = tf.randomNormal([B, H]), bu = tf.zeros([H]);
  const eng = tf.engine();
  const base = () => eng.runKernel('AdaptersAddLayerNorm', { a: h, b: x, gamma: g, beta: be }, { epsilon: 1e-12 }) as tf.Tensor;
  const pf = () => tf.tidy(() => {
    const a = eng.runKernel('AdaptersAddLayerNorm', { a: h, b: x, gamma: g, beta: be }, { epsilon: 1e-12 }) as tf.Tensor;
    const d = tf.relu(tf.fused.matMul({ a: a as tf.Tensor2D, b: wd as tf.Tensor2D, bias: bd }));
    const u = tf.fused.matMul({ a: d as tf.Tensor2D, b: wu as tf.Tensor2D, bias: bu });
    return eng.runKernel('AdaptersAddLayerNorm', { a: u, b: h, c: x, gamma: g, beta: be }, { epsilon: 1e-12 }) as tf.Tensor;
  });
  for (let round = 0; round < 3; round++) for (const [name, f] of [['base', base], ['pfeiffer', pf]] as const) {
    for (let i = 0; i < 10; i++) f().dispose();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 300; i++) f().dispose();
    console.log(name, (Number(process.hrtime.bigint() - t0) / 1e6 / 300).toFixed(3), 'ms');
  }
}
main();

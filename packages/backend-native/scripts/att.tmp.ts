import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { disableNativeKernels, enableNativeKernels } from '../src/index';
async function main() {
  await tf.setBackend('wasm'); await tf.ready();
  const q = tf.randomNormal([16, 12, 128, 32]); const p = tf.randomNormal([16, 12, 128, 128]);
  const cases: Array<[string, tf.Tensor, tf.Tensor, boolean, boolean]> = [
    ['q·kᵀ', q, q, false, true], ['p·v', p, q, false, false], ['dp = dy·vᵀ', q, q, false, true], ['dv = pᵀ·dy', p, q, true, false], ['dq = ds·k', p, q, false, false], ['dk = dsᵀ·q', p, q, true, false]];
  for (const [name, a, b, tA, tB] of cases) {
    for (const native of [false, true]) {
      if (native) enableNativeKernels(); else disableNativeKernels();
      tf.matMul(a, b, tA, tB).dispose();
      let best = Infinity;
      for (let i = 0; i < 5; i++) { const t0 = performance.now(); tf.matMul(a, b, tA, tB).dispose(); best = Math.min(best, performance.now() - t0); }
      const y = tf.matMul(a, b, tA, tB); const fl = 2 * y.size * (tA ? a.shape[2]! : a.shape[3]!); y.dispose();
      console.log(name.padEnd(14), native ? 'native' : 'stock ', best.toFixed(1).padStart(7), 'ms', (fl / best / 1e6).toFixed(1).padStart(6), 'GFLOP/s');
    }
  }
  // transposes
  for (const native of [false, true]) {
    if (native) enableNativeKernels(); else disableNativeKernels();
    const x = tf.randomNormal([16, 128, 12, 32]);
    let best = Infinity; for (let i = 0; i < 5; i++) { const t0 = performance.now(); tf.transpose(x, [0, 2, 1, 3]).dispose(); best = Math.min(best, performance.now() - t0); }
    console.log('transpose 0213', best.toFixed(2), 'ms');
    const y = tf.randomNormal([2048, 1536]);
    best = Infinity; for (let i = 0; i < 5; i++) { const t0 = performance.now(); tf.sum(y, 0).dispose(); best = Math.min(best, performance.now() - t0); }
    console.log('sum axis0 [2048,1536]', best.toFixed(2), 'ms');
    best = Infinity; for (let i = 0; i < 5; i++) { const t0 = performance.now(); tf.sum(y, -1).dispose(); best = Math.min(best, performance.now() - t0); }
    console.log('sum axis-1 [2048,1536]', best.toFixed(2), 'ms');
  }
}
main();

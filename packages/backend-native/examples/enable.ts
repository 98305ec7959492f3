// Turning the native kernels on and off on the wasm backend (run by pack-check; the addon may or may not be built
// there, and the call never throws either way).
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { enableNativeKernels, disableNativeKernels } from '@adapters/backend-native';

async function main(): Promise<void> {
  // #region enable
  await tf.setBackend('wasm');
  const status = enableNativeKernels({ log: console.warn }); // never throws
  // { enabled: true, kernels: ['BatchMatMul', '_FusedMatMul', 'Sum', 'Transpose', 'GatherV2', 'AdaptersGelu', ...] }
  // or { enabled: false, reason: 'native addon not built (...); run npm run build:native -w @adapters/backend-native', kernels: [] }
  disableNativeKernels(); // restores the stock kernel configs
  // #endregion

  assert.equal(tf.getBackend(), 'wasm');
  if (status.enabled) assert.ok(status.kernels.includes('BatchMatMul'));
  else assert.equal(status.kernels.length, 0);
  const product = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2]));
  assert.deepEqual(Array.from(product.dataSync()), [3, 3, 3, 3]); // stock kernel after disable
  console.log(`native kernels ${status.enabled ? 'were on' : `unavailable (${status.reason ?? '?'})`}; stock wasm again`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

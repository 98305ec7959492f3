// Every test file runs on the engine users get by default (wasm), unless ADAPTERS_BACKEND names another.
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');

beforeAll(async () => {
  const wanted = process.env.ADAPTERS_BACKEND || 'wasm';
  const ok = await tf.setBackend(wanted);
  await tf.ready();
  if (!ok || tf.getBackend() !== wanted) throw new Error(`jest setup: backend '${wanted}' is unavailable (got '${tf.getBackend()}')`);
});

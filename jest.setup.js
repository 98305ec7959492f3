// Every test file runs on the engine users get by default (wasm), unless ADAPTERS_BACKEND names another.
const tf = require('@tensorflow/tfjs');
const fc = require('fast-check');

// Property tests draw from a fixed seed so CI is reproducible; FC_SEED=<n> explores other inputs locally.
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261126) });
require('@tensorflow/tfjs-backend-wasm');

beforeAll(async () => {
  const wanted = process.env.ADAPTERS_BACKEND || 'wasm';
  const ok = await tf.setBackend(wanted);
  await tf.ready();
  if (!ok || tf.getBackend() !== wanted) throw new Error(`jest setup: backend '${wanted}' is unavailable (got '${tf.getBackend()}')`);
});

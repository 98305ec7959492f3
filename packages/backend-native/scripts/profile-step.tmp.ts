// TEMPORARY profiling script (not part of the package): one fine-tuning step of a MiniLM-sized encoder.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { addHead, buildEncoder, crossEntropy, Executor, makeBatch, WeightStore } from '../../core-graph/src/index';
import { disableNativeKernels, enableNativeKernels } from '../src/index';

async function main() {
  await tf.setBackend('wasm'); await tf.ready();
  const layers = Number(process.env.LAYERS ?? 2);
  const g = addHead(buildEncoder({ vocabSize: 1000, hiddenSize: 384, numLayers: layers, numHeads: 12, intermediateSize: 1536, maxPositions: 128 }),
    { type: 'classification', name: 'cls', numLabels: 2 });
  const store = WeightStore.create(g, 0);
  store.applyPolicy(g, () => true);
  const ex = new Executor(g, store);
  const B = 16, S = 128;
  const examples = Array.from({ length: B }, (_, i) => ({ inputIds: Array.from({ length: S }, (_, j) => (i * 31 + j * 7) % 1000), label: i % 2 }));
  const batch = makeBatch(examples, 0);
  const out = Object.keys(g.outputs).find((k) => k.endsWith('logits'))!;
  const step = () => tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => crossEntropy(ex.forward(batch.feeds, { outputs: [out], training: true, seed: 1 })[out] as tf.Tensor, batch.labels));
    value.dataSync();
    return tf.add(value, tf.sum(Object.values(grads)[0]!));
  }).dispose();
  for (const native of [false, true]) {
    if (native) enableNativeKernels(); else disableNativeKernels();
    step();
    let wall = Infinity; for (let i = 0; i < 3; i++) { const t0 = Date.now(); step(); wall = Math.min(wall, Date.now() - t0); }
    const prof = await tf.profile(() => { step(); });
    const agg = new Map<string, number>();
    for (const k of prof.kernels) { const key = ['Transpose','Sum','BatchMatMul','Multiply','GatherV2'].includes(k.name) ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name; agg.set(key, (agg.get(key) ?? 0) + (k.kernelTimeMs as number)); }
    const total = [...agg.values()].reduce((a, b) => a + b, 0);
    console.log(`\n${native ? 'NATIVE' : 'STOCK'} step wall ${wall} ms, kernel total ${total.toFixed(0)} ms`);
    for (const [n, t] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${n.padEnd(22)} ${t.toFixed(1).padStart(8)} ms ${(100 * t / total).toFixed(1).padStart(5)}%`);
  }
}
main();

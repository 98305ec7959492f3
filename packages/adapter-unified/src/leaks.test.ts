// No tensor leaks: running (with dropout) and training the UniPELT and MAM unions (gated prefix keys per example,
// gated bottleneck and LoRA) leave tf.memory().numTensors where it was.
import * as tf from '@tensorflow/tfjs';
import { adapter, adaptersOnlyPolicy, addHead, applyPlacements, buildEncoder, createRegistry, Executor, train, WeightStore } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { configUnion } from './index';

const EXAMPLES = [
  { inputIds: [2, 7, 11, 5, 3], label: 0 },
  { inputIds: [2, 15, 8, 3], label: 1 },
  { inputIds: [2, 9, 9, 12, 13, 14, 3], label: 1 },
];
const registry = createRegistry([bottleneck, lora, prefixTuning, configUnion]);

test.each([
  ['unipelt', { config: 'unipelt', configs: [
    { plugin: 'prefix_tuning', config: { prefix_length: 3, bottleneck_size: 6, dropout: 0.1, use_gating: true, shared_gating: false } },
    { plugin: 'bottleneck', config: { config: 'seq_bn', reduction_factor: 2, dropout: 0.1, use_gating: true } },
    { plugin: 'lora', config: { r: 2, alpha: 2, dropout: 0.1, use_gating: true } },
  ] }],
  ['mam', { config: 'mam' }],
])('%s: run and train leave no tensors behind', (_name, config) => {
  const base = addHead(buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 12 }), { type: 'classification', name: 'cls', numLabels: 2 });
  const { graph } = applyPlacements(base, [{ adapter: adapter('union', 'u', config) }], registry);
  const store = WeightStore.create(graph, 3);
  const run = (training = false) => tf.dispose(Object.values(new Executor(graph, store).run({ input_ids: [[2, 5, 7, 3], [2, 6, 3, 0]], attention_mask: [[1, 1, 1, 1], [1, 1, 1, 0]] }, { training, seed: 4 })));
  try {
    run();
    const start = tf.memory().numTensors;
    run();
    run(true);
    expect(tf.memory().numTensors).toBe(start);
    train({ graph, store, output: 'cls.logits', train: EXAMPLES, maxSteps: 3, batchSize: 2, policy: adaptersOnlyPolicy });
    expect(tf.memory().numTensors).toBe(start);
  } finally {
    store.dispose();
  }
});

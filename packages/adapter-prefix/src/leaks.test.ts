// No tensor leaks: running (with dropout), training and ejecting leave tf.memory().numTensors where it was.
import * as tf from '@tensorflow/tfjs';
import { adapter, adaptersOnlyPolicy, addHead, applyPlacements, buildEncoder, createRegistry, Executor, train, WeightStore } from '@adapters/core-graph';
import { ejectPrefix } from './eject';
import { prefixTuning } from './plugin';

const EXAMPLES = [
  { inputIds: [2, 7, 11, 5, 3], label: 0 },
  { inputIds: [2, 15, 8, 3], label: 1 },
  { inputIds: [2, 9, 9, 12, 13, 14, 3], label: 1 },
];

test('run, train and eject leave no tensors behind', () => {
  const base = addHead(buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 12 }), { type: 'classification', name: 'cls', numLabels: 2 });
  const { graph } = applyPlacements(base, [{ adapter: adapter('prefix_tuning', 'p', { prefix_length: 3, bottleneck_size: 6, dropout: 0.1 }) }], createRegistry([prefixTuning]));
  const store = WeightStore.create(graph, 3);
  const run = (g = graph, training = false) => tf.dispose(Object.values(new Executor(g, store).run({ input_ids: [[2, 5, 7, 3]] }, { training, seed: 4 })));
  try {
    run();
    const start = tf.memory().numTensors;
    run();
    run(graph, true);
    expect(tf.memory().numTensors).toBe(start);
    train({ graph, store, output: 'cls.logits', train: EXAMPLES, maxSteps: 3, batchSize: 2, policy: adaptersOnlyPolicy });
    expect(tf.memory().numTensors).toBe(start);
    const flat = ejectPrefix(graph, store, 'p');
    // 5 MLP weights (wte, two kernels, two biases) became 1 flat table.
    expect(tf.memory().numTensors).toBe(start - 4);
    run(flat);
    expect(tf.memory().numTensors).toBe(start - 4);
  } finally {
    store.dispose();
  }
});

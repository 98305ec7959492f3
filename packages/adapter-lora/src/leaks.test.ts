// No tensor leaks: running (with gates and dropout), training, merging, unmerging and the PEFT files leave
// tf.memory().numTensors where it was (new weights aside).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { adapter, adaptersOnlyPolicy, addHead, train, WeightStore } from '@adapters/core-graph';
import { adapted, run, tinyBase } from './__tests__/helpers';
import { mergeLora, unmergeLora } from './merge';
import { loadPeftLora, savePeftLora } from './peft';

const EXAMPLES = [
  { inputIds: [2, 7, 11, 5, 3], label: 0 },
  { inputIds: [2, 31, 8, 3], label: 1 },
  { inputIds: [2, 9, 9, 12, 13, 14, 3], label: 1 },
];

test('run, train, merge / unmerge, save / load leave no tensors behind', async () => {
  const base = addHead(tinyBase(), { type: 'classification', name: 'cls', numLabels: 2 });
  const graph = adapted(base, [
    { adapter: adapter('lora', 'a', { r: 2, dropout: 0.1, target_modules: ['query', 'attention.output.dense'] }) },
    { adapter: adapter('lora', 'g', { config: 'ia3', use_gating: true }) },
  ]);
  const store = WeightStore.create(graph, 3);
  const dir = await mkdtemp(join(tmpdir(), 'lora-leaks-'));
  try {
    run(graph, store); // warm-up
    const start = tf.memory().numTensors;
    run(graph, store);
    run(graph, store, undefined, 'last_hidden_state', { training: true, seed: 4 });
    expect(tf.memory().numTensors).toBe(start);
    train({ graph, store, output: 'cls.logits', train: EXAMPLES, maxSteps: 4, batchSize: 2, policy: adaptersOnlyPolicy });
    const afterFirst = tf.memory().numTensors;
    train({ graph, store, output: 'cls.logits', train: EXAMPLES, maxSteps: 6, batchSize: 2, policy: adaptersOnlyPolicy });
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(afterFirst).toBe(start);
    const merged = mergeLora(graph, store, ['a']);
    run(merged.graph, store);
    unmergeLora(merged, store);
    expect(tf.memory().numTensors).toBe(start);
    await savePeftLora(dir, graph, store, 'a');
    expect(tf.memory().numTensors).toBe(start);
    const fresh = WeightStore.create(base, 1);
    const freshStart = tf.memory().numTensors;
    const loaded = await loadPeftLora(dir, base, fresh, { as: 'a' });
    const added = fresh.keys().length - base.params.size;
    expect(tf.memory().numTensors).toBe(freshStart + added);
    run(loaded.graph, fresh);
    expect(tf.memory().numTensors).toBe(freshStart + added);
    fresh.dispose();
  } finally {
    store.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

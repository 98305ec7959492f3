// Repeated forward and gradient passes must not leave tensors behind (a leak per step exhausts
// memory over a training run).
import * as tf from '@tensorflow/tfjs';
import { GraphError } from '../errors';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter, Average, BatchSplit, Parallel, Stack } from '../rewrite/composition';
import { toyRegistry } from '../testing/run-helpers';
import { Executor } from './executor';
import { WeightStore } from './weights';

const partial = { vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16, maxPositions: 16 };
const base = addHead(buildEncoder(partial), { type: 'classification', name: 'cls', numLabels: 3 });
const registry = toyRegistry();
const feeds = { input_ids: [[1, 2, 3, 4], [5, 6, 7, 8]], attention_mask: [[1, 1, 1, 1], [1, 1, 0, 0]] };

const graphs = {
  base,
  wrapStack: applyPlacements(base, [{ adapter: Stack(adapter('toy', 'a'), adapter('toy', 'b')), select: { kinds: ['ffn'] }, mode: 'wrap' }], registry).graph,
  parallel: applyPlacements(base, [{ adapter: Parallel(adapter('toy', 'a'), adapter('toy', 'b')), select: { kinds: ['output'] }, mode: 'after' }], registry).graph,
  averageAndSplit: applyPlacements(
    base,
    [
      { adapter: Average(undefined, adapter('toy', 'a'), adapter('toy', 'b')), select: { kinds: ['attention'] }, mode: 'parallel' },
      { adapter: BatchSplit([1, 1], adapter('toy', 'c'), adapter('toy', 'd')), select: { kinds: ['ffn'] }, mode: 'before' },
    ],
    registry,
  ).graph,
};

describe.each(Object.entries(graphs))('no tensor leaks (%s)', (_name, graph) => {
  it('repeated executor.run (with dropout, AdapterDrop and a failing call) keeps numTensors constant once outputs are disposed', () => {
    const store = WeightStore.create(graph, 4);
    const ex = new Executor(graph, store);
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) {
        const out = ex.run(feeds, { training: i % 2 === 1, seed: i, skipLayers: i % 3 });
        expect(Object.keys(out).length).toBeGreaterThan(0);
        tf.dispose(Object.values(out));
      }
      // A run that fails half-way (token id out of range) must clean up too.
      expect(() => ex.run({ input_ids: [[1, 99]] })).toThrow(GraphError);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      store.dispose();
    }
  });

  it('repeated gradient computations inside tf.tidy keep numTensors constant', () => {
    const store = WeightStore.create(graph, 4);
    const ex = new Executor(graph, store);
    const trainable = [...graph.params.values()].filter((p) => p.owner !== 'base').map((p) => store.get(p.key));
    for (const v of trainable) v.trainable = true;
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => tf.sum(ex.forward(feeds, { training: true, seed: i })['cls.logits'] as tf.Tensor) as tf.Scalar, trainable);
          expect(Number.isFinite(value.dataSync()[0])).toBe(true);
          expect(Object.keys(grads)).toHaveLength(trainable.length);
        });
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      store.dispose();
    }
  });
});

it('WeightStore.assign of a tensor with another dtype does not leak the cast (regression)', () => {
  const store = WeightStore.create(base, 4);
  try {
    const value = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8], 'int32');
    const before = tf.memory().numTensors;
    store.assign('embeddings.LayerNorm.weight', value);
    expect(tf.memory().numTensors).toBe(before);
    value.dispose();
    // The variable keeps its new value after the caller disposes the input.
    expect(Array.from(store.get('embeddings.LayerNorm.weight').dataSync())).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(store.get('embeddings.LayerNorm.weight').dtype).toBe('float32');
  } finally {
    store.dispose();
  }
});

it('the leak check can fail: an undisposed output is counted', () => {
  const store = WeightStore.create(base, 4);
  try {
    const before = tf.memory().numTensors;
    const out = new Executor(base, store).run(feeds, { outputs: ['cls.logits'] });
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose(Object.values(out));
  } finally {
    store.dispose();
  }
});

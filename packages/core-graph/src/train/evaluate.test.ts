import * as tf from '@tensorflow/tfjs';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { evaluate } from './evaluate';

const config = { vocabSize: 30, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16 };
const graph = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 3, pooling: 'cls' });
const examples = Array.from({ length: 11 }, (_v, i) => ({ inputIds: [1, 5 + (i % 20), 6 + ((i * 7) % 20), ...(i % 3 === 0 ? [9] : []), 2], label: i % 3 }));

test('evaluate() with a constants hook (layer 0 precomputed per batch) equals evaluate() without it, bit for bit, and frees what the hook made', () => {
  const store = WeightStore.create(graph, 3);
  const executor = new Executor(graph, store);
  const boundary = graph.site('layer.0.output').exit;
  const made: tf.Tensor[] = [];
  const plain = evaluate(executor, 'task.logits', examples, { batchSize: 4 });
  const start = tf.memory().numTensors;
  const batches: number[] = [];
  const fed = evaluate(executor, 'task.logits', examples, {
    batchSize: 4,
    constants: ({ executor: ex, feeds, examples: batch }) => {
      batches.push(batch.length);
      const value = ex.run(feeds, { nodes: [boundary], outputs: [] })[boundary] as tf.Tensor;
      made.push(value);
      return new Map([[boundary, value]]);
    },
  });
  expect(batches).toEqual([4, 4, 3]);
  expect(fed).toEqual(plain);
  expect(made.every((t) => t.isDisposed)).toBe(true);
  expect(tf.memory().numTensors).toBe(start);
  store.dispose();
});

// 1,000 training steps with adapters (toy adapter in every layer, dropout on, AdamW, clipping) must not grow
// anything: tfjs tensor count and bytes, the wasm heap, or the JS heap beyond GC noise. Not timed.
import * as tf from '@tensorflow/tfjs';
import { WeightStore } from '../exec/weights';
import { adaptersOnlyPolicy } from '../exec/policy';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { toyRegistry } from '../testing/run-helpers';
import type { TrainExample } from './batches';
import { train } from './trainer';

const config = { vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16, hiddenDropout: 0.1, attentionDropout: 0.1 };

const wasmHeapBytes = (): number => {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return backend.wasm ? backend.wasm.HEAPU8.buffer.byteLength : 0;
};

test('1,000 adapter training steps leak no tensors, bytes or wasm heap', () => {
  const base = addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 2 });
  const { graph } = applyPlacements(base, [{ adapter: adapter('toy', 'a') }], toyRegistry());
  const examples: TrainExample[] = Array.from({ length: 32 }, (_v, i) => ({ inputIds: [1, 5 + (i % 30), 6 + ((i * 7) % 30), 2], label: i % 2 }));
  const start = tf.memory().numTensors;
  const store = WeightStore.create(graph, 1);
  const samples = new Map<number, { tensors: number; bytes: number; heap: number }>();
  train({
    graph, store, output: 'task.logits', train: examples, policy: adaptersOnlyPolicy, epochs: 250, maxSteps: 1000, batchSize: 8, seed: 3,
    onRecord: (r) => {
      if (r.type === 'step' && (r.step === 100 || r.step === 1000)) samples.set(r.step, { tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, heap: wasmHeapBytes() });
    },
  });
  const [s100, s1000] = [samples.get(100), samples.get(1000)];
  expect(s100).toBeDefined();
  // By step 100 the optimizer slots exist; from then on nothing may accumulate.
  expect(s1000).toEqual(s100);
  store.dispose();
  expect(tf.memory().numTensors).toBe(start);
});

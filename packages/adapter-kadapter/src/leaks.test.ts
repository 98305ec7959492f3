// No tensor leaks: building, running, combining, heads, training on core-graph's trainer (with and without the
// frozen-feature cache), evaluation, and save/load leave tf.memory().numTensors where it was (weights aside).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { combineKnowledgeAdapters } from './combine';
import { addKnowledgeHead } from './heads';
import { loadKAdapter, saveKAdapter } from './hub';
import type { TrainExample } from '@adapters/core-graph';
import { adaptersOnlyPolicy, evaluate, Executor, train } from '@adapters/core-graph';
import { frozenFeatureHooks } from './frozen-cache';
import { baseStore, FEEDS, runValues, SMALL, tinyBase, withKAdapter } from './__tests__/helpers';

const EXAMPLES = [
  { inputIds: [2, 7, 11, 5, 3], label: 0 },
  { inputIds: [2, 31, 8, 3], label: 1 },
  { inputIds: [2, 9, 9, 12, 13, 14, 3], label: 2 },
];
const TOKEN_EXAMPLES = EXAMPLES.map((e) => ({ inputIds: e.inputIds, label: e.inputIds.map((_v, i) => (i === 0 ? -100 : i - 1)) }));

describe('no tensor leaks', () => {
  it('build, run, combine, heads, train, evaluate, save and load', async () => {
    const base = tinyBase();
    let graph = withKAdapter(base, 'fac', { ...SMALL, adapter_list: [0, 2], adapter_skip_layers: 1 });
    graph = withKAdapter(graph, 'lin', { ...SMALL, adapter_transformer_layers: 1 });
    graph = combineKnowledgeAdapters(graph, ['fac', 'lin'], { mode: 'concat' });
    graph = addKnowledgeHead(graph, { type: 'relation', name: 'rc', numLabels: 3, subjectMarker: 7, objectMarker: 8 });
    graph = addKnowledgeHead(graph, { type: 'dependency', name: 'dep', input: 'lin.output', projectionSize: 4 });
    const { store } = baseStore(graph);
    const dir = await mkdtemp(join(tmpdir(), 'kadapter-leaks-'));
    try {
      runValues(graph, store, FEEDS); // warm-up (kernels, backend state)
      const start = tf.memory().numTensors;
      runValues(graph, store, FEEDS);
      runValues(graph, store, FEEDS, { training: true, seed: 3 });
      expect(tf.memory().numTensors).toBe(start);

      const policy = adaptersOnlyPolicy;
      for (const cacheFrozen of [false, true]) {
        const hooks = (output: string, examples: readonly TrainExample[]) => {
          if (!cacheFrozen) return {};
          const { constants, evalConstants } = frozenFeatureHooks({ graph, store, output, policy, examples });
          return { constants, evalConstants };
        };
        train({ graph, store, output: 'rc.logits', train: EXAMPLES, eval: EXAMPLES, policy, maxSteps: 3, batchSize: 2, evalEvery: 1, ...hooks('rc.logits', EXAMPLES) });
        train({ graph, store, output: 'dep.logits', train: TOKEN_EXAMPLES, eval: TOKEN_EXAMPLES, policy, maxSteps: 2, batchSize: 2, ...hooks('dep.logits', TOKEN_EXAMPLES) });
        expect(tf.memory().numTensors).toBe(start);
      }
      evaluate(new Executor(graph, store), 'rc.logits', EXAMPLES);
      expect(tf.memory().numTensors).toBe(start);

      await saveKAdapter(dir, graph, store, 'fac', { head: 'rc' });
      expect(tf.memory().numTensors).toBe(start);
      const fresh = baseStore(base);
      const freshStart = tf.memory().numTensors;
      const loaded = await loadKAdapter(dir, combineKnowledgeAdapters(withKAdapter(base, 'lin', { ...SMALL, adapter_transformer_layers: 1 }), ['lin'], { name: 'other' }), fresh.store, { as: 'fac', loadHead: false });
      // Only the new weights (one variable per new parameter) remain.
      const added = fresh.store.keys().filter((k) => !k.startsWith('embeddings.') && !k.startsWith('encoder.') && !k.startsWith('pooler.')).length;
      expect(tf.memory().numTensors).toBe(freshStart + added);
      runValues(loaded.graph, fresh.store, FEEDS);
      expect(tf.memory().numTensors).toBe(freshStart + added);
      fresh.store.dispose();
    } finally {
      store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

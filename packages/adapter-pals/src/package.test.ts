// `palsPackage`: the pals plugin in an explicit runtime; its graphs need only core's ops.
import { adapter, applyPlacements, buildEncoder, createRuntime, Executor, WeightStore } from '@adapters/core-graph';
import * as tf from '@tensorflow/tfjs';
import { palsPackage } from './index';

describe('palsPackage', () => {
  it('places and runs PALs with a runtime made of core and this package', () => {
    const runtime = createRuntime([palsPackage]);
    expect(runtime.plugins.has('pals')).toBe(true);
    const base = buildEncoder({ vocabSize: 40, hiddenSize: 12, numHeads: 3, intermediateSize: 20, numLayers: 2, maxPositions: 16 });
    const graph = applyPlacements(base, [{ adapter: adapter('pals', 't', { d_s: 6, heads: 2 }) }], runtime).graph;
    expect(graph.runtime).toBe(runtime);
    expect(graph.splices.length).toBeGreaterThan(0);
    const store = WeightStore.create(graph);
    const out = new Executor(graph, store).run({ input_ids: [[1, 2, 3]], attention_mask: [[1, 1, 1]] });
    expect((out['last_hidden_state'] as tf.Tensor).shape).toEqual([1, 3, 12]);
    tf.dispose(Object.values(out));
    store.dispose();
  });
});

// pruneAdapterLayers: removing a trained adapter from some layers = building it with those layers left out.
import * as tf from '@tensorflow/tfjs';
import type { AdapterCatalog } from '@adapters/core-graph';
import { adapter, applyPlacements, PlacementError, Stack } from '@adapters/core-graph';
import { bottleneck, bottleneckRule } from './plugin';
import { pruneAdapterLayers, pruneAdapterLayersDetailed } from './prune';
import { adapted, baseStore, bitEqual, maxAbsDiff, randomizeAdapter, registry, run, tinyBase } from './__tests__/helpers';

const base = tinyBase();
const PRESETS = ['double_seq_bn', 'seq_bn', 'par_bn', 'scaled_par_bn', 'bapna_firat'] as const;

describe('pruneAdapterLayers', () => {
  test.each(PRESETS)('%s: pruning layers [0, 2] gives the leave_out [0, 2] graph, and the weights leave the store', (preset) => {
    const graph = adapted(base, [bottleneckRule('a', preset)]);
    const { store } = baseStore(graph, 4);
    randomizeAdapter(graph, store, 'a', 8);
    const before = tf.memory().numTensors;
    const { graph: pruned, removedParams, prunedLayers } = pruneAdapterLayersDetailed(graph, store, 'a', [0, -1]);
    expect(prunedLayers).toEqual([0, 2]);
    const leftOut = adapted(base, [bottleneckRule('a', preset, { leave_out: [0, 2] })]);
    // Structurally the same graph (nodes, parameters, sites, splices, the catalog's leave_out) ...
    expect(pruned.fingerprint()).toBe(leftOut.fingerprint());
    expect((pruned.meta['adapters'] as AdapterCatalog)['a']?.config['leave_out']).toEqual([0, 2]);
    // ... the pruned weights are gone from graph and store (and their tensors freed) ...
    expect(removedParams.length).toBeGreaterThan(0);
    expect(removedParams.every((k) => /^layer\.[02]\./.test(k) && graph.param(k).owner === 'adapter:a')).toBe(true);
    for (const k of removedParams) expect(store.has(k) || pruned.params.has(k)).toBe(false);
    expect(tf.memory().numTensors).toBe(before - removedParams.length);
    expect([...pruned.params.values()].some((p) => p.owner === 'adapter:a' && p.layer === 1)).toBe(true);
    // ... and it computes the same function with the trained weights of layer 1.
    const out = run(pruned, store);
    expect(bitEqual(out, run(leftOut, store))).toBe(true);
    expect(maxAbsDiff(out, run(base, store))).toBeGreaterThan(1e-3);
    store.dispose();
  });

  test('pruning every layer removes the adapter entirely', () => {
    const graph = adapted(base, [bottleneckRule('a', 'double_seq_bn'), bottleneckRule('b', 'bapna_firat')]);
    const { store } = baseStore(graph, 4);
    randomizeAdapter(graph, store, 'a', 1);
    const pruned = pruneAdapterLayers(graph, store, 'a', [0, 1, 2]);
    expect([...pruned.params.values()].filter((p) => p.owner === 'adapter:a')).toEqual([]);
    expect(pruned.splices.every((s) => !s.adapters.includes('a'))).toBe(true);
    expect(Object.keys(pruned.meta['adapters'] as AdapterCatalog)).toEqual(['b']);
    const onlyB = adapted(base, [bottleneckRule('b', 'bapna_firat')]);
    expect(bitEqual(run(pruned, store), run(onlyB, store))).toBe(true);
    expect(pruned.nodes.filter((n) => n.id.includes('.adapters.a.'))).toEqual([]);
    store.dispose();
  });

  test('errors: unknown adapter, layer out of range, a composed splice', () => {
    const graph = adapted(base, [bottleneckRule('a', 'seq_bn')]);
    const { store } = baseStore(graph, 4);
    expect(() => pruneAdapterLayers(graph, store, 'zzz', [0])).toThrow(PlacementError);
    expect(() => pruneAdapterLayers(graph, store, 'a', [3])).toThrow(PlacementError);
    expect(() => pruneAdapterLayers(graph, store, 'a', [-4])).toThrow(PlacementError);
    const stacked = applyPlacements(base, [{ adapter: Stack(adapter(bottleneck, 'x', { config: 'seq_bn' }), adapter(bottleneck, 'y', { config: 'seq_bn' })) }], registry).graph;
    const { store: s2 } = baseStore(stacked, 4);
    expect(() => pruneAdapterLayers(stacked, s2, 'x', [0])).toThrow(/composes Stack\(x, y\)/);
    expect(s2.keys().length).toBe(stacked.params.size); // nothing removed on error
    s2.dispose();
    store.dispose();
  });
});

// The package entry point: plugins export, coexistence with the bottleneck plugin, and its AdapterDrop pruning.
import { bottleneck, bottleneckRule, pruneAdapterLayersDetailed } from '@adapters/adapter-bottleneck';
import { applyPlacements, createRegistry, opRegistry } from '@adapters/core-graph';
import { compacter, compacterRule, plugins, sharedKey } from './index';
import { baseStore, bitEqual, FEEDS, randomizeAdapter, run, tinyBase } from './__tests__/helpers';

test('plugins lists compacter; the phm op travels with it (not registered at import); it works next to bottleneck in one registry and one model', () => {
  expect(plugins).toEqual([compacter]);
  expect(opRegistry.has('phm')).toBe(false);
  expect(compacter.ops?.map((o) => o.name)).toEqual(['phm']);
  const registry = createRegistry([bottleneck, ...plugins]);
  const { graph, report } = applyPlacements(tinyBase(), [bottleneckRule('dense', 'seq_bn'), compacterRule('cpt', 'compacter', { reduction_factor: 4 }, { select: { kinds: ['attention'] }, mode: 'wrap' })], registry);
  expect(report.map((r) => r.composition)).toEqual(['dense', 'dense', 'dense', 'cpt', 'cpt', 'cpt']);
  expect(graph.nodes.filter((n) => n.op === 'phm')).toHaveLength(6);
  expect(graph.nodes.filter((n) => n.op === 'dense' && n.id.includes('.adapters.dense.'))).toHaveLength(6);
});

test("AdapterDrop's pruneAdapterLayers keeps the shared rule while any layer still uses it", () => {
  const graph = applyPlacements(tinyBase(), [compacterRule('cpt', 'compacter++', { reduction_factor: 4 })], createRegistry(plugins)).graph;
  const { store } = baseStore(graph, 2);
  randomizeAdapter(graph, store, 'cpt', 4);
  const skipped = run(graph, store, FEEDS, 'last_hidden_state', { skipLayers: [0] });
  const rule = sharedKey('cpt', 'phm_rule');
  const { graph: pruned, removedParams } = pruneAdapterLayersDetailed(graph, store, 'cpt', [0]);
  expect(removedParams).not.toContain(rule);
  expect(removedParams.every((k) => k.startsWith('layer.0.ffn.adapters.cpt.'))).toBe(true);
  expect(pruned.params.has(rule)).toBe(true);
  expect(bitEqual(run(pruned, store, FEEDS), skipped)).toBe(true);
  // Pruning the remaining layers removes the rule with the last user.
  const { removedParams: last } = pruneAdapterLayersDetailed(pruned, store, 'cpt', [1, 2]);
  expect(last).toContain(rule);
  store.dispose();
});

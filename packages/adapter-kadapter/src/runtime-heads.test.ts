// The knowledge heads through core's head contract: a runtime from kadapterPackage knows `relation` and `dependency`
// (and the ops they emit, which each head declares), so core's addHead builds them for its graphs with no registry
// passed; a runtime without the package does not know them.
import { adapter, addHead, applyPlacements, createRuntime, headsOf, WeightStore } from '@adapters/core-graph';
import { dependencyHead, kadapterPackage, relationHead } from './index';
import { runValues, SMALL, tinyBase } from './__tests__/helpers';

describe('knowledge heads from the runtime', () => {
  it('declare the ops they emit', () => {
    expect(relationHead.ops?.map((o) => o.name)).toEqual(['kadapterMarkerPool']);
    expect(dependencyHead.ops?.map((o) => o.name)).toEqual(['kadapterPairScores']);
  });

  it('core addHead builds a relation head on a graph of the kadapter runtime; another runtime rejects the type', () => {
    const runtime = createRuntime([kadapterPackage]);
    const { graph: placed } = applyPlacements(tinyBase(), [{ adapter: adapter('kadapter', 'fac', { ...SMALL, adapter_list: [0] }) }], runtime);
    expect(headsOf(placed)).toBe(runtime.heads);
    const graph = addHead(placed, { type: 'relation', name: 'rc', numLabels: 3, subjectMarker: 7, objectMarker: 8 });
    const store = WeightStore.create(graph);
    const out = runValues(graph, store, { input_ids: [[1, 7, 3, 8, 2]], attention_mask: [[1, 1, 1, 1, 1]] }, { outputs: ['rc.logits'] });
    expect(out['rc.logits']?.shape).toEqual([1, 3]);
    store.dispose();
    const other = applyPlacements(tinyBase(), [{ adapter: adapter('kadapter', 'fac', { ...SMALL, adapter_list: [0] }) }], createRuntime([{ ...kadapterPackage, name: 'kadapter-without-heads', heads: [] }])).graph;
    expect(() => addHead(other, { type: 'relation', name: 'rc', numLabels: 3, subjectMarker: 7, objectMarker: 8 })).toThrow(/unknown head type "relation"/);
  });
});

// No import-time registration: the knowledge heads' ops come with the kadapter plugin (graphs it builds), with
// `kadapterPackage` (createRuntime) and with `addKnowledgeHead` (any graph), never through the default runtime.
import { adapter, applyPlacements, createRuntime, defaultRuntime, opRegistry, WeightStore } from '@adapters/core-graph';
import { addKnowledgeHead, combineKnowledgeAdapters, kadapterPackage, KADAPTER_OPS } from './index';
import { runValues, SMALL, tinyBase, withKAdapter } from './__tests__/helpers';

const names = KADAPTER_OPS.map((op) => op.name);

describe('kadapterPackage', () => {
  it('importing the package registers nothing in the default runtime', () => {
    for (const name of names) expect(opRegistry.has(name)).toBe(false);
  });

  it('a runtime from kadapterPackage has the plugin, its ops and the two knowledge heads', () => {
    const runtime = createRuntime([kadapterPackage]);
    expect(runtime.plugins.has('kadapter')).toBe(true);
    for (const name of names) expect(runtime.ops.has(name)).toBe(true);
    expect(runtime.heads.has('relation') && runtime.heads.has('dependency')).toBe(true);
  });

  it('a graph rewritten with it runs a relation head; the default runtime still lacks the ops', () => {
    const { graph: placed } = applyPlacements(tinyBase(), [{ adapter: adapter('kadapter', 'fac', { ...SMALL, adapter_list: [0, 2] }) }], createRuntime([kadapterPackage]));
    const combined = combineKnowledgeAdapters(placed, ['fac']);
    expect(combined.meta.kadapterCombined?.map((c) => [c.name, c.output])).toEqual([['kadapter', 'kadapter.combined']]); // typed meta, no cast
    const graph = addKnowledgeHead(combined, { type: 'relation', name: 'rc', numLabels: 3, subjectMarker: 7, objectMarker: 8 });
    const store = WeightStore.create(graph);
    const out = runValues(graph, store, { input_ids: [[1, 7, 3, 8, 2]], attention_mask: [[1, 1, 1, 1, 1]] }, { outputs: ['rc.logits'] });
    expect(out['rc.logits']?.shape).toEqual([1, 3]);
    store.dispose();
    for (const name of names) expect(defaultRuntime.ops.has(name)).toBe(false);
  });

  it('addKnowledgeHead gives a graph built without the plugin a runtime with the ops', () => {
    const base = tinyBase();
    expect(base.runtime?.ops.has(names[0]!) ?? false).toBe(false);
    const graph = addKnowledgeHead(base, { type: 'dependency', name: 'dep', input: 'last_hidden_state', projectionSize: 4 });
    for (const name of names) expect(graph.runtime?.ops.has(name)).toBe(true);
    // The plugin-built graph already has them: no new runtime.
    const placed = withKAdapter(tinyBase(), 'fac', { ...SMALL, adapter_list: [0] });
    expect(placed.runtime?.ops.has(names[1]!)).toBe(true);
  });
});

// Parity for a ConfigUnion inside composition blocks: AdapterHub `adapters` 1.3.0 composes each method's layer with the
// setup restricted to its own modules; core's applyPlacements projects the tree onto each placement the same way
// (rewrite/union-tree.ts). Fixtures (make_fixtures.py union_composition): Stack(MAM, LoRA) and BatchSplit of two
// LoRA + par_bn unions, every tensor re-drawn; each adapter read with loadAdapter, then the composition placed.
import { join } from 'node:path';
import type { AdapterCatalog, AdapterTree, Graph } from '@adapters/core-graph';
import { adapter, applyPlacements, BatchSplit, createRegistry, loadAdapter, loadPretrained, Stack } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { BASE_DIR, compare, FIXTURES, maxRelErr, referenceOutputs, run, TOLERANCE, useBackend } from './harness';

const errors: Record<string, Record<string, number>> = {};
beforeAll(useBackend);
afterAll(() => {
  for (const [method, e] of Object.entries(errors)) console.log(`parity ${method}: ${Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

const registry = createRegistry([bottleneck, lora, prefixTuning]);
const use = (graph: Graph, name: string): AdapterTree => {
  const entry = (graph.meta['adapters'] as AdapterCatalog)[name];
  if (!entry) throw new Error(`no adapter '${name}'`);
  return adapter(entry.plugin, name, entry.config);
};

describe('ConfigUnion inside composition blocks: parity with AdapterHub adapters 1.3.0', () => {
  test.each([
    { method: 'union_stack', tree: (a: AdapterTree, b: AdapterTree) => Stack(a, b), about: 'Stack(MAM, LoRA)' },
    { method: 'union_batchsplit', tree: (a: AdapterTree, b: AdapterTree) => BatchSplit([1, 1], a, b), about: 'BatchSplit(LoRA + par_bn union, LoRA + par_bn union)' },
  ])('$method: $about', async ({ method, tree }) => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const a = await loadAdapter(join(FIXTURES, method, 'a'), pre.graph, pre.store, registry);
      const b = await loadAdapter(join(FIXTURES, method, 'b'), pre.graph, pre.store, registry);
      expect((a.graph.meta['adapters'] as AdapterCatalog)['a']?.plugin).toBe('union');
      const { graph } = applyPlacements(pre.graph, [{ adapter: tree(use(a.graph, 'a'), use(b.graph, 'b')) }], registry);
      // Every parameter the composed graph needs was loaded from the two files (nothing drawn fresh).
      expect(pre.store.sync(graph)).toEqual([]);
      const ref = await referenceOutputs(method);
      errors[method] = compare(await run(graph, pre.store, ['last_hidden_state']), ref, { last_hidden_state: 'last_hidden_state' });
      for (const e of Object.values(errors[method])) expect(e).toBeLessThanOrEqual(TOLERANCE);
      // Each adapter alone is not the composition.
      for (const alone of [a.graph, b.graph]) expect(maxRelErr((await run(alone, pre.store, ['last_hidden_state']))['last_hidden_state'] as Float32Array, ref.get('last_hidden_state')?.values ?? [])).toBeGreaterThan(1e-3);
    } finally {
      pre.store.dispose();
    }
  });
});

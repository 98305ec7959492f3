// Parity with AdapterHub `adapters` 1.3.0 for Compacter and Compacter++ (PHM projections, shared rule matrices):
// AdapterHub's files as saved, read with core-graph's loadAdapter and the compacter plugin.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, loadAdapter, loadPretrained, saveAdapter } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { compacter } from '@adapters/adapter-compacter';
import { BASE_DIR, compare, expectSameFiles, exportDir, FIXTURES, maxRelErr, referenceOutputs, run, TOLERANCE, useBackend } from './harness';

const errors: Record<string, Record<string, number>> = {};
beforeAll(useBackend);
afterAll(() => {
  for (const [method, e] of Object.entries(errors)) console.log(`parity ${method}: ${Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

describe('compacter parity with AdapterHub adapters 1.3.0', () => {
  test.each([
    { method: 'compacter', about: 'CompacterConfig(reduction_factor=4, phm_dim=4): attention and FFN, shared phm_rule' },
    { method: 'compacter++', about: 'CompacterPlusPlusConfig(reduction_factor=4, phm_dim=4): FFN only' },
  ])('$method ($about)', async ({ method }) => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      // bottleneck first: its fromHubConfig must leave phm_layer configs to compacter.
      const registry = createRegistry([bottleneck, compacter]);
      const loaded = await loadAdapter(join(FIXTURES, method, 'adapter'), pre.graph, pre.store, registry);
      expect((loaded.graph.meta['adapters'] as Record<string, { plugin: string }>)['a']?.plugin).toBe('compacter');
      const got = await run(loaded.graph, pre.store, ['last_hidden_state']);
      const ref = await referenceOutputs(method);
      errors[method] = compare(got, ref, { last_hidden_state: 'last_hidden_state' });
      for (const e of Object.values(errors[method])) expect(e).toBeLessThanOrEqual(TOLERANCE);
      const plain = await run(pre.graph, pre.store, ['last_hidden_state']);
      expect(maxRelErr(plain['last_hidden_state'] as Float32Array, ref.get('last_hidden_state')?.values ?? [])).toBeGreaterThan(1e-2);
    } finally {
      pre.store.dispose();
    }
  });

  // The other direction. Ours also writes the shared rule as `bert.shared.adapters.a.phm_rule` (the compacter
  // package's own name); AdapterHub reads `bert.shared_parameters.a.phm_rule` and ignores the other.
  test.each(['compacter', 'compacter++'])('%s: saveAdapter writes what AdapterHub wrote', async (method) => {
    const pre = await loadPretrained(BASE_DIR);
    const dir = exportDir(method) ?? (await mkdtemp(join(tmpdir(), 'parity-')));
    try {
      const registry = createRegistry([bottleneck, compacter]);
      const loaded = await loadAdapter(join(FIXTURES, method, 'adapter'), pre.graph, pre.store, registry);
      await saveAdapter(dir, loaded.graph, pre.store, 'a', { registry });
      await expectSameFiles(dir, join(FIXTURES, method, 'adapter'), /^bert\.shared\.adapters\.a\./);
    } finally {
      pre.store.dispose();
      if (exportDir(method) === undefined) await rm(dir, { recursive: true, force: true });
    }
  });
});

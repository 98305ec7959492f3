// Parity for prefix tuning: AdapterHub `adapters` 1.3.0 PrefixTuningConfig (MLP and flat). adapters 1.3.0 cannot
// save prefix tuning as safetensors (every layer's module shares the pool), so make_fixtures.py writes the pool once
// (`prefix_pool.safetensors`, AdapterHub's key names) beside its adapter_config.json; this test reads that config
// through the plugin's fromHubConfig and maps the pool's tensors onto ours (nn.Linear [out, in] → our [in, out];
// flat's 1-D control_trans is ours as it is). The flat pool is also read by loadAdapter straight from AdapterHub's
// tensors and written back bit for bit by saveAdapter (file exchange; check_ts_saved.py loads ours in AdapterHub).
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { adapter, applyPlacements, createRegistry, loadAdapter, loadPretrained, readSafetensorsFile, saveAdapter } from '@adapters/core-graph';
import { ejectPrefix, poolScope, prefixFromHubConfig, prefixTuning } from '@adapters/adapter-prefix';
import { BASE_DIR, compare, exportDir, FIXTURES, maxRelErr, referenceOutputs, run, TOLERANCE, useBackend } from './harness';

const errors: Record<string, Record<string, number>> = {};
beforeAll(useBackend);
afterAll(() => {
  for (const [method, e] of Object.entries(errors)) console.log(`parity ${method}: ${Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

const HUB_POOL = 'bert.prefix_tuning.prefix_tunings.a.self_prefix.';

describe('prefix tuning parity with AdapterHub adapters 1.3.0', () => {
  test.each([
    { method: 'prefix_tuning', about: 'PrefixTuningConfig(prefix_length=5, bottleneck_size=16)' },
    { method: 'prefix_tuning_flat', about: 'PrefixTuningConfig(prefix_length=4, flat=True, leave_out=[0])' },
  ])('$method ($about)', async ({ method }) => {
    const dir = join(FIXTURES, method, 'adapter');
    const hub = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown> };
    const config = prefixFromHubConfig(hub.config);
    expect(config).toBeDefined();
    const pre = await loadPretrained(BASE_DIR);
    try {
      const { graph } = applyPlacements(pre.graph, [{ adapter: adapter('prefix_tuning', 'a', config) }], createRegistry([prefixTuning]));
      pre.store.sync(graph);
      const pool = await readSafetensorsFile(join(dir, 'prefix_pool.safetensors'));
      const ours = [...graph.params.values()].filter((p) => p.key.startsWith(`${poolScope('a')}.`));
      expect(ours.length).toBe(pool.tensors.size);
      for (const p of ours) {
        const local = p.key.slice(poolScope('a').length + 1);
        const hubName = HUB_POOL + (local === 'control_trans.weight' ? 'control_trans' : local);
        const t = pool.tensors.get(hubName);
        if (!t) throw new Error(`${hubName} missing from the fixture`);
        const value = tf.tidy(() => {
          const x = tf.tensor(t.values as Float32Array, t.shape);
          return p.kind === 'kernel' ? tf.transpose(x) : tf.reshape(x, [...p.shape]);
        });
        pre.store.assign(p.key, value);
        value.dispose();
      }
      const ref = await referenceOutputs(method);
      errors[method] = compare(await run(graph, pre.store, ['last_hidden_state']), ref, { last_hidden_state: 'last_hidden_state' });
      for (const e of Object.values(errors[method])) expect(e).toBeLessThanOrEqual(TOLERANCE);
      const plain = await run(pre.graph, pre.store, ['last_hidden_state']);
      expect(maxRelErr(plain['last_hidden_state'] as Float32Array, ref.get('last_hidden_state')?.values ?? [])).toBeGreaterThan(1e-2);
      if (method === 'prefix_tuning_flat') {
        // File exchange: AdapterHub's own flat pool (1-D control_trans) read by loadAdapter as it is, and saveAdapter
        // writing the same tensor bit for bit under the same name.
        const dir2 = await mkdtemp(join(tmpdir(), 'parity-flat-'));
        const out = exportDir('prefix_tuning_flat') ?? (await mkdtemp(join(tmpdir(), 'parity-flat-saved-')));
        const fresh = await loadPretrained(BASE_DIR);
        try {
          await copyFile(join(dir, 'adapter_config.json'), join(dir2, 'adapter_config.json'));
          await copyFile(join(dir, 'prefix_pool.safetensors'), join(dir2, 'adapter.safetensors'));
          const loaded = await loadAdapter(dir2, fresh.graph, fresh.store, createRegistry([prefixTuning]));
          errors[`${method} loadAdapter`] = compare(await run(loaded.graph, fresh.store, ['last_hidden_state']), ref, { last_hidden_state: 'last_hidden_state' });
          for (const e of Object.values(errors[`${method} loadAdapter`] ?? {})) expect(e).toBeLessThanOrEqual(TOLERANCE);
          await saveAdapter(out, loaded.graph, fresh.store, 'a', { registry: createRegistry([prefixTuning]) });
          const saved = (await readSafetensorsFile(join(out, 'adapter.safetensors'))).tensors;
          expect([...saved.keys()]).toEqual([...pool.tensors.keys()]);
          for (const [k, t] of pool.tensors) {
            expect(saved.get(k)?.shape).toEqual(t.shape);
            expect(Buffer.from((saved.get(k)?.values as Float32Array).buffer).equals(Buffer.from((t.values as Float32Array).buffer))).toBe(true);
          }
        } finally {
          fresh.store.dispose();
          await rm(dir2, { recursive: true, force: true });
          if (exportDir('prefix_tuning_flat') === undefined) await rm(out, { recursive: true, force: true });
        }
      }
      if (method === 'prefix_tuning') {
        // Ejected to a flat prefix (AdapterHub's eject), the model still reproduces AdapterHub's output.
        const flat = ejectPrefix(graph, pre.store, 'a');
        errors[`${method} ejected`] = compare(await run(flat, pre.store, ['last_hidden_state']), ref, { last_hidden_state: 'last_hidden_state' });
        for (const e of Object.values(errors[`${method} ejected`] ?? {})) expect(e).toBeLessThanOrEqual(TOLERANCE);
      }
    } finally {
      pre.store.dispose();
    }
  });
});

// Parity for prefix tuning: AdapterHub `adapters` 1.3.0 PrefixTuningConfig (MLP and flat). adapters 1.3.0 cannot
// save prefix tuning as safetensors (every layer's module shares the pool), so make_fixtures.py writes the pool once
// (`prefix_pool.safetensors`, AdapterHub's key names) beside its adapter_config.json; this test reads that config
// through the plugin's fromHubConfig and maps the pool's tensors onto ours (nn.Linear [out, in] → our [in, out];
// flat's 1-D control_trans → [prefix_length, L·2·hidden], the same row-major order).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { adapter, applyPlacements, createRegistry, loadPretrained, readSafetensorsFile } from '@adapters/core-graph';
import { ejectPrefix, poolScope, prefixFromHubConfig, prefixTuning } from '@adapters/adapter-prefix';
import { BASE_DIR, compare, FIXTURES, maxRelErr, referenceOutputs, run, TOLERANCE, useBackend } from './harness';

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

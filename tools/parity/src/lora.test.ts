// Parity for LoRA and (IA)³: AdapterHub `adapters` 1.3.0 (LoRAConfig, IA3Config) read with loadAdapter, and PEFT 0.21
// LoRA folders written by PEFT's own save_pretrained read with loadPeftLora; both directions of the files.
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, loadAdapter, loadPretrained, readSafetensorsFile, saveAdapter } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora, loadPeftLora, mergeLora, savePeftLora } from '@adapters/adapter-lora';
import { BASE_DIR, compare, expectSameFiles, exportDir, FIXTURES, maxRelErr, referenceOutputs, run, TOLERANCE, useBackend } from './harness';

const errors: Record<string, Record<string, number>> = {};
beforeAll(useBackend);
afterAll(() => {
  for (const [method, e] of Object.entries(errors)) console.log(`parity ${method}: ${Object.entries(e).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

// bottleneck first: its fromHubConfig must leave `architecture: "lora"` configs to lora.
const registry = createRegistry([bottleneck, lora]);
const HUB = [
  { method: 'lora', about: 'LoRAConfig(): r 8, alpha 8, q and v' },
  { method: 'lora_gated', about: 'LoRAConfig(r=4, alpha=16, q, k, v, intermediate, output, use_gating)' },
  { method: 'ia3', about: 'IA3Config(): scale k, v and intermediate' },
];

describe('LoRA / (IA)³ parity with AdapterHub adapters 1.3.0', () => {
  test.each(HUB)('$method ($about)', async ({ method }) => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const loaded = await loadAdapter(join(FIXTURES, method, 'adapter'), pre.graph, pre.store, registry);
      expect((loaded.graph.meta['adapters'] as Record<string, { plugin: string }>)['a']?.plugin).toBe('lora');
      const got = await run(loaded.graph, pre.store, ['last_hidden_state']);
      const ref = await referenceOutputs(method);
      errors[method] = compare(got, ref, { last_hidden_state: 'last_hidden_state' });
      for (const e of Object.values(errors[method])) expect(e).toBeLessThanOrEqual(TOLERANCE);
      const plain = await run(pre.graph, pre.store, ['last_hidden_state']);
      expect(maxRelErr(plain['last_hidden_state'] as Float32Array, ref.get('last_hidden_state')?.values ?? [])).toBeGreaterThan(1e-2);
      if (method !== 'lora_gated') {
        // Merged into the weights, the base graph reproduces AdapterHub's adapted output.
        const merged = mergeLora(loaded.graph, pre.store);
        const m = compare(await run(merged.graph, pre.store, ['last_hidden_state']), ref, { last_hidden_state: 'last_hidden_state' });
        errors[`${method} merged`] = m;
        for (const e of Object.values(m)) expect(e).toBeLessThanOrEqual(TOLERANCE);
      }
    } finally {
      pre.store.dispose();
    }
  });

  test.each(HUB.map((h) => h.method))('%s: saveAdapter writes what AdapterHub wrote', async (method) => {
    const pre = await loadPretrained(BASE_DIR);
    const dir = exportDir(method) ?? (await mkdtemp(join(tmpdir(), 'parity-')));
    try {
      const loaded = await loadAdapter(join(FIXTURES, method, 'adapter'), pre.graph, pre.store, registry);
      await saveAdapter(dir, loaded.graph, pre.store, 'a', { registry });
      await expectSameFiles(dir, join(FIXTURES, method, 'adapter'));
    } finally {
      pre.store.dispose();
      if (!exportDir(method)) await rm(dir, { recursive: true, force: true });
    }
  });
});

const PEFT = [
  { method: 'peft_lora_qv', about: 'LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules=["query", "value"])' },
  { method: 'peft_lora_all', about: 'LoraConfig(r=2, lora_alpha=6, target_modules=["query", "key", "value", "dense"]): every linear layer, pooler included' },
  { method: 'peft_lora_regex', about: 'LoraConfig(r=3, lora_alpha=5, use_rslora=True, target_modules=regex over layer 1)' },
];

describe('LoRA parity with PEFT 0.21 (files from PEFT save_pretrained)', () => {
  test.each(PEFT)('$method ($about)', async ({ method }) => {
    const pre = await loadPretrained(BASE_DIR);
    try {
      const loaded = await loadPeftLora(join(FIXTURES, method, 'adapter'), pre.graph, pre.store);
      const meta = JSON.parse(await readFile(join(FIXTURES, method, 'meta.json'), 'utf8')) as { lora_modules: number };
      expect(loaded.graph.splices.length).toBe(meta.lora_modules);
      const got = await run(loaded.graph, pre.store, ['last_hidden_state', 'pooler_output']);
      const ref = await referenceOutputs(method);
      errors[method] = compare(got, ref, { last_hidden_state: 'last_hidden_state', pooler_output: 'pooler_output' });
      for (const e of Object.values(errors[method])) expect(e).toBeLessThanOrEqual(TOLERANCE);
      const plain = await run(pre.graph, pre.store, ['last_hidden_state']);
      expect(maxRelErr(plain['last_hidden_state'] as Float32Array, ref.get('last_hidden_state')?.values ?? [])).toBeGreaterThan(1e-2);
    } finally {
      pre.store.dispose();
    }
  });

  test.each(PEFT.map((p) => p.method))('%s: savePeftLora writes what PEFT wrote (tensors bit for bit, LoRA config fields)', async (method) => {
    const pre = await loadPretrained(BASE_DIR);
    const dir = exportDir(method) ?? (await mkdtemp(join(tmpdir(), 'parity-')));
    try {
      const source = join(FIXTURES, method, 'adapter');
      const loaded = await loadPeftLora(source, pre.graph, pre.store);
      await savePeftLora(dir, loaded.graph, pre.store, loaded.name);
      const ours = (await readSafetensorsFile(join(dir, 'adapter_model.safetensors'))).tensors;
      const theirs = (await readSafetensorsFile(join(source, 'adapter_model.safetensors'))).tensors;
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [k, t] of theirs) {
        const mine = ours.get(k);
        expect([k, mine?.shape]).toEqual([k, t.shape]);
        expect(Buffer.from(Float32Array.from(mine?.values ?? []).buffer).equals(Buffer.from(Float32Array.from(t.values).buffer))).toBe(true);
      }
      const a = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      const b = JSON.parse(await readFile(join(source, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      for (const k of ['peft_type', 'r', 'lora_alpha', 'lora_dropout', 'layers_to_transform', 'use_rslora', 'bias', 'fan_in_fan_out', 'use_dora', 'layers_pattern']) expect([k, a[k]]).toEqual([k, b[k]]);
      const targets = (v: unknown) => (Array.isArray(v) ? [...(v as string[])].sort() : v);
      expect(targets(a['target_modules'])).toEqual(targets(b['target_modules']));
    } finally {
      pre.store.dispose();
      if (!exportDir(method)) await rm(dir, { recursive: true, force: true });
    }
  });
});

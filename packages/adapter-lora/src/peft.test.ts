// PEFT files: savePeftLora → loadPeftLora restores placement, weights and outputs bit for bit (fast-check over
// configs), and bad folders fail with one clear error, leaving graph and store unchanged.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { adapter, ConfigError, encodeSafetensors, GraphError, PlacementError, readSafetensorsFile, WeightStore } from '@adapters/core-graph';
import { adapted, randomizeAdapter, read, run, tinyBase } from './__tests__/helpers';
import { loadPeftLora, savePeftLora } from './peft';

const configArb = fc.oneof(
  fc.record({ r: fc.integer({ min: 1, max: 4 }), alpha: fc.integer({ min: 1, max: 32 }), attn_matrices: fc.subarray(['q', 'k', 'v'] as const, { minLength: 1 }), intermediate_lora: fc.boolean(), output_lora: fc.boolean(), leave_out: fc.subarray([0, 1]) }),
  fc.record({
    r: fc.integer({ min: 1, max: 4 }),
    alpha: fc.double({ min: 0.5, max: 20, noNaN: true }),
    dropout: fc.constantFrom(0, 0.05),
    use_rslora: fc.boolean(),
    target_modules: fc.subarray(['query', 'key', 'value', 'dense', 'attention.output.dense', 'intermediate.dense'], { minLength: 1 }),
    layers_to_transform: fc.option(fc.subarray([0, 1], { minLength: 1 }), { nil: null }),
  }),
  fc.record({ r: fc.integer({ min: 1, max: 3 }), target_modules: fc.constantFrom('.*layer\\.1.*(query|key)', 'encoder\\.layer\\.0\\.output\\.dense', 'pooler\\.dense|.*value') }),
);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lora-peft-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test('savePeftLora → loadPeftLora: same sites, weights and outputs, bit for bit', async () => {
  await fc.assert(
    fc.asyncProperty(configArb, fc.integer({ min: 0, max: 99 }), async (config, seed) => {
      const base = tinyBase();
      let graph;
      try {
        graph = adapted(base, [{ adapter: adapter('lora', 'x', config) }]);
      } catch (e) {
        if (e instanceof PlacementError) return; // the config selects no layer (e.g. leave_out both layers)
        throw e;
      }
      const store = WeightStore.create(graph, seed);
      const fresh = WeightStore.create(base, seed);
      try {
        randomizeAdapter(graph, store, 'x', seed);
        const out = join(dir, `s${seed}`);
        await savePeftLora(out, graph, store, 'x');
        const loaded = await loadPeftLora(out, base, fresh, { as: 'x' });
        expect(loaded.graph.splices.map((s) => s.site)).toEqual(graph.splices.map((s) => s.site));
        for (const p of graph.params.values()) if (p.owner === 'adapter:x') expect(read(fresh, p.key)).toEqual(read(store, p.key));
        expect(run(loaded.graph, fresh)).toEqual(run(graph, store));
      } finally {
        store.dispose();
        fresh.dispose();
      }
    }),
    { numRuns: 8, seed: 3 },
  );
});

describe('bad PEFT folders', () => {
  async function saved(): Promise<{ config: Record<string, unknown>; tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> }> {
    const graph = adapted(tinyBase(), [{ adapter: adapter('lora', 'x') }]);
    const store = WeightStore.create(graph, 1);
    await savePeftLora(dir, graph, store, 'x');
    store.dispose();
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
    for (const [k, t] of (await readSafetensorsFile(join(dir, 'adapter_model.safetensors'))).tensors) tensors[k] = { dtype: 'F32', shape: [...t.shape], values: Float32Array.from(t.values) };
    return { config, tensors };
  }
  const write = async (config: Record<string, unknown>, tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }>) => {
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(config));
    await writeFile(join(dir, 'adapter_model.safetensors'), encodeSafetensors(tensors));
  };
  const KEY = 'base_model.model.encoder.layer.0.attention.self.query.lora_A.weight';
  const cases: Array<[string, (c: Record<string, unknown>, t: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }>) => void, unknown, RegExp]> = [
    ['peft_type IA3', (c) => (c['peft_type'] = 'IA3'), ConfigError, /peft_type: "IA3" is not a PEFT LoRA/],
    ['trained biases', (c) => (c['bias'] = 'all'), ConfigError, /bias: "all" is not supported/],
    ['DoRA', (c) => (c['use_dora'] = true), ConfigError, /use_dora/],
    ['rank_pattern', (c) => (c['rank_pattern'] = { query: 4 }), ConfigError, /rank_pattern/],
    ['all-linear', (c) => (c['target_modules'] = 'all-linear'), ConfigError, /'all-linear' is a PEFT shorthand/],
    ['r 0', (c) => (c['r'] = 0), ConfigError, /default\.config\.r/],
    ['a module the model lacks', (c) => (c['target_modules'] = ['q_proj']), PlacementError, /selects no dense layer/],
    ['a missing tensor', (_c, t) => delete t[KEY], GraphError, /missing tensor 'base_model\.model\.encoder\.layer\.0\.attention\.self\.query\.lora_A\.weight'/],
    ['a tensor of the wrong shape', (_c, t) => (t[KEY] = { dtype: 'F32', shape: [12, 8], values: new Float32Array(96) }), GraphError, /has shape \[12, 8\], the model expects \[8, 12\]/],
    ['an extra tensor', (_c, t) => (t['base_model.model.encoder.layer.0.attention.self.key.lora_A.weight'] = { dtype: 'F32', shape: [8, 12], values: new Float32Array(96) }), GraphError, /tensor 'base_model\.model\.encoder\.layer\.0\.attention\.self\.key\.lora_A\.weight' has no place/],
  ];
  test.each(cases)('%s: one clear error, store unchanged', async (_n, spoil, type, message) => {
    const { config, tensors } = await saved();
    spoil(config, tensors);
    await write(config, tensors);
    const base = tinyBase();
    const store = WeightStore.create(base, 2);
    const keys = store.keys().length;
    const err = await loadPeftLora(dir, base, store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as Error).message).toMatch(message);
    expect(store.keys().length).toBe(keys);
    store.dispose();
  });

  test('(IA)³ and gated LoRA have no PEFT LoRA file', async () => {
    for (const config of [{ config: 'ia3' }, { use_gating: true }]) {
      const graph = adapted(tinyBase(), [{ adapter: adapter('lora', 'x', config) }]);
      const store = WeightStore.create(graph, 1);
      await expect(savePeftLora(dir, graph, store, 'x')).rejects.toThrow(ConfigError);
      store.dispose();
    }
  });
});

// ConfigUnion as one named adapter: one catalog entry, every parameter owned by the name, every splice listing it
// (so bypassing the name bypasses every component), clear errors for what a union cannot be, and a failed load that
// leaves graph and store as they were.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { AdapterCatalog, Graph } from '@adapters/core-graph';
import {
  adapter, applyPlacements, buildEncoder, ConfigError, createRegistry, encodeSafetensors, Executor, loadAdapter, PlacementError, readSafetensorsFile, saveAdapter, Stack,
  WeightStore,
} from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { configUnion } from './index';

const registry = createRegistry([bottleneck, lora, prefixTuning, configUnion]);
const base = (): Graph => buildEncoder({ vocabSize: 30, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16 });
const FEEDS = { input_ids: [[2, 5, 7, 9, 3], [2, 8, 3, 0, 0]], attention_mask: [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]] };

function hidden(graph: Graph, store: WeightStore, skipAdapters?: readonly string[]): Float32Array {
  const out = new Executor(graph, store).run(FEEDS, { outputs: ['last_hidden_state'], ...(skipAdapters ? { skipAdapters } : {}) });
  const values = Float32Array.from((out['last_hidden_state'] as tf.Tensor).dataSync());
  tf.dispose(Object.values(out));
  return values;
}

describe('a union is one adapter', () => {
  test.each(['mam', 'unipelt'])('%s: one catalog entry, one owner, every splice lists the name; bypassing it gives the base model bit for bit', (preset) => {
    const plain = base();
    const { graph, report } = applyPlacements(plain, [{ adapter: adapter('union', 'u', { config: preset }) }], registry);
    const catalog = graph.meta['adapters'] as AdapterCatalog;
    expect(Object.keys(catalog)).toEqual(['u']);
    expect(catalog['u']?.plugin).toBe('union');
    const added = [...graph.params.values()].filter((p) => !plain.params.has(p.key));
    expect(added.length).toBeGreaterThan(0);
    expect(added.every((p) => p.owner === 'adapter:u')).toBe(true);
    // Each component at its own sites and mode: prefix (after) at every self-attention, the bottleneck at every FFN.
    const kinds = new Set(graph.splices.map((s) => `${plain.site(s.site).kind}:${s.mode}`));
    expect([...kinds].sort()).toEqual(preset === 'mam' ? ['ffn:parallel', 'prefix:after'] : ['ffn:wrap', 'linear:parallel', 'prefix:after']);
    expect(graph.splices.every((s) => s.adapters.includes('u'))).toBe(true);
    expect(report.length).toBe(graph.splices.length);
    const store = WeightStore.create(graph, 3);
    try {
      const bypassed = hidden(graph, store, ['u']);
      const reference = hidden(plain, store);
      expect(Buffer.from(bypassed.buffer).equals(Buffer.from(reference.buffer))).toBe(true);
      // Active, the prefix changes the outputs.
      const active = hidden(graph, store);
      expect(Math.max(...active.map((v, i) => Math.abs(v - (reference[i] as number))))).toBeGreaterThan(1e-4);
    } finally {
      store.dispose();
    }
  });

  test('components that each start as the identity (LoRA B = 0, par_bn zero up-projection, gated) make an identity union', () => {
    const plain = base();
    const configs = [{ plugin: 'lora', config: { r: 2, use_gating: true } }, { plugin: 'bottleneck', config: { config: 'par_bn', use_gating: true } }];
    const { graph } = applyPlacements(plain, [{ adapter: adapter('union', 'u', { configs }) }], registry);
    const store = WeightStore.create(graph, 6);
    try {
      expect(Buffer.from(hidden(graph, store).buffer).equals(Buffer.from(hidden(plain, store).buffer))).toBe(true);
    } finally {
      store.dispose();
    }
  });

  test('placed beside a plain adapter of another name, each bypasses alone', () => {
    const plain = base();
    const { graph } = applyPlacements(plain, [{ adapter: adapter('union', 'u', { config: 'mam' }) }, { adapter: adapter('lora', 'l', { r: 2, init_weights: 'bert' }) }], registry);
    const store = WeightStore.create(graph, 4);
    try {
      const both = hidden(graph, store, ['u', 'l']);
      expect(Buffer.from(both.buffer).equals(Buffer.from(hidden(plain, store).buffer))).toBe(true);
      const onlyLora = hidden(graph, store, ['u']);
      const onlyUnion = hidden(graph, store, ['l']);
      expect(Buffer.from(onlyLora.buffer).equals(Buffer.from(onlyUnion.buffer))).toBe(false);
    } finally {
      store.dispose();
    }
  });
});

describe('what a union cannot be', () => {
  const place = (rule: Parameters<typeof applyPlacements>[1][number]) => () => applyPlacements(base(), [rule], registry);
  test('in a composition block beside an adapter of another mode at its sites (union-composition.test.ts has the rest)', () => {
    expect(place({ adapter: Stack(adapter('union', 'u', { config: 'mam' }), adapter('bottleneck', 'b')) })).toThrow(PlacementError);
    expect(place({ adapter: Stack(adapter('union', 'u', { config: 'mam' }), adapter('bottleneck', 'b')) })).toThrow(/site 'layer.0.ffn' would get u \(parallel\) and b \(wrap\)/);
  });
  test('with a select or mode', () => {
    expect(place({ adapter: adapter('union', 'u', { config: 'mam' }), select: { kinds: ['ffn'] }, mode: 'wrap' })).toThrow(/give the rule no select or mode/);
  });
  test('two components at one site', () => {
    const configs = [{ plugin: 'bottleneck', config: { config: 'seq_bn' } }, { plugin: 'bottleneck', config: { config: 'par_bn' } }];
    expect(place({ adapter: adapter('union', 'u', { configs }) })).toThrow(/components 0 and 1 both adapt site 'layer.0.ffn'/);
  });
  test('a component config error names the component', () => {
    let thrown: unknown;
    try {
      place({ adapter: adapter('union', 'u', { configs: [{ plugin: 'prefix_tuning', config: { prefix_length: 0 } }] }) })();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).path).toBe('u.config.configs[0].config.prefix_length');
  });
  test('the name again with another config', () => {
    const once = applyPlacements(base(), [{ adapter: adapter('union', 'u', { config: 'mam' }) }], registry).graph;
    expect(() => applyPlacements(once, [{ adapter: adapter('union', 'u', { config: 'unipelt' }) }], registry)).toThrow(/already exists/);
  });
});

describe('files', () => {
  test('a union file missing one tensor fails naming it, and the model is unchanged', async () => {
    const plain = base();
    const { graph } = applyPlacements(plain, [{ adapter: adapter('union', 'u', { config: 'unipelt' }) }], registry);
    const store = WeightStore.create(graph, 5);
    const target = WeightStore.create(plain, 5);
    const dir = await mkdtemp(join(tmpdir(), 'union-'));
    try {
      await saveAdapter(dir, graph, store, 'u', { registry });
      const file = join(dir, 'adapter.safetensors');
      const { tensors } = await readSafetensorsFile(file);
      const dropped = [...tensors.keys()].find((k) => k.includes('prefix_gates')) as string;
      const kept: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
      for (const [k, t] of tensors) if (k !== dropped) kept[k] = { dtype: 'F32', shape: [...t.shape], values: Float32Array.from(t.values) };
      await writeFile(file, encodeSafetensors(kept, { format: 'pt' }));
      const before = target.snapshot();
      await expect(loadAdapter(dir, plain, target, registry)).rejects.toThrow(dropped.replace(/^bert\./, '').split('.').slice(-3).join('.'));
      const after = target.snapshot();
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      for (const [k, v] of before) expect(Buffer.from((after.get(k) as Float32Array).buffer).equals(Buffer.from(v.buffer))).toBe(true);
    } finally {
      store.dispose();
      target.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

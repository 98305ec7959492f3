// Property tests over random tiny models, tap lists and adapter sizes: the base model's hidden states are
// bit-identical with knowledge adapters attached, adapter outputs have the right shapes, concat/sum
// combinations behave, and a tap the model doesn't have is a clear ConfigError.
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import type { EncoderConfig, Graph } from '@adapters/core-graph';
import { adapter, applyPlacements, buildEncoder, ConfigError, Executor, PlacementError, WeightStore } from '@adapters/core-graph';
import { smallEncoderConfigArb, tokenIdsArb } from '@adapters/core-graph/testing';
import { combineKnowledgeAdapters } from './combine';
import { kadapterParamCount, KADAPTER_DEFAULTS } from './config';
import { bitEqual, randomizeOwner, registry, runValues, withHiddenOutputs, withKAdapter } from './__tests__/helpers';
import { kadapter } from './plugin';

const RUNS = Number(process.env['KADAPTER_FC_RUNS'] ?? 25);

/** A random strictly increasing, non-empty tap list over `numLayers` layers. */
const tapListArb = (numLayers: number): fc.Arbitrary<number[]> =>
  fc.subarray(Array.from({ length: numLayers }, (_v, i) => i), { minLength: 1 }).map((l) => [...l].sort((a, b) => a - b));

/** A random small K-Adapter config whose tap list fits `numLayers`. */
const kconfigArb = (numLayers: number) =>
  fc.record({
    heads: fc.integer({ min: 1, max: 3 }),
    perHead: fc.integer({ min: 1, max: 4 }),
    adapter_intermediate_size: fc.integer({ min: 1, max: 12 }),
    adapter_transformer_layers: fc.integer({ min: 0, max: 2 }),
    adapter_list: fc.option(tapListArb(numLayers), { nil: null }),
    adapter_skip_layers: fc.integer({ min: 0, max: 3 }),
    hidden_act: fc.constantFrom('gelu' as const, 'relu' as const, 'swish' as const),
    mask_padding: fc.boolean(),
  }).map(({ heads, perHead, ...rest }) => ({ ...rest, adapter_size: heads * perHead, adapter_heads: heads }));

const modelArb = smallEncoderConfigArb({ minLayers: 1, maxLayers: 4 });

function feedsFor(ids: number[][], padLast: number): { input_ids: number[][]; attention_mask: number[][] } {
  const mask = ids.map((row, b) => row.map((_v, s) => (b === ids.length - 1 && s >= row.length - padLast ? 0 : 1)));
  return { input_ids: ids, attention_mask: mask };
}

const scenario = modelArb.chain((model) =>
  fc.record({
    model: fc.constant(model),
    configs: fc.array(kconfigArb(model.numLayers as number), { minLength: 1, maxLength: 2 }),
    batch: fc.integer({ min: 1, max: 3 }),
    seq: fc.integer({ min: 2, max: 6 }),
    seed: fc.integer({ min: 0, max: 1000 }),
  }).chain((s) => fc.record({ ...Object.fromEntries(Object.entries(s).map(([k, v]) => [k, fc.constant(v)])), ids: tokenIdsArb(model.vocabSize as number, s.batch, s.seq), pad: fc.integer({ min: 0, max: s.seq - 1 }) }) as fc.Arbitrary<typeof s & { ids: number[][]; pad: number }>),
);

function attachAll(base: Graph, configs: readonly Record<string, unknown>[]): Graph {
  return configs.reduce((g, c, i) => withKAdapter(g, `k${i}`, c), base);
}

describe('K-Adapter properties (fast-check, tiny models)', () => {
  it('base hidden states are bit-identical with knowledge adapters attached; outputs are [batch, seq, hidden]', () => {
    fc.assert(
      fc.property(scenario, ({ model, configs, ids, pad, seed }) => {
        const base = withHiddenOutputs(buildEncoder(model));
        const adapted = attachAll(base, configs);
        // The model path is structurally untouched: every base node is the same object description.
        for (const n of base.nodes) expect(adapted.node(n.id)).toEqual(n);
        const store = WeightStore.create(adapted, seed);
        configs.forEach((_c, i) => randomizeOwner(adapted, store, `adapter:k${i}`, seed + i));
        const feeds = feedsFor(ids, pad);
        const baseOut = runValues(base, store, feeds);
        const adaptedOut = runValues(adapted, store, feeds);
        for (const [name, v] of Object.entries(baseOut)) {
          expect(bitEqual(adaptedOut[name]?.values ?? new Float32Array(), v.values)).toBe(true);
        }
        const H = model.hiddenSize as number;
        configs.forEach((c, i) => {
          for (const key of ['output', 'chain']) expect(adaptedOut[`k${i}.${key}`]?.shape).toEqual([ids.length, ids[0]?.length, H]);
          // Parameter count: the plugin's formula equals what the graph declares.
          const declared = [...adapted.params.values()].filter((p) => p.owner === `adapter:k${i}`).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
          const taps = c.adapter_list?.length ?? new Set([0, Math.floor((model.numLayers as number) / 2), (model.numLayers as number) - 1]).size;
          expect(declared).toBe(kadapterParamCount({ ...KADAPTER_DEFAULTS, ...c }, H, taps));
        });
        store.dispose();
      }),
      { numRuns: RUNS, seed: 42 },
    );
  });

  it('concat and sum combinations: [batch, seq, hidden]; sum = h_last + Σ chains; base outputs unchanged', () => {
    fc.assert(
      fc.property(scenario, fc.constantFrom('concat' as const, 'sum' as const), ({ model, configs, ids, pad, seed }, mode) => {
        const base = buildEncoder(model);
        const names = configs.map((_c, i) => `k${i}`);
        const adapted = attachAll(base, configs);
        const combined = combineKnowledgeAdapters(adapted, names, { mode });
        for (const n of adapted.nodes) expect(combined.node(n.id)).toEqual(n);
        const store = WeightStore.create(combined, seed);
        names.forEach((n, i) => randomizeOwner(combined, store, `adapter:${n}`, seed + i));
        const out = runValues(combined, store, feedsFor(ids, pad));
        const baseOut = runValues(base, store, feedsFor(ids, pad));
        for (const [name, v] of Object.entries(baseOut)) expect(bitEqual(out[name]?.values ?? new Float32Array(), v.values)).toBe(true);
        const H = model.hiddenSize as number;
        const cOut = out['kadapter.combined'];
        expect(cOut?.shape).toEqual([ids.length, ids[0]?.length, H]);
        const last = out['last_hidden_state']?.values as Float32Array;
        if (mode === 'sum') {
          const want = last.map((v, j) => names.reduce((s, n) => s + ((out[`${n}.chain`]?.values as Float32Array)[j] as number), v));
          cOut?.values.forEach((v, j) => expect(Math.abs(v - (want[j] as number))).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[j] as number))));
          expect([...combined.params.values()].some((p) => p.owner === 'combine:kadapter')).toBe(false);
        } else {
          // concat: one 2d → d projection per adapter, plus n·d → d when there are several.
          const params = [...combined.params.values()].filter((p) => p.owner === 'combine:kadapter');
          const expected = names.length * (2 * H * H + H) + (names.length > 1 ? names.length * H * H + H : 0);
          expect(params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0)).toBe(expected);
        }
        store.dispose();
      }),
      { numRuns: RUNS, seed: 7 },
    );
  });

  it('a tap the model does not have is a ConfigError naming adapter_list and the layer count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 5 }), fc.boolean(), (numLayers, beyond, negative) => {
        const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, intermediateSize: 8, maxPositions: 16, numLayers } satisfies Partial<EncoderConfig>);
        const bad = negative ? -numLayers - 1 - beyond : numLayers + beyond;
        const list = negative ? [bad, -1] : [0, bad];
        let error: unknown;
        try {
          withKAdapter(base, 'k', { adapter_size: 4, adapter_heads: 1, adapter_intermediate_size: 4, adapter_list: list });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const message = (error as Error).message;
        expect(message).toContain('adapter_list');
        expect(message).toContain(`${numLayers} layer${numLayers === 1 ? '' : 's'}`);
        expect(message).toContain(String(bad));
      }),
      { numRuns: 40, seed: 3 },
    );
  });

  it('rejects unsorted tap lists, mismatched rules, other modes and bad fields with errors naming the field', () => {
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, intermediateSize: 8, maxPositions: 16, numLayers: 3 });
    const small = { adapter_size: 4, adapter_heads: 1, adapter_intermediate_size: 4 };
    expect(() => withKAdapter(base, 'k', { ...small, adapter_list: [2, 1] })).toThrow(/k\.config\.adapter_list: must be strictly increasing/);
    expect(() => withKAdapter(base, 'k', { ...small, adapter_list: [0, -1] })).toThrow(/adapter_list: mixes/);
    expect(() => withKAdapter(base, 'k', { ...small, adapter_heads: 3 })).toThrow(/k\.config\.adapter_heads/);
    expect(() => withKAdapter(base, 'k', { ...small, adapter_size: 0 })).toThrow(/k\.config\.adapter_size: must be >= 1/);
    expect(() => withKAdapter(base, 'k', { ...small, bottleneck: 3 })).toThrow(/k\.config\.bottleneck: unknown field/);
    expect(() =>
      applyPlacements(base, [{ adapter: adapter(kadapter, 'k', { ...small, adapter_list: [0, 1] }), select: { glob: 'layer.*.output' }, mode: 'tap' }], registry),
    ).toThrow(/adapter_list: names 2 layer\(s\) \[0, 1\] but the placement rule tapped 3 site\(s\)/);
    expect(() => applyPlacements(base, [{ adapter: adapter(kadapter, 'k', small), select: { kinds: ['ffn'] }, mode: 'after' }], registry)).toThrow(PlacementError);
  });

  it('a custom tap rule defines the chain when adapter_list is null; presets resolve', () => {
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, intermediateSize: 8, maxPositions: 16, numLayers: 4 });
    const small = { adapter_size: 4, adapter_heads: 1, adapter_intermediate_size: 4 };
    const { graph, report } = applyPlacements(base, [{ adapter: adapter(kadapter, 'k', small), select: { glob: 'layer.*.output', layers: [1, 3] }, mode: 'tap' }], registry);
    expect(report[0]?.site).toBe('layer.1.output + layer.3.output');
    expect(graph.outputs['k.chain']).toBe('taps.adapters.k.adapter.1.residual');
    const preset = applyPlacements(base, [{ adapter: adapter(kadapter, 'p', { config: 'kadapter_small' }) }], registry);
    const catalog = preset.graph.meta['adapters'] as Record<string, { config: Record<string, unknown> }>;
    expect(catalog['p']?.config).toEqual({ ...KADAPTER_DEFAULTS, adapter_size: 128, adapter_heads: 4, adapter_intermediate_size: 512 });
    expect(preset.report[0]?.site).toBe('layer.0.output + layer.2.output + layer.3.output');
  });

  it('initialises projections N(0, 0.0002) with zero biases, inner layers N(0, 0.02), LayerNorms 1/0', () => {
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, intermediateSize: 8, maxPositions: 16, numLayers: 3 });
    const g = withKAdapter(base, 'k', { adapter_size: 4, adapter_heads: 1, adapter_intermediate_size: 4 });
    const params = [...g.params.values()].filter((p) => p.owner === 'adapter:k');
    const projections = params.filter((p) => /(down|up)_project\.weight$/.test(p.key));
    expect(projections).toHaveLength(6); // three taps: layers 0, 1, 2
    for (const p of projections) expect(p.init).toEqual({ kind: 'normal', std: 0.0002 });
    for (const p of params.filter((q) => q.kind === 'bias')) expect(p.init).toEqual({ kind: 'zeros' });
    for (const p of params.filter((q) => q.key.includes('.encoder.layer.') && q.kind === 'kernel')) expect(p.init).toEqual({ kind: 'normal', std: 0.02 });
    for (const p of params.filter((q) => q.kind === 'norm')) expect(p.init).toEqual({ kind: p.key.endsWith('.weight') ? 'ones' : 'zeros' });
    const store = WeightStore.create(g, 0);
    const down = Array.from(store.get('taps.adapters.k.adapter.0.down_project.weight').dataSync() as Float32Array);
    const std = Math.sqrt(down.reduce((a, v) => a + v * v, 0) / down.length);
    expect(std).toBeGreaterThan(0.00005);
    expect(std).toBeLessThan(0.0006);
    store.dispose();
  });

  it('combineKnowledgeAdapters validates its arguments', () => {
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, intermediateSize: 8, maxPositions: 16, numLayers: 2 });
    const g = withKAdapter(base, 'fac', { adapter_size: 4, adapter_heads: 1, adapter_intermediate_size: 4 });
    expect(() => combineKnowledgeAdapters(g, [])).toThrow(/names: needs at least one/);
    expect(() => combineKnowledgeAdapters(g, ['fac', 'fac'])).toThrow(/listed twice/);
    expect(() => combineKnowledgeAdapters(g, ['lin'])).toThrow(/names\[0\]: 'lin' is not a knowledge adapter of this graph \(knowledge adapters: fac\)/);
    expect(() => combineKnowledgeAdapters(g, ['fac'], { mode: 'max' as never })).toThrow(/mode: must be 'concat', 'sum' or 'output'/);
    const once = combineKnowledgeAdapters(g, ['fac']);
    expect(() => combineKnowledgeAdapters(once, ['fac'])).toThrow(/already has an output 'kadapter.combined'/);
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });

  it("combine 'output': the adapters' own pre-trained projections, no new parameters (one: bit for bit; two: their sum, float64 ref 1e-6)", () => {
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, intermediateSize: 8, maxPositions: 16, numLayers: 2 });
    const small = { adapter_size: 4, adapter_heads: 1, adapter_intermediate_size: 4 };
    const two = withKAdapter(withKAdapter(base, 'a', small), 'b', { ...small, adapter_list: [1] });
    const one = combineKnowledgeAdapters(two, ['a'], { mode: 'output' });
    const both = combineKnowledgeAdapters(two, ['a', 'b'], { mode: 'output', name: 'ab' });
    expect([...one.params.values()].filter((p) => p.owner.startsWith('combine:'))).toEqual([]);
    const store = WeightStore.create(both, 3);
    const feeds = { input_ids: [[1, 5, 7, 2]] };
    const got = new Executor(both, store).run(feeds, { outputs: ['ab.combined', 'a.output', 'b.output'] });
    const single = new Executor(one, store).run(feeds, { outputs: ['kadapter.combined'] });
    const [sum, a, b, s1] = [got['ab.combined'], got['a.output'], got['b.output'], single['kadapter.combined']].map((t) => Array.from((t as tf.Tensor).dataSync())) as number[][];
    expect(s1).toEqual(a);
    (sum as number[]).forEach((v, i) => expect(Math.abs(v - ((a as number[])[i] as number) - ((b as number[])[i] as number))).toBeLessThan(1e-6));
    tf.dispose([...new Set([...Object.values(got), ...Object.values(single)])] as tf.Tensor[]);
    store.dispose();
  });
});

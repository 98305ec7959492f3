// Parameter counts: 2·m·d + m + d per adapter (+ new LayerNorms, + scale), the BERT-base figure, and
// leave_out layers without parameters.
import fc from 'fast-check';
import type { Graph } from '@adapters/core-graph';
import { adapterPolicy, applyPlacements, BERT_BASE, buildEncoder, createRegistry, parameterSummary } from '@adapters/core-graph';
import { bottleneckConfig, bottleneckParamCount } from './config';
import { bottleneck, bottleneckRule } from './plugin';

const registry = createRegistry([bottleneck]);

/** Parameters owned by adapter:NAME, per site name. */
function adapterParamsBySite(graph: Graph, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of graph.params.values()) {
    if (p.owner !== `adapter:${name}`) continue;
    const site = p.key.slice(0, p.key.indexOf(`.adapters.${name}.`));
    out.set(site, (out.get(site) ?? 0) + p.shape.reduce((a, b) => a * b, 1));
  }
  return out;
}

describe('BERT-base with double_seq_bn, reduction_factor 12 (m = 64)', () => {
  test('exact trainable figure, inside Houlsby et al.’s 0.5–8% band', () => {
    const base = buildEncoder(BERT_BASE);
    const { graph, report } = applyPlacements(base, [bottleneckRule('task', 'double_seq_bn', { reduction_factor: 12 })], registry);
    // d = 768, m = 768 // 12 = 64.
    // One adapter: down 768·64 + 64, up 64·768 + 768 = 2·64·768 + 64 + 768 = 98,304 + 832 = 99,136.
    // Two per layer (attention, FFN), 12 layers: 24 · 99,136 = 2,379,264 adapter parameters.
    // adapterPolicy also trains the base LayerNorms: embeddings 2·768 + 12 layers · 2 LNs · 2·768 = 1,536 + 36,864 = 38,400.
    // Trainable: 2,379,264 + 38,400 = 2,417,664.
    // Base BERT-base (with pooler): embeddings 30,522·768 + 512·768 + 2·768 + 2·768 = 23,837,184;
    // per layer 4·(768² + 768) + 2·(768·3072) + 3072 + 768 + 2·(2·768) = 7,087,872, ·12 = 85,054,464; pooler 768² + 768 = 590,592.
    // Base total 109,482,240; adapters 2.173% of it, trainable 2.208%.
    expect(report).toHaveLength(24);
    expect(report.every((r) => r.params === 99_136)).toBe(true);
    expect(bottleneck.paramCount?.({ config: bottleneckConfig('double_seq_bn', { reduction_factor: 12 }), sites: [{ name: 'layer.0.output', layer: 0, inWidth: 768, outWidth: 768 }], width: 768, numLayers: 12 })).toEqual({ perSite: [99_136], shared: 0 });
    const adaptersOnly = parameterSummary(graph);
    expect(adaptersOnly.base).toBe(109_482_240);
    expect(adaptersOnly.trainable).toBe(2_379_264);
    const summary = parameterSummary(graph, adapterPolicy);
    expect(summary.trainable).toBe(2_417_664);
    expect(summary.trainablePercentOfBase).toBeCloseTo(2.2083, 3);
    expect(summary.trainablePercentOfBase).toBeGreaterThan(0.5);
    expect(summary.trainablePercentOfBase).toBeLessThan(8);
  });
});

const PRESETS = ['double_seq_bn', 'seq_bn', 'par_bn', 'scaled_par_bn', 'bapna_firat'] as const;

const configArb = fc.record({
  preset: fc.constantFrom(...PRESETS),
  reduction: fc.oneof(
    fc.constantFrom(1, 2, 3, 4, 8, 16, 0.5, 1.5, 64),
    fc.record({ default: fc.constantFrom(2, 4, 16), '1': fc.constantFrom(1, 3, 8) }),
  ),
  ln_before: fc.boolean(),
  ln_after: fc.boolean(),
  scaling: fc.constantFrom<number | 'learned' | 'channel'>(1, 4, 0.5, 'learned', 'channel'),
  leave_out: fc.subarray([0, 1, 2, 3]),
});

const sizesArb = fc.record({ heads: fc.integer({ min: 1, max: 4 }), headDim: fc.integer({ min: 1, max: 12 }), layers: fc.integer({ min: 1, max: 4 }) });

describe('property tests', () => {
  test('parameters per adapter = 2·m·d + m + d (+ 2d per new LayerNorm, + 1 learned / + d channel scale), m = max(1, d // rf)', () => {
    fc.assert(
      fc.property(sizesArb, configArb, ({ heads, headDim, layers }, c) => {
        const d = heads * headDim;
        const leaveOut = c.leave_out.filter((l) => l < layers);
        if (leaveOut.length === layers) return; // nothing left to place
        const overrides = { reduction_factor: c.reduction, ln_before: c.ln_before || c.preset === 'bapna_firat', ln_after: c.ln_after, scaling: c.scaling, leave_out: leaveOut };
        const config = bottleneckConfig(c.preset, overrides);
        const base = buildEncoder({ vocabSize: 11, hiddenSize: d, numHeads: heads, numLayers: layers, intermediateSize: 4, maxPositions: 8 });
        const { graph, report } = applyPlacements(base, [bottleneckRule('a', c.preset, overrides)], registry);
        const bySite = adapterParamsBySite(graph, 'a');
        for (const r of report) {
          const layer = r.layer as number;
          const rf = typeof c.reduction === 'number' ? c.reduction : ((c.reduction as Record<string, number>)[String(layer)] ?? c.reduction.default);
          const m = Math.max(1, Math.floor(d / rf + 1e-9));
          const expected = 2 * m * d + m + d + (config.ln_before ? 2 * d : 0) + (config.ln_after ? 2 * d : 0) + (c.scaling === 'learned' ? 1 : 0) + (c.scaling === 'channel' ? d : 0);
          expect(r.params).toBe(expected);
          expect(bySite.get(r.site)).toBe(expected);
          expect(bottleneckParamCount(config, d, layer)).toBe(expected);
          expect(bottleneck.paramCount?.({ config, sites: [{ name: r.site, layer, inWidth: d, outWidth: d }], width: d, numLayers: 12 })).toEqual({ perSite: [expected], shared: 0 });
        }
      }),
      { numRuns: 60, seed: 20210401 },
    );
  });

  test('leave_out layers get no parameters (default placement, and an explicit selector reaching them)', () => {
    fc.assert(
      fc.property(sizesArb, configArb, ({ heads, headDim, layers }, c) => {
        const leaveOut = c.leave_out.filter((l) => l < layers);
        if (leaveOut.length === layers) return;
        const base = buildEncoder({ vocabSize: 11, hiddenSize: heads * headDim, numHeads: heads, numLayers: layers, intermediateSize: 4, maxPositions: 8 });
        const config = bottleneckConfig(c.preset, { leave_out: leaveOut });
        const { select, mode } = bottleneck.defaultPlacement?.(config, base) ?? { select: {}, mode: 'wrap' };
        const explicit = { select: { kinds: select.kinds ?? [] }, mode }; // the same sites without the leave_out exclusion
        for (const placement of [{}, explicit]) {
          const { graph, report } = applyPlacements(base, [bottleneckRule('a', c.preset, { leave_out: leaveOut }, placement)], registry);
          const owned = [...graph.params.values()].filter((p) => p.owner === 'adapter:a');
          for (const l of leaveOut) expect(owned.filter((p) => p.layer === l)).toEqual([]);
          for (let l = 0; l < layers; l++) if (!leaveOut.includes(l)) expect(owned.some((p) => p.layer === l)).toBe(true);
          for (const r of report) expect(r.params === 0).toBe(leaveOut.includes(r.layer as number));
          for (const l of leaveOut) expect(bottleneckParamCount(config, heads * headDim, l)).toBe(0);
        }
      }),
      { numRuns: 40, seed: 1902 },
    );
  });
});

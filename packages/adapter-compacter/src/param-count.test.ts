// Parameter counts: the formula (paramCount per placement, shared parameters once) against built graphs for random
// sizes, and the BERT-base figures for Compacter and Compacter++.
import fc from 'fast-check';
import { adapterPolicy, applyPlacements, BERT_BASE, buildEncoder, createRegistry, parameterSummary } from '@adapters/core-graph';
import { compacterConfig, compacterParamCount, compacterSharedParamCount, compacterTotalParamCount } from './config';
import { compacter, compacterRule, sharedParamKeys } from './plugin';

const registry = createRegistry([compacter]);

describe('BERT-base (d = 768, 12 layers): Compacter and Compacter++ with AdapterHub defaults', () => {
  // m = 768 // 32 = 24, n = 4, r = 1. One adapter (factorised W, shared rule, biases):
  //   down 768 → 24: W_left [4, 192, 1] = 768, W_right [4, 1, 6] = 24, b = 24   →   816
  //   up   24 → 768: W_left [4, 6, 1] = 24, W_right [4, 1, 192] = 768, b = 768  → 1,560
  //   = 2r(d + m) + m + d = 2·792 + 792 = 2,376.   Shared rule [4, 4, 4] = 64, once.
  // compacter:   24 adapters (attention + FFN, 12 layers): 24·2,376 + 64 = 57,088 → 57,088 / 109,482,240 = 0.0521% of BERT-base.
  // compacter++: 12 adapters (FFN):                        12·2,376 + 64 = 28,576 → 0.0261%.
  // With adapterPolicy (+ the base LayerNorms: 2·768 + 12·2·2·768 = 38,400): 95,488 (0.0872%) and 66,976 (0.0612%).
  // (BERT-base with pooler: 109,482,240 parameters, as in the bottleneck package's count.)
  test.each([
    ['compacter', 24, 57_088, 0.052144, 95_488, 0.087218],
    ['compacter++', 12, 28_576, 0.026101, 66_976, 0.061175],
  ] as const)('%s: %i adapters, %i parameters', (preset, adapters, params, pct, withNorms, pctWithNorms) => {
    const { graph, report } = applyPlacements(buildEncoder(BERT_BASE), [compacterRule('task', preset)], registry);
    const c = compacterConfig(preset);
    expect(compacterParamCount(c, 768, 0)).toBe(2_376);
    expect(compacterSharedParamCount(c, 768)).toBe(64);
    expect(report).toHaveLength(adapters);
    // The first splice declares the shared rule; the report counts it there.
    expect(report.map((r) => r.params)).toEqual([2_376 + 64, ...Array<number>(adapters - 1).fill(2_376)]);
    const summary = parameterSummary(graph);
    expect(summary.base).toBe(109_482_240);
    expect(summary.trainable).toBe(params);
    expect(compacterTotalParamCount(c, 768, report.map((r) => r.layer))).toBe(params);
    expect(summary.trainablePercentOfBase).toBeCloseTo(pct, 5);
    const policy = parameterSummary(graph, adapterPolicy);
    expect(policy.trainable).toBe(withNorms);
    expect(policy.trainablePercentOfBase).toBeCloseTo(pctWithNorms, 5);
    expect(sharedParamKeys(graph, 'task')).toEqual(['shared.adapters.task.phm_rule']);
  });
});

const caseArb = fc
  .record({
    n: fc.constantFrom(1, 2, 4),
    heads: fc.constantFrom(1, 2),
    t: fc.integer({ min: 1, max: 4 }),
    rf: fc.constantFrom(1, 2, 4, 8),
    preset: fc.constantFrom('compacter', 'compacter++'),
    phm_rank: fc.integer({ min: 1, max: 3 }),
    factorized_phm_W: fc.boolean(),
    shared_W_phm: fc.boolean(),
    shared_phm_rule: fc.boolean(),
    factorized_phm_rule: fc.boolean(),
    phm_bias: fc.boolean(),
    ln_before: fc.boolean(),
    ln_after: fc.boolean(),
    scaling: fc.constantFrom<number | 'learned' | 'channel'>(1, 'learned', 'channel'),
    leave_out: fc.subarray([0, 2]),
  })
  .map((c) => ({ ...c, d: c.n * c.heads * c.t * 2 }));

describe('paramCount and the shared count against built graphs (random sizes)', () => {
  test('per-placement counts, the shared parameters once, the adapter total', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        fc.pre(Math.floor(c.d / c.rf) >= 1 && Math.floor(c.d / c.rf) % c.n === 0);
        const { d, n, heads, rf, preset, t: _t, ...fields } = c;
        const overrides = { ...fields, phm_dim: n, reduction_factor: rf };
        const config = compacterConfig(preset, overrides);
        const base = buildEncoder({ vocabSize: 20, hiddenSize: d, numHeads: heads, numLayers: 3, intermediateSize: 8, maxPositions: 8 });
        const { graph, report } = applyPlacements(base, [compacterRule('x', preset, overrides)], registry);
        const shared = compacterSharedParamCount(config, d);
        report.forEach((r, i) => expect(r.params).toBe(compacterParamCount(config, d, r.layer) + (i === 0 ? shared : 0)));
        const owned = [...graph.params.values()].filter((p) => p.owner === 'adapter:x');
        const total = owned.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
        expect(total).toBe(compacterTotalParamCount(config, d, report.map((r) => r.layer)));
        const sharedKeys = sharedParamKeys(graph, 'x');
        expect(sharedKeys.reduce((s, k) => s + graph.param(k).shape.reduce((a, b) => a * b, 1), 0)).toBe(shared);
        // Shared parameters have no layer; every other adapter parameter lives in one.
        for (const p of owned) expect(p.layer === undefined).toBe(sharedKeys.includes(p.key));
      }),
      { numRuns: 60, seed: 3 },
    );
  });
});

// The toy adapter other tests rely on: every mode builds, its paramCount matches what it declares,
// and the zero-init variant is an identity while the random one is not.
import { WeightStore } from '../exec/weights';
import { buildEncoder } from '../model/encoder';
import { SPLICE_MODES } from '../plugin/define-adapter';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { maxAbsDiff, runValues, toyRegistry } from './run-helpers';
import { toyAdapter, toyZeroAdapter } from './toy-adapter';

const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 1, intermediateSize: 16, maxPositions: 16 });

describe('toy adapter', () => {
  it('supports all five splice modes and declares exactly paramCount parameters per site', () => {
    expect(toyAdapter.modes).toEqual(SPLICE_MODES);
    for (const mode of SPLICE_MODES) {
      const { report } = applyPlacements(base, [{ adapter: adapter('toy', 'a', { size: 5 }), select: { kinds: ['ffn', 'attention'] }, mode }], toyRegistry());
      expect(report.length).toBeGreaterThan(0);
      for (const r of report) expect(r.params).toBe(toyAdapter.paramCount?.({ config: { size: 5, zeroInit: false }, sites: [{ name: r.site, layer: r.layer, inWidth: 8, outWidth: 8 }], width: 8, numLayers: 2 }).perSite[0]);
    }
  });

  it('isIdentityAtInit reflects zeroInit, and is true to its word', () => {
    expect(toyZeroAdapter.isIdentityAtInit?.(toyZeroAdapter.defaults)).toBe(true);
    expect(toyAdapter.isIdentityAtInit?.(toyAdapter.defaults)).toBe(false);
    for (const [plugin, same] of [['toy-zero', true], ['toy', false]] as const) {
      const { graph } = applyPlacements(base, [{ adapter: adapter(plugin, 'a'), select: { kinds: ['ffn'] }, mode: 'parallel' }], toyRegistry());
      const store = WeightStore.create(graph, 1);
      try {
        const d = maxAbsDiff(runValues(graph, store, { input_ids: [[1, 2]] })['last_hidden_state'] as Float32Array, runValues(base, store, { input_ids: [[1, 2]] })['last_hidden_state'] as Float32Array);
        expect(d === 0).toBe(same);
      } finally {
        store.dispose();
      }
    }
  });

  it('tap mode publishes the sum of the tapped exits', () => {
    const { graph } = applyPlacements(base, [{ adapter: adapter('toy', 't'), select: { kinds: ['attention', 'ffn'] }, mode: 'tap' }], toyRegistry());
    expect(graph.node(graph.outputs['t.sum'] as string).inputs).toEqual(['encoder.layer.0.attention.output.dropout', 'encoder.layer.0.output.dropout']);
  });
});

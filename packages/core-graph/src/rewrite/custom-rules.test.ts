// Custom placement rules are first-class: a user can express any site choice with a `where` predicate
// and combine it with the built-in criteria, without touching the plugin.
import { buildEncoder } from '../model/encoder';
import { toyRegistry } from '../testing/run-helpers';
import { toyAdapter } from '../testing/toy-adapter';
import type { PlacementRule } from './apply-placements';
import { applyPlacements } from './apply-placements';
import { adapter } from './composition';

describe('custom user rules', () => {
  /**
   * "Adapters only in the top half of the layers, after the FFN": the predicate sees every site and
   * the number of layers, so the rule needs no knowledge of how many layers the model has.
   */
  const topHalfAfterFfn: PlacementRule = {
    adapter: adapter(toyAdapter, 'top'),
    select: { kinds: ['ffn'], where: (site, numLayers) => site.layer !== undefined && site.layer >= numLayers / 2 },
    mode: 'after',
  };

  it.each([
    [4, ['layer.2.ffn', 'layer.3.ffn']],
    [3, ['layer.2.ffn']], // 1.5 rounds up: layer 1 is not in the top half
    [6, ['layer.3.ffn', 'layer.4.ffn', 'layer.5.ffn']],
  ])('with %i layers, exactly the top-half FFN sites get the adapter', (numLayers, expected) => {
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers, intermediateSize: 16, maxPositions: 16 });
    const { graph, report } = applyPlacements(base, [topHalfAfterFfn], toyRegistry());
    expect(report.map((r) => r.site)).toEqual(expected);
    expect(graph.splices.map((s) => [s.site, s.mode])).toEqual(expected.map((s) => [s, 'after']));
    // The adapter reads the FFN output and its switch feeds the residual add in its place.
    for (const site of expected) {
      const i = Number(site.split('.')[1]);
      expect(graph.node(`${site}.adapters.top.down`).inputs).toEqual([`encoder.layer.${i}.output.dropout`]);
      expect(graph.node(`encoder.layer.${i}.output.residual`).inputs[0]).toBe(`${site}.splice.switch`);
    }
    // No adapter parameter lives below the top half.
    const layers = [...graph.params.values()].filter((p) => p.owner === 'adapter:top').map((p) => p.layer as number);
    expect(Math.min(...layers)).toBe(Math.ceil(numLayers / 2));
  });

  it('a predicate that matches nothing is reported like any other empty selector', () => {
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16, maxPositions: 16 });
    const rule: PlacementRule = { ...topHalfAfterFfn, select: { kinds: ['ffn'], where: (s) => s.layer === 9 } };
    expect(() => applyPlacements(base, [rule], toyRegistry())).toThrow(/selector kinds=ffn where=<predicate> matches no site/);
  });
});

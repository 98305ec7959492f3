// AdapterDrop: switches let a run bypass adapter splices without rewriting the graph.
import fc from 'fast-check';
import { buildEncoder } from '../model/encoder';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { ruleSetArb, smallEncoderConfigArb, tokenIdsArb } from '../testing/arbitraries';
import { maxAbsDiff, runValues, toyRegistry, tryApply } from '../testing/run-helpers';
import { WeightStore } from './weights';

const registry = toyRegistry();

const caseArb = fc
  .record({ config: smallEncoderConfigArb(), batch: fc.integer({ min: 2, max: 3 }), seq: fc.integer({ min: 1, max: 5 }) })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      ids: tokenIdsArb(c.config.vocabSize as number, c.batch, c.seq),
      // Random (non-identity) adapters, only at sites inside a layer: only those carry a layer index.
      rules: ruleSetArb({ numLayers: c.config.numLayers as number, batch: c.batch, layerSitesOnly: true }),
    }),
  );

describe('AdapterDrop (RunOptions.skipLayers / skipAdapters)', () => {
  it('skipping every layer equals the base model exactly; skipLayers: 0 equals not skipping', () => {
    fc.assert(
      fc.property(caseArb, ({ c, ids, rules }) => {
        const base = buildEncoder(c.config);
        const result = tryApply(base, rules, registry);
        fc.pre(result !== undefined);
        const n = c.config.numLayers as number;
        const store = WeightStore.create(result.graph, 5);
        try {
          const feeds = { input_ids: ids };
          const baseOut = runValues(base, store, feeds)['last_hidden_state'] as Float32Array;
          const adapted = runValues(result.graph, store, feeds)['last_hidden_state'] as Float32Array;
          const all = runValues(result.graph, store, feeds, { skipLayers: n })['last_hidden_state'] as Float32Array;
          const listed = runValues(result.graph, store, feeds, { skipLayers: Array.from({ length: n }, (_x, i) => i) })['last_hidden_state'] as Float32Array;
          const none = runValues(result.graph, store, feeds, { skipLayers: 0 })['last_hidden_state'] as Float32Array;
          expect(maxAbsDiff(adapted, baseOut)).toBeGreaterThan(0); // the adapters do something
          expect(maxAbsDiff(all, baseOut)).toBe(0);
          expect(maxAbsDiff(listed, baseOut)).toBe(0);
          expect(maxAbsDiff(none, adapted)).toBe(0);
        } finally {
          store.dispose();
        }
      }),
      { numRuns: 20 },
    );
  });

  it('skipLayers: k bypasses exactly the splices below layer k; skipAdapters bypasses by name', () => {
    const config = { vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 3, intermediateSize: 16, maxPositions: 16 };
    const base = buildEncoder(config);
    // Adapter only in layer 2: skipping layers 0..1 must not change anything, skipping 0..2 must.
    const { graph } = applyPlacements(base, [{ adapter: adapter('toy', 'top'), select: { kinds: ['ffn'], layers: [2] }, mode: 'after' }], registry);
    const store = WeightStore.create(graph, 2);
    try {
      const feeds = { input_ids: [[1, 2, 3, 4]] };
      const out = (o = {}) => runValues(graph, store, feeds, o)['last_hidden_state'] as Float32Array;
      const baseOut = runValues(base, store, feeds)['last_hidden_state'] as Float32Array;
      expect(maxAbsDiff(out({ skipLayers: 2 }), out())).toBe(0);
      expect(maxAbsDiff(out({ skipLayers: 3 }), baseOut)).toBe(0);
      expect(maxAbsDiff(out({ skipLayers: [2] }), baseOut)).toBe(0);
      expect(maxAbsDiff(out({ skipLayers: [0, 1] }), out())).toBe(0);
      expect(maxAbsDiff(out({ skipAdapters: ['top'] }), baseOut)).toBe(0);
      expect(maxAbsDiff(out({ skipAdapters: ['other'] }), out())).toBe(0);
      expect(maxAbsDiff(out(), baseOut)).toBeGreaterThan(0);
    } finally {
      store.dispose();
    }
  });
});

// Placement rules and bad input: clear errors naming the adapter/site, nothing changed on failure; and a property of
// the encoder's prefix sites (opt-in, exit = the plain 4-input attention; declaring a site adds no node).
import { adapter, applyPlacements, buildEncoder, ConfigError, createRegistry, PlacementError, Stack, WeightStore } from '@adapters/core-graph';
import { smallEncoderConfigArb } from '@adapters/core-graph/testing';
import fc from 'fast-check';
import { ejectPrefix } from './eject';
import { prefixTuning } from './plugin';

const registry = createRegistry([prefixTuning]);
const base = () => buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 12 });

describe('placement errors', () => {
  test('a non-prefix site, a left-out layer, a composition block, an unknown leave_out layer', () => {
    const g = base();
    expect(() => applyPlacements(g, [{ adapter: adapter('prefix_tuning', 'p'), select: { kinds: ['ffn'] }, mode: 'after' }], registry)).toThrow(PlacementError);
    expect(() => applyPlacements(g, [{ adapter: adapter('prefix_tuning', 'p', { leave_out: [1] }), select: { kinds: ['prefix'] }, mode: 'after' }], registry)).toThrow(/layer 1 is in leave_out/);
    expect(() => applyPlacements(g, [{ adapter: Stack(adapter('prefix_tuning', 'p'), adapter('prefix_tuning', 'q')), select: { kinds: ['prefix'] }, mode: 'after' }], registry)).toThrow(/composition blocks/);
    expect(() => applyPlacements(g, [{ adapter: adapter('prefix_tuning', 'p', { leave_out: [5] }) }], registry)).toThrow(ConfigError);
    expect(() => applyPlacements(g, [{ adapter: adapter('prefix_tuning', 'p', { leave_out: [0, 1] }) }], registry)).toThrow(/no 'prefix' sites outside leave_out/);
  });

  test('ejecting an unknown or flat adapter is an error and leaves the store unchanged', () => {
    const { graph } = applyPlacements(base(), [{ adapter: adapter('prefix_tuning', 'p', { flat: true, prefix_length: 2 }) }], registry);
    const store = WeightStore.create(graph, 1);
    const keys = store.keys();
    expect(() => ejectPrefix(graph, store, 'nope')).toThrow(/no prefix_tuning adapter 'nope'/);
    expect(() => ejectPrefix(graph, store, 'p')).toThrow(/already flat/);
    expect(store.keys()).toEqual(keys);
    store.dispose();
  });

  test('default placement: every layer outside leave_out, the pool declared once', () => {
    const { graph, report } = applyPlacements(base(), [{ adapter: adapter('prefix_tuning', 'p', { leave_out: [0], prefix_length: 2, bottleneck_size: 3 }) }], registry);
    expect(report.map((r) => r.site)).toEqual(['layer.1.attention.self']);
    expect([...graph.params.keys()].filter((k) => k.includes('.p.')).sort()).toEqual(
      ['control_trans.0.bias', 'control_trans.0.weight', 'control_trans.2.bias', 'control_trans.2.weight', 'wte.weight'].map((l) => `shared.adapters.p.${l}`),
    );
  });
});

test('property: one opt-in prefix site per layer, its exit the plain (q, k, v, mask) attention', () => {
  fc.assert(
    fc.property(smallEncoderConfigArb({ architectures: ['bert', 'roberta'], maxLayers: 3 }), (config) => {
      const g = buildEncoder(config);
      const prefixSites = [...g.sites.values()].filter((s) => s.kind === 'prefix');
      expect(prefixSites.length).toBe(config.numLayers ?? 12);
      for (const s of prefixSites) {
        expect(s.optIn).toBe(true);
        expect(g.node(s.exit).op).toBe('attention');
        expect(g.node(s.exit).inputs.length).toBe(4);
      }
    }),
    { numRuns: 10, seed: 7 },
  );
});

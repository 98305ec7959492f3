// Properties of the rewrite engine over random small encoders and random rule sets.
import fc from 'fast-check';
import type { Graph } from '../graph/graph';
import type { EncoderConfig } from '../model/config';
import { buildEncoder } from '../model/encoder';
import { ruleSetArb, smallEncoderConfigArb } from '../testing/arbitraries';
import { toyRegistry, tryApply } from '../testing/run-helpers';
import type { PlacementRule } from './apply-placements';
import { applyPlacements } from './apply-placements';
import { adapter, Average } from './composition';
import type { SiteSelector } from './selector';
import { selectSites } from './selector';

const RUNS = { numRuns: 25 };
const registry = toyRegistry();

/** A random encoder config plus a random rule set for it. */
const caseArb = (options: { minRules?: number; maxRules?: number } = {}) =>
  smallEncoderConfigArb().chain((config) =>
    fc.record({
      config: fc.constant(config),
      rules: ruleSetArb({ numLayers: config.numLayers as number, batch: 2, ...options }),
    }),
  );

/** Ids a rule set may legitimately change: the span nodes of every site it selects (on the input graph). */
function coveredNodes(graph: Graph, rules: readonly PlacementRule[]): Set<string> {
  const covered = new Set<string>();
  for (const r of rules) for (const s of selectSites(graph, r.select as SiteSelector)) for (const id of graph.spanNodes(s)) covered.add(id);
  return covered;
}

describe('applyPlacements properties', () => {
  it('is deterministic: the same rules applied twice give equal graphs', () => {
    fc.assert(
      fc.property(caseArb(), ({ config, rules }) => {
        const base = buildEncoder(config);
        const first = tryApply(base, rules, registry);
        fc.pre(first !== undefined);
        const second = applyPlacements(buildEncoder(config), rules, registry);
        expect(second.graph.fingerprint()).toBe(first.graph.fingerprint());
        expect(second.graph.equals(first.graph)).toBe(true);
        expect(second.report).toEqual(first.report);
        // Not a tautology: the rewrite did change the graph.
        expect(first.graph.equals(base)).toBe(false);
      }),
      RUNS,
    );
  });

  it('an empty rule set returns an equal graph, and no rule set mutates its input', () => {
    fc.assert(
      fc.property(caseArb(), ({ config, rules }) => {
        const base = buildEncoder(config);
        const before = base.fingerprint();
        const nodesBefore = base.nodes.map((n) => ({ ...n, inputs: [...n.inputs] }));
        expect(applyPlacements(base, [], registry).graph.equals(buildEncoder(config))).toBe(true);
        tryApply(base, rules, registry);
        expect(base.fingerprint()).toBe(before);
        expect(base.nodes).toEqual(nodesBefore);
      }),
      RUNS,
    );
  });

  it('leaves nodes outside the selected spans untouched, except for switches spliced into their inputs', () => {
    fc.assert(
      fc.property(caseArb(), ({ config, rules }) => {
        const base = buildEncoder(config);
        const result = tryApply(base, rules, registry);
        fc.pre(result !== undefined);
        const g = result.graph;
        const covered = coveredNodes(base, rules);
        for (const n of base.nodes) {
          if (covered.has(n.id)) continue;
          expect(g.has(n.id)).toBe(true);
          const m = g.node(n.id);
          expect({ op: m.op, attrs: m.attrs, params: m.params }).toEqual({ op: n.op, attrs: n.attrs, params: n.params });
          expect(m.inputs).toHaveLength(n.inputs.length);
          m.inputs.forEach((id, i) => {
            const original = n.inputs[i] as string;
            if (id === original) return;
            // Several splices may chain: each switch's bypass (input 1) leads back to the original input.
            let cur = id;
            let hops = 0;
            while (cur !== original) {
              const sw = g.node(cur);
              expect(sw.op).toBe('switch');
              cur = sw.inputs[1] as string;
              if (++hops > 50) throw new Error(`switch chain from ${id} does not reach ${original}`);
            }
          });
        }
      }),
      RUNS,
    );
  });

  it('two rules on disjoint sites give equal graphs in either order', () => {
    fc.assert(
      fc.property(caseArb({ minRules: 2, maxRules: 2 }), ({ config, rules }) => {
        const base = buildEncoder(config);
        const [r1, r2] = rules as [PlacementRule, PlacementRule];
        const forward = tryApply(base, [r1, r2], registry);
        fc.pre(forward !== undefined);
        // Disjoint: no shared span node and no shared entry (two spans reading one entry stack in rule order).
        const nodesOf = (r: PlacementRule) => selectSites(base, r.select as SiteSelector).flatMap((s) => [...base.spanNodes(s), `entry:${s.entry}`]);
        const taken = new Set(nodesOf(r1));
        fc.pre(nodesOf(r2).every((id) => !taken.has(id)));
        const backward = applyPlacements(base, [r2, r1], registry);
        expect(backward.graph.fingerprint()).toBe(forward.graph.fingerprint());
      }),
      { numRuns: 30 },
    );
  });
});

describe('applyPlacements report and splices', () => {
  const config: Partial<EncoderConfig> = { vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16, maxPositions: 16 };

  it('records one splice and one report entry per selected site, with the parameters it declared', () => {
    const base = buildEncoder(config);
    const { graph, report } = applyPlacements(base, [{ adapter: adapter('toy', 'a', { size: 3 }), select: { kinds: ['ffn'] }, mode: 'after' }], registry);
    expect(report.map((r) => [r.site, r.mode, r.composition, r.params])).toEqual([
      ['layer.0.ffn', 'after', 'a', 8 * 3 + 3 + 3 * 8 + 8],
      ['layer.1.ffn', 'after', 'a', 8 * 3 + 3 + 3 * 8 + 8],
    ]);
    expect(graph.splices.map((s) => [s.site, s.switchNode, s.layer])).toEqual([
      ['layer.0.ffn', 'layer.0.ffn.splice.switch', 0],
      ['layer.1.ffn', 'layer.1.ffn.splice.switch', 1],
    ]);
    expect(graph.meta['adapters']).toEqual({ a: { plugin: 'toy', config: { size: 3, zeroInit: false } } });
    // Adapter parameters are owned by the adapter and tagged with their layer.
    expect(graph.param('layer.1.ffn.adapters.a.down.weight')).toMatchObject({ owner: 'adapter:a', layer: 1, shape: [8, 3], kind: 'kernel' });
  });

  it('a rule without select/mode uses the plugin default placement (wrap on every ffn)', () => {
    const { report } = applyPlacements(buildEncoder(config), [{ adapter: adapter('toy', 'a') }], registry);
    expect(report.map((r) => `${r.site}:${r.mode}`)).toEqual(['layer.0.ffn:wrap', 'layer.1.ffn:wrap']);
  });

  it('a second splice at the same site gets its own tag and stacks on the first', () => {
    const base = buildEncoder(config);
    const rule = (name: string): PlacementRule => ({ adapter: adapter('toy', name), select: { names: 'layer.0.attention' }, mode: 'after' });
    const { graph } = applyPlacements(base, [rule('a'), rule('b')], registry);
    const [first, second] = graph.splices;
    expect([first?.switchNode, second?.switchNode]).toEqual(['layer.0.attention.splice.switch', 'layer.0.attention.splice1.switch']);
    // The second adapter reads the first splice's output; the second switch's bypass is the first switch.
    expect(graph.node('layer.0.attention.adapters.b.down').inputs).toEqual(['layer.0.attention.splice.switch']);
    expect(graph.node('layer.0.attention.splice1.switch').inputs[1]).toBe('layer.0.attention.splice.switch');
  });

  it('two compositions at the same site get distinct block nodes (regression: composition.0 was reused)', () => {
    const base = buildEncoder(config);
    const avg = (p: string): PlacementRule => ({ adapter: Average(undefined, adapter('toy', `${p}1`), adapter('toy', `${p}2`)), select: { names: 'layer.0.ffn' }, mode: 'after' });
    const { graph } = applyPlacements(base, [avg('a'), avg('b')], registry);
    expect(graph.has('layer.0.ffn.composition.0.hidden')).toBe(true);
    expect(graph.has('layer.0.ffn.composition1.0.hidden')).toBe(true);
    expect(graph.node('layer.0.ffn.splice1.switch').inputs).toEqual(['layer.0.ffn.composition1.0.hidden', 'layer.0.ffn.splice.switch']);
  });

  it('tap mode adds outputs and leaves the model path alone', () => {
    const base = buildEncoder(config);
    const { graph } = applyPlacements(base, [{ adapter: adapter('toy', 't'), select: { kinds: ['output'] }, mode: 'tap' }], registry);
    expect(Object.keys(graph.outputs).filter((k) => !(k in base.outputs)).sort()).toEqual(['t.sum', 't.up']);
    expect(graph.node(graph.outputs['t.sum'] as string).inputs).toEqual(['encoder.layer.0.output.LayerNorm', 'encoder.layer.1.output.LayerNorm']);
    for (const n of base.nodes) expect(graph.node(n.id)).toEqual(n);
  });
});

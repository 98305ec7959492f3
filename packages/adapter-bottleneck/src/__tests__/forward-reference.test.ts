// Each configuration's forward pass against a float64 reference of its formula, on random weights.
import type { Graph, PlacementRule, WeightStore } from '@adapters/core-graph';
import { adapter, applyPlacements, Stack } from '@adapters/core-graph';
import { bottleneck, bottleneckRule } from '../plugin';
import { adapted, baseStore, bitEqual, FEEDS, IDS, MASK, maxAbsDiff, maxRelErr, randomizeAdapter, refConfigOf, registry, run, tinyBase } from './helpers';
import type { F64, LayerHooks } from './reference';
import { add, refBottleneck, refForward, refNewLn, scale } from './reference';

const REL_TOL = 1e-5;
const D = 32;
const site = (l: number, kind: string) => `layer.${l}.${kind}.adapters.a`;

interface Case {
  readonly title: string;
  readonly rule: PlacementRule;
  /** The formula, per layer, with the adapter weights read from the store. */
  readonly hooks: (store: WeightStore, layer: number) => LayerHooks;
}

const CASES: Case[] = [
  {
    title: 'double_seq_bn (Houlsby): attention and FFN, y = LN(f(h) + h + x)',
    rule: bottleneckRule('a', 'double_seq_bn'),
    hooks: (s, l) => {
      const fA = refBottleneck(s, site(l, 'attention'), 'swish', D);
      const fF = refBottleneck(s, site(l, 'ffn'), 'swish', D);
      return { attention: (h, x, ln) => ln(add(fA(h), h, x)), ffn: (h, x, ln) => ln(add(fF(h), h, x)) };
    },
  },
  {
    title: 'seq_bn (Pfeiffer): FFN, y = LN(f(LN(h + x)) + h + x), the layer LN used twice',
    rule: bottleneckRule('a', 'seq_bn'),
    hooks: (s, l) => {
      const f = refBottleneck(s, site(l, 'ffn'), 'relu', D);
      return { ffn: (h, x, ln) => ln(add(f(ln(add(h, x))), h, x)) };
    },
  },
  {
    title: 'bapna_firat: after each layer, y = z + f(LN_new(z))',
    rule: bottleneckRule('a', 'bapna_firat'),
    hooks: (s, l) => {
      const f = refBottleneck(s, site(l, 'output'), 'relu', D);
      const lnNew = refNewLn(s, `${site(l, 'output')}.adapter_norm_before`, D);
      return { output: (z) => add(z, f(lnNew(z))) };
    },
  },
  {
    title: 'par_bn (He et al.): parallel to the FFN, y = LN(4·f(x) + h + x)',
    rule: bottleneckRule('a', 'par_bn'),
    hooks: (s, l) => {
      const f = refBottleneck(s, site(l, 'ffn'), 'relu', D);
      return { ffn: (h, x, ln) => ln(add(scale(4, f(x)), h, x)) };
    },
  },
  {
    title: 'scaled_par_bn: y = LN(s·f(x) + h + x) with a learned scalar s',
    rule: bottleneckRule('a', 'scaled_par_bn'),
    hooks: (s, l) => {
      const f = refBottleneck(s, site(l, 'ffn'), 'relu', D);
      const k = s.get(`${site(l, 'ffn')}.scaling.scale`).dataSync()[0] as number;
      return { ffn: (h, x, ln) => ln(add(scale(k, f(x)), h, x)) };
    },
  },
  {
    title: 'par_bn in mode wrap on attention: y = LN(4·f(x) + h + x) through close',
    rule: bottleneckRule('a', 'par_bn', {}, { select: { kinds: ['attention'] }, mode: 'wrap' }),
    hooks: (s, l) => {
      const f = refBottleneck(s, site(l, 'attention'), 'relu', D);
      return { attention: (h, x, ln) => ln(add(scale(4, f(x)), h, x)) };
    },
  },
  {
    title: 'seq_bn, residual_before_ln false + ln_after + adapter_residual_before_ln, scaling 0.5, tanh, per-layer reduction, leave_out [2]',
    rule: bottleneckRule('a', 'seq_bn', {
      residual_before_ln: false, ln_after: true, adapter_residual_before_ln: true, scaling: 0.5, non_linearity: 'tanh',
      reduction_factor: { default: 8, '1': 4 }, leave_out: [2],
    }),
    hooks: (s, l) => {
      if (l === 2) return {};
      const f = refBottleneck(s, site(l, 'ffn'), 'tanh', D);
      const lnAfter = refNewLn(s, `${site(l, 'ffn')}.adapter_norm_after`, D);
      return {
        ffn: (h, x, ln) => {
          const a = ln(add(h, x));
          return ln(add(lnAfter(add(scale(0.5, f(a)), a)), x));
        },
      };
    },
  },
  {
    title: "seq_bn, residual_before_ln 'post_add': y = LN(f(LN(h + x)) + (h + x) + x)",
    rule: bottleneckRule('a', 'seq_bn', { residual_before_ln: 'post_add' }),
    hooks: (s, l) => {
      const f = refBottleneck(s, site(l, 'ffn'), 'relu', D);
      return { ffn: (h, x, ln) => ln(add(f(ln(add(h, x))), add(h, x), x)) };
    },
  },
  {
    title: "double_seq_bn, ln_before + ln_after + scaling 'channel' + gelu: y = LN(LN_a(s ⊙ f(LN_b(h))) + h + x)",
    rule: bottleneckRule('a', 'double_seq_bn', { ln_before: true, ln_after: true, scaling: 'channel', non_linearity: 'gelu' }),
    hooks: (s, l) => {
      const mk = (kind: string) => {
        const f = refBottleneck(s, site(l, kind), 'gelu', D);
        const lb = refNewLn(s, `${site(l, kind)}.adapter_norm_before`, D);
        const la = refNewLn(s, `${site(l, kind)}.adapter_norm_after`, D);
        const ch = Float64Array.from(s.get(`${site(l, kind)}.scaling.scale`).dataSync());
        return (h: F64, x: F64, ln: (v: F64) => F64) => ln(add(la(scale(ch, f(lb(h)))), h, x));
      };
      return { attention: mk('attention'), ffn: mk('ffn') };
    },
  },
];

describe('forward pass = float64 reference of the formula (random weights, 1e-5 relative)', () => {
  const base = tinyBase();
  test.each(CASES.map((c) => [c.title, c] as const))('%s', (_title, c) => {
    const graph: Graph = adapted(base, [c.rule]);
    const { store, ref } = baseStore(graph, 11);
    randomizeAdapter(graph, store, 'a', 5);
    const got = run(graph, store, FEEDS);
    const cfg = refConfigOf(graph);
    const want = refForward(cfg, ref, IDS, MASK, (l) => c.hooks(store, l));
    const plain = refForward(cfg, ref, IDS, MASK, () => ({}));
    // The adapters matter (so the comparison is not vacuous) ...
    expect(maxAbsDiff(want, plain)).toBeGreaterThan(1e-2);
    // ... and the graph computes the formula.
    expect(maxRelErr(got, want)).toBeLessThan(REL_TOL);
    store.dispose();
  });
});

describe('composition and dropout', () => {
  const base = tinyBase();

  test("Stack(a, b) of seq_bn follows AdapterHub's compose_stack: each adapter runs its own pre_forward", () => {
    const graph = applyPlacements(base, [{ adapter: Stack(adapter(bottleneck, 'a', { config: 'seq_bn' }), adapter(bottleneck, 'b', { config: 'seq_bn' })) }], registry).graph;
    const { store, ref } = baseStore(graph, 11);
    randomizeAdapter(graph, store, 'a', 5);
    randomizeAdapter(graph, store, 'b', 6);
    const want = refForward(refConfigOf(graph), ref, IDS, MASK, (l) => {
      const fa = refBottleneck(store, `layer.${l}.ffn.adapters.a`, 'relu', D);
      const fb = refBottleneck(store, `layer.${l}.ffn.adapters.b`, 'relu', D);
      return {
        ffn: (h, x, ln) => {
          const outA = add(fa(ln(add(h, x))), h); // a: input LN(h + x), residual h
          const outB = add(fb(ln(add(outA, x))), outA); // b: input LN(out_a + x), residual out_a
          return ln(add(outB, x)); // post_forward of the last adapter
        },
      };
    });
    expect(maxRelErr(run(graph, store), want)).toBeLessThan(REL_TOL);
    store.dispose();
  });

  test('dropout acts only in training mode', () => {
    const graph = adapted(base, [bottleneckRule('a', 'double_seq_bn', { dropout: 0.5 })]);
    const noDrop = adapted(base, [bottleneckRule('a', 'double_seq_bn')]);
    const { store } = baseStore(graph, 11);
    randomizeAdapter(graph, store, 'a', 5);
    expect(bitEqual(run(graph, store), run(noDrop, store))).toBe(true);
    const t1 = run(graph, store, FEEDS, { training: true, seed: 1 });
    expect(bitEqual(t1, run(graph, store, FEEDS, { training: true, seed: 1 }))).toBe(true);
    const t1base = run(noDrop, store, FEEDS, { training: true, seed: 1 });
    expect(maxAbsDiff(t1, t1base)).toBeGreaterThan(1e-3);
    store.dispose();
  });
});

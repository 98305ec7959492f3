// Compacter and Compacter++ forward passes against float64 references of their formulas, on random weights.
import type { AdapterCatalog, Graph, PlacementRule, WeightStore } from '@adapters/core-graph';
import { compacterRule } from '../plugin';
import { adapted, baseStore, FEEDS, IDS, MASK, maxRelErr, phmNodes, randomizeAdapter, refConfigOf, run, tinyBase } from './helpers';
import type { LayerHooks } from './reference';
import { add, refCompacterBranch, refForward } from './reference';

const REL_TOL = 1e-5;
const site = (l: number, kind: string) => `layer.${l}.${kind}.adapters.a`;

interface Case {
  readonly title: string;
  readonly rule: PlacementRule;
  readonly hooks: (graph: Graph, store: WeightStore, layer: number) => LayerHooks;
}

/** Houlsby protocol (double_seq_bn): y = LN(f(h) + h + x) at attention and FFN. */
const houlsby = (act: string) => (g: Graph, s: WeightStore, l: number): LayerHooks => {
  const fA = refCompacterBranch(g, s, site(l, 'attention'), act);
  const fF = refCompacterBranch(g, s, site(l, 'ffn'), act);
  return { attention: (h, x, ln) => ln(add(fA(h), h, x)), ffn: (h, x, ln) => ln(add(fF(h), h, x)) };
};

/** Pfeiffer protocol (seq_bn): y = LN(f(LN(h + x)) + h + x) at the FFN, the layer's LN used twice. */
const pfeiffer = (act: string) => (g: Graph, s: WeightStore, l: number): LayerHooks => {
  const f = refCompacterBranch(g, s, site(l, 'ffn'), act);
  return { ffn: (h, x, ln) => ln(add(f(ln(add(h, x))), h, x)) };
};

const CASES: Case[] = [
  { title: 'compacter (Houlsby placement): attention and FFN, y = LN(f(h) + h + x), f = PHM_up ∘ gelu ∘ PHM_down', rule: compacterRule('a', 'compacter', { reduction_factor: 4 }), hooks: houlsby('gelu') },
  { title: 'compacter++ (Pfeiffer placement): FFN, y = LN(f(LN(h + x)) + h + x)', rule: compacterRule('a', 'compacter++', { reduction_factor: 4 }), hooks: pfeiffer('gelu') },
  { title: 'compacter, strategy factors (x·H through the factors)', rule: compacterRule('a', 'compacter', { reduction_factor: 4, phm_strategy: 'factors' }), hooks: houlsby('gelu') },
  {
    title: 'PHM-Adapter (factorized_phm_W false), per-layer factorised rules, n = 2, no bias, relu',
    rule: compacterRule('a', 'compacter++', { reduction_factor: 2, phm_dim: 2, factorized_phm_W: false, shared_phm_rule: false, factorized_phm_rule: true, phm_bias: false, non_linearity: 'relu' }),
    hooks: pfeiffer('relu'),
  },
  {
    title: 'compacter, phm_rank 3, shared W (shared_W_phm) and shared factorised rule, strategy factors',
    rule: compacterRule('a', 'compacter', { reduction_factor: 4, phm_rank: 3, shared_W_phm: true, factorized_phm_rule: true, phm_strategy: 'factors' }),
    hooks: houlsby('gelu'),
  },
];

describe('forward pass against the float64 reference (random weights, rel. tol 1e-5)', () => {
  test.each(CASES.map((c) => [c.title, c] as const))('%s', (_title, c) => {
    const graph = adapted(tinyBase(), [c.rule]);
    const { store, ref } = baseStore(graph, 7);
    randomizeAdapter(graph, store, 'a', 99);
    // The configured strategy reaches every PHM node.
    const strategy = (graph.meta['adapters'] as AdapterCatalog)['a']?.config['phm_strategy'];
    expect(new Set(phmNodes(graph).map((n) => n.attrs['strategy']))).toEqual(new Set([strategy]));
    const got = run(graph, store, FEEDS);
    const want = refForward(refConfigOf(graph), ref, IDS, MASK, (l) => c.hooks(graph, store, l));
    const err = maxRelErr(got, want);
    if (process.env['COMPACTER_REPORT']) console.log(`${c.title}: max rel. error ${err}`);
    expect(err).toBeLessThan(REL_TOL);
    // The adapters matter: the output is far from the base model's.
    const base = tinyBase();
    const plain = run(base, baseStore(base, 7).store, FEEDS);
    expect(maxRelErr(got, plain)).toBeGreaterThan(1e-2);
    store.dispose();
  });
});

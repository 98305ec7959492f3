// mergeLora / unmergeLora: merged inference equals unmerged, merge → unmerge restores the weights to within two
// float32 roundings, and every merge that could not be undone or is ambiguous is refused with the store unchanged.
import fc from 'fast-check';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { adapter, PlacementError, Stack } from '@adapters/core-graph';
import { storeWithReferenceBase } from '@adapters/core-graph/testing';
import { adapted, maxRelErr, randomizeAdapter, read, run, setWeight, tinyBase } from './__tests__/helpers';
import { mergeLora, unmergeLora } from './merge';

const U = 2 ** -24;
const ALL_LINEAR = { attn_matrices: ['q', 'k', 'v'], intermediate_lora: true, output_lora: true };

/** Base kernels and biases of every dense layer. */
const denseKeys = (g: Graph): string[] => [...g.params.values()].filter((p) => p.owner === 'base' && /\.(query|key|value|dense)\.(weight|bias)$/.test(p.key) && !p.key.startsWith('pooler')).map((p) => p.key);
const snapshot = (g: Graph, s: WeightStore): Map<string, Float32Array> => new Map([...g.params.keys()].map((k) => [k, read(s, k)]));

describe('merge → unmerge', () => {
  const configs = [
    { name: 'LoRA all linear layers, r 3, alpha 6', config: { r: 3, alpha: 6, ...ALL_LINEAR } },
    { name: 'LoRA rsLoRA r 4 on q, v', config: { r: 4, alpha: 5, use_rslora: true } },
    { name: '(IA)3 defaults + output, alpha 1.5', config: { config: 'ia3', alpha: 1.5, output_lora: true } },
  ];
  test.each(configs.map((c) => [c.name, c] as const))('%s: merged outputs equal unmerged (rel. 1e-5); weights come back within two roundings', (_n, c) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.05, max: 0.8, noNaN: true }), (seed, scale) => {
        const graph = adapted(tinyBase(), [{ adapter: adapter('lora', 'a', c.config) }]);
        const { store } = storeWithReferenceBase(graph, seed);
        try {
          randomizeAdapter(graph, store, 'a', seed + 1, scale);
          const before = snapshot(graph, store);
          const want = run(graph, store);
          const result = mergeLora(graph, store);
          // The merged model is the base model node for node.
          expect(result.graph.nodes).toEqual(tinyBase().nodes);
          const got = run(result.graph, store);
          // Float32 sums in another order (x(W + ΔW) vs xW + x·ΔW): a few ulps through two layers.
          expect(maxRelErr(got, want)).toBeLessThan(1e-5);
          expect(unmergeLora(result, store)).toBe(graph);
          for (const k of denseKeys(graph)) {
            const w0 = before.get(k) as Float32Array;
            const w2 = read(store, k);
            const merged = result.merged.some((m) => m.kernel === k || m.bias === k);
            for (let i = 0; i < w0.length; i++) {
              if (!merged) expect(w2[i]).toBe(w0[i]);
              // Two roundings: fl(fl(W + ΔW) − ΔW) − W ≤ 2u(1 + u)(|W| + |ΔW|), fl(fl(W·d) / d) − W ≤ 2u(1 + u)|W|.
              else expect(Math.abs((w2[i] as number) - (w0[i] as number))).toBeLessThanOrEqual(2 * U * (1 + 2 * U) * (Math.abs(w0[i] as number) + maxDelta(result, k, store)));
            }
          }
          // Every non-base parameter is untouched.
          for (const [k, v] of before) if (!denseKeys(graph).includes(k)) expect(read(store, k)).toEqual(v);
          // W is back to within a few ulps, so are the outputs.
          expect(maxRelErr(run(graph, store), want)).toBeLessThan(1e-5);
        } finally {
          store.dispose();
        }
      }),
      { numRuns: 3, seed: 11 },
    );
  });
});

/** An upper bound of |ΔW| for the add merge that touched `key`: Σ_k max|A[:, k]|·max|B[k, :]|·|s|; 0 for scale (relative bound). */
function maxDelta(result: ReturnType<typeof mergeLora>, key: string, store: WeightStore): number {
  const m = result.merged.find((x) => x.kernel === key || x.bias === key);
  if (!m) return 0;
  if (m.mode === 'scale') return 0;
  const a = read(store, m.params[0] as string);
  const b = read(store, m.params[1] as string);
  const r = store.get(m.params[0] as string).shape[1] as number;
  let sum = 0;
  for (let i = 0; i < r; i++) sum += a.reduce((x, v, j) => (j % r === i ? Math.max(x, Math.abs(v)) : x), 0) * b.slice(i * (b.length / r), (i + 1) * (b.length / r)).reduce((x, v) => Math.max(x, Math.abs(v)), 0);
  return sum * Math.abs(m.scaling);
}

describe('refused merges leave the store unchanged', () => {
  const q = { kinds: ['linear'], names: ['layer.0.attention.self.query'] };
  const cases: Array<[string, () => Graph, string[] | undefined, RegExp]> = [
    ['gated LoRA', () => adapted(tinyBase(), [{ adapter: adapter('lora', 'a', { use_gating: true }) }]), undefined, /gated LoRA/],
    ['Stack of two LoRAs', () => adapted(tinyBase(), [{ adapter: Stack(adapter('lora', 'a'), adapter('lora', 'b')), select: q, mode: 'parallel' }]), ['a'], /composes Stack\(a, b\)/],
    [
      'LoRA and (IA)3 on one layer',
      () => adapted(tinyBase(), [{ adapter: adapter('lora', 'a'), select: q, mode: 'parallel' }, { adapter: adapter('lora', 'b', { config: 'ia3' }), select: q, mode: 'after' }]),
      ['a'],
      /different compositions \(add, scale\)/,
    ],
    ['unknown adapter', () => adapted(tinyBase(), [{ adapter: adapter('lora', 'a') }]), ['zzz'], /no lora adapter of that name/],
  ];
  test.each(cases)('%s', (_n, make, names, message) => {
    const graph = make();
    const { store } = storeWithReferenceBase(graph, 3);
    const before = snapshot(graph, store);
    expect(() => mergeLora(graph, store, names)).toThrow(PlacementError);
    expect(() => mergeLora(graph, store, names)).toThrow(message);
    for (const [k, v] of before) expect(read(store, k)).toEqual(v);
    store.dispose();
  });

  test('(IA)3 with a zero scale entry cannot be undone', () => {
    const graph = adapted(tinyBase(), [{ adapter: adapter('lora', 'a', { config: 'ia3' }) }]);
    const { store } = storeWithReferenceBase(graph, 3);
    const key = 'layer.1.intermediate.dense.adapters.a.lora_B.scale';
    const v = read(store, key);
    v[4] = 0;
    setWeight(store, key, v, store.get(key).shape);
    const before = snapshot(graph, store);
    expect(() => mergeLora(graph, store)).toThrow(/its scale has 0 at 4, so the merge could not be undone/);
    for (const [k, w] of before) expect(read(store, k)).toEqual(w);
    store.dispose();
  });

  test('a merge result unmerges once; merging a merged model finds nothing to merge', () => {
    const graph = adapted(tinyBase(), [{ adapter: adapter('lora', 'a') }]);
    const { store } = storeWithReferenceBase(graph, 3);
    const result = mergeLora(graph, store);
    expect(() => mergeLora(result.graph, store, ['a'])).toThrow(/no splice in the graph \(already merged\?\)/);
    unmergeLora(result, store);
    expect(() => unmergeLora(result, store)).toThrow(/already unmerged/);
    store.dispose();
  });
});

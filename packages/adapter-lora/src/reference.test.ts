// The graph against a float64 recomputation from the equations (__tests__/reference.ts) on random weights, and the
// graph's gradients of A and B against central finite differences of that float64 model.
import * as tf from '@tensorflow/tfjs';
import type { Graph, PlacementRule, WeightStore } from '@adapters/core-graph';
import { adapter, Executor, Stack } from '@adapters/core-graph';
import { compareGradients, createRefRng, numericGradient, refConfigOf, storeWithReferenceBase } from '@adapters/core-graph/testing';
import type { RefWeights } from '@adapters/core-graph/testing';
import { adapted, FEEDS, IDS, MASK, maxRelErr, randomizeAdapter, run, setWeight, tinyBase } from './__tests__/helpers';
import type { RefModule } from './__tests__/reference';
import { refLoraForward } from './__tests__/reference';
import type { LoraConfig } from './config';
import { loraScaling } from './config';

// Float32 through two post-LN layers (dot products of ≤ 20 terms, LayerNorm, softmax): the graph agrees with float64
// to ~1e-6 relative; 1e-5 leaves room for summation order and stays far below what a wrong term changes (> 1e-3).
const REL_TOL = 1e-5;

const f64 = (store: WeightStore, key: string): Float64Array => Float64Array.from(store.get(key).dataSync());

/** The float64 modules at (layer, role), read from the store, for the adapters `names` in order (a Stack when several). */
function modulesOf(graph: Graph, store: WeightStore, names: readonly string[]) {
  const catalog = graph.meta.adapters as unknown as Record<string, { config: LoraConfig }>;
  return (layer: number, role: string): RefModule[] =>
    names.flatMap((n): RefModule[] => {
      const scope = `layer.${layer}.${role}.adapters.${n}`;
      const c = catalog[n]?.config as LoraConfig;
      if (!graph.has(`${scope}.${c.composition_mode === 'add' ? 'lora_A' : 'lora_B'}`)) return [];
      const gate = graph.has(`${scope}.gate`) ? { w: f64(store, `${scope}.gate.weight`), b: f64(store, `${scope}.gate.bias`)[0] as number } : undefined;
      const common = { mode: c.composition_mode, scaling: loraScaling(c), ...(gate ? { gate } : {}) };
      return c.composition_mode === 'add'
        ? [{ ...common, r: c.r, a: f64(store, `${scope}.lora_A.weight`), b: f64(store, `${scope}.lora_B.weight`) }]
        : [{ ...common, l: f64(store, `${scope}.lora_B.scale`) }];
    });
}

const V = { kinds: ['linear'], names: ['layer.0.attention.self.value', 'layer.1.attention.self.value'] };
const CASES: Array<{ title: string; rules: PlacementRule[]; names: string[] }> = [
  { title: 'LoRA on q, k, v, intermediate and output, r 3, alpha 6', rules: [{ adapter: adapter('lora', 'a', { r: 3, alpha: 6, attn_matrices: ['q', 'k', 'v'], intermediate_lora: true, output_lora: true }) }], names: ['a'] },
  { title: 'LoRA via target_modules ["dense"] (attention output, intermediate, output), rsLoRA r 4', rules: [{ adapter: adapter('lora', 'a', { r: 4, alpha: 3, use_rslora: true, target_modules: ['dense'] }) }], names: ['a'] },
  { title: 'gated LoRA on every AdapterHub location (the gate replaces alpha/r)', rules: [{ adapter: adapter('lora', 'a', { r: 2, attn_matrices: ['q', 'k', 'v'], intermediate_lora: true, output_lora: true, use_gating: true }) }], names: ['a'] },
  { title: '(IA)³ defaults with alpha 1.7 (k, v, intermediate)', rules: [{ adapter: adapter('lora', 'a', { config: 'ia3', alpha: 1.7 }) }], names: ['a'] },
  { title: 'gated (IA)³ with output', rules: [{ adapter: adapter('lora', 'a', { config: 'ia3', output_lora: true, use_gating: true }) }], names: ['a'] },
  { title: 'Stack(a, b) of LoRAs on the values: b reads a’s h', rules: [{ adapter: Stack(adapter('lora', 'a', { r: 2, alpha: 4 }), adapter('lora', 'b', { r: 3, alpha: 1, use_gating: true })), select: V, mode: 'parallel' }], names: ['a', 'b'] },
  { title: 'Stack(a, b) of (IA)³ on the values: the scales multiply', rules: [{ adapter: Stack(adapter('lora', 'a', { config: 'ia3', alpha: 2 }), adapter('lora', 'b', { config: 'ia3' })), select: V, mode: 'after' }], names: ['a', 'b'] },
];

describe('forward pass against the float64 reference (random weights, rel. tol 1e-5)', () => {
  test.each(CASES.map((c) => [c.title, c] as const))('%s', (_t, c) => {
    const graph = adapted(tinyBase(), c.rules);
    const { store, ref } = storeWithReferenceBase(graph, 5);
    try {
      c.names.forEach((n, i) => randomizeAdapter(graph, store, n, 40 + i));
      const want = refLoraForward(refConfigOf(graph), ref, IDS, MASK, modulesOf(graph, store, c.names));
      expect(maxRelErr(run(graph, store), want)).toBeLessThan(REL_TOL);
      // The modules matter: without them the output is more than 100× the tolerance away.
      expect(maxRelErr(run(tinyBase(), store), want)).toBeGreaterThan(100 * REL_TOL);
    } finally {
      store.dispose();
    }
  });
});

describe('gradients of A and B against finite differences of the float64 model', () => {
  test('LoRA on q, v and intermediate (r 2): d(Σ w·h)/dA, dB (rel. 1e-3)', () => {
    const graph = adapted(tinyBase({ numLayers: 1 }), [{ adapter: adapter('lora', 'a', { r: 2, alpha: 3, intermediate_lora: true }) }]);
    const { store, ref } = storeWithReferenceBase(graph, 6);
    try {
      randomizeAdapter(graph, store, 'a', 7, 0.5);
      const rng = createRefRng(3);
      const out = run(graph, store);
      const w = Float64Array.from({ length: out.length }, () => rng.normal());
      const keys = ['layer.0.attention.self.value.adapters.a.lora_A.weight', 'layer.0.attention.self.value.adapters.a.lora_B.weight', 'layer.0.intermediate.dense.adapters.a.lora_A.weight', 'layer.0.intermediate.dense.adapters.a.lora_B.weight'];
      const vars = keys.map((k) => store.get(k));
      for (const v of vars) v.trainable = true;
      const wt = tf.tensor(Float32Array.from(w), [2, 6, 12]);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(new Executor(graph, store).forward(FEEDS)['last_hidden_state'] as tf.Tensor, wt)) as tf.Scalar, vars);
      wt.dispose();
      for (const key of keys) {
        const analytic = Float64Array.from((grads[store.get(key).name] as tf.Tensor).dataSync());
        const shape = store.get(key).shape;
        const x0 = f64(store, key);
        const loss = (x: Float64Array): number => {
          const mods = (layer: number, role: string) => {
            const ms = modulesOf(graph, store, ['a'])(layer, role);
            return key.startsWith(`layer.${layer}.${role}.`) ? ms.map((m) => (key.endsWith('lora_A.weight') ? { ...m, a: x } : { ...m, b: x })) : ms;
          };
          const h = refLoraForward(refConfigOf(graph), ref as RefWeights, IDS, MASK, mods);
          return h.reduce((s, v, i) => s + v * (w[i] as number), 0);
        };
        const numeric = numericGradient(loss, x0, 1e-4);
        const cmp = compareGradients(analytic, numeric);
        // float32 backward vs float64 differences: relative 1e-3 (entries near 0 compared absolutely via the 1e-8 floor).
        expect([key, shape, cmp.maxRelError < 1e-3 || cmp.maxAbsError < 1e-4]).toEqual([key, shape, true]);
      }
      tf.dispose(Object.values(grads));
    } finally {
      store.dispose();
    }
  });
});

test('setWeight helper keeps shapes (sanity for the tests above)', () => {
  const graph = adapted(tinyBase(), [{ adapter: adapter('lora', 'a') }]);
  const { store } = storeWithReferenceBase(graph, 1);
  setWeight(store, 'layer.0.attention.self.query.adapters.a.lora_B.weight', new Float32Array(8 * 12).fill(0.5), [8, 12]);
  expect(store.get('layer.0.attention.self.query.adapters.a.lora_B.weight').shape).toEqual([8, 12]);
  store.dispose();
});

// Shared rule matrices: one model-level tensor read by every PHM layer of the adapter; its gradient is the sum of
// the gradients each use contributes (checked against an untied copy and against finite differences).
import * as tf from '@tensorflow/tfjs';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { Executor, parameterSummary } from '@adapters/core-graph';
import { createRefRng, numericGradient } from '@adapters/core-graph/testing';
import { compacterRule, sharedKey } from './plugin';
import { adapted, baseStore, FEEDS, IDS, MASK, phmNodes, randomizeAdapter, refConfigOf, setWeight, tinyBase, weight64 } from './__tests__/helpers';
import { add, refCompacterBranch, refForward } from './__tests__/reference';

// d = 8, two layers; n = 2, m = 8 / 2 = 4: rule [2, 2, 2] (8 values), 2 layers × 2 sites × 2 PHM layers = 8 uses.
const SMALL = { hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16 };
const OPTIONS = { reduction_factor: 2, phm_dim: 2 };
const RULE = sharedKey('c', 'phm_rule');

function build(shared: boolean): Graph {
  return adapted(tinyBase(SMALL), [compacterRule('c', 'compacter', { ...OPTIONS, shared_phm_rule: shared })]);
}

/** Fixed random weights for the scalar loss Σ y·w over last_hidden_state [2, 6, 8]. */
const LOSS_WEIGHTS = (() => {
  const rng = createRefRng(5);
  return Float32Array.from({ length: 2 * 6 * 8 }, () => rng.normal());
})();

/** d loss / d (each key) by tfjs autodiff. */
function gradients(graph: Graph, store: WeightStore, keys: readonly string[]): Map<string, Float32Array> {
  const executor = new Executor(graph, store);
  const vars = keys.map((k) => store.get(k));
  for (const v of vars) v.trainable = true;
  const out = new Map<string, Float32Array>();
  tf.tidy(() => {
    const w = tf.tensor(LOSS_WEIGHTS, [2, 6, 8]);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(executor.forward(FEEDS)['last_hidden_state'] as tf.Tensor, w)) as tf.Scalar, vars);
    keys.forEach((k, i) => out.set(k, Float32Array.from((grads[(vars[i] as tf.Variable).name] as tf.Tensor).dataSync())));
  });
  return out;
}

function setup() {
  const tied = build(true);
  const { store, ref } = baseStore(tied, 3);
  randomizeAdapter(tied, store, 'c', 17, 0.5);
  return { tied, store, ref };
}

describe('shared_phm_rule: one rule tensor for the whole model', () => {
  test('every PHM layer reads the one model-level parameter, owned by adapter:c and counted once', () => {
    const { tied, store } = setup();
    const nodes = phmNodes(tied);
    expect(nodes).toHaveLength(8);
    expect(new Set(nodes.map((n) => n.params['phm_rule']))).toEqual(new Set([RULE]));
    const rules = [...tied.params.keys()].filter((k) => k.endsWith('phm_rule'));
    expect(rules).toEqual([RULE]);
    expect(store.keys().filter((k) => k.endsWith('phm_rule'))).toEqual([RULE]);
    const spec = tied.param(RULE);
    expect(spec).toMatchObject({ owner: 'adapter:c', shape: [2, 2, 2] });
    expect(spec.layer).toBeUndefined();
    // parameterSummary counts the 8 rule values once: 4 placements (2 layers × attention, FFN), each
    // 2r(d + m) + m + d = 2·(8 + 4) + 4 + 8 = 36, plus the rule: 4·36 + 8 = 152.
    expect(parameterSummary(tied).owners.find((o) => o.owner === 'adapter:c')?.params).toBe(4 * 36 + 8);
    store.dispose();
  });

  test('its gradient is the sum of the gradients of the 8 uses (an untied copy with equal values)', () => {
    const { tied, store } = setup();
    const untied = build(false);
    const untiedStore = baseStore(untied, 3).store;
    const rule = weight64(store, RULE);
    for (const key of untied.params.keys()) {
      if (key.endsWith('phm_rule')) setWeight(untiedStore, key, rule, [2, 2, 2]);
      else untiedStore.assign(key, store.get(key));
    }
    const perUse = [...untied.params.keys()].filter((k) => k.endsWith('.phm_rule'));
    expect(perUse).toHaveLength(8);
    const g = gradients(tied, store, [RULE]).get(RULE) as Float32Array;
    const parts = gradients(untied, untiedStore, perUse);
    const sum = new Float64Array(8);
    for (const p of parts.values()) p.forEach((v, i) => (sum[i] = (sum[i] as number) + v));
    const scale = Math.max(...Array.from(sum, Math.abs));
    for (let i = 0; i < 8; i++) expect(Math.abs((g[i] as number) - (sum[i] as number)) / scale).toBeLessThan(1e-5);
    // Every use contributes: no per-layer gradient is zero.
    for (const p of parts.values()) expect(Math.max(...Array.from(p, Math.abs))).toBeGreaterThan(1e-3 * scale);
    store.dispose();
    untiedStore.dispose();
  });

  test('its gradient matches central finite differences of the float64 reference model', () => {
    const { tied, store, ref } = setup();
    const g = gradients(tied, store, [RULE]).get(RULE) as Float32Array;
    const cfg = refConfigOf(tied);
    const site = (l: number, kind: string) => `layer.${l}.${kind}.adapters.c`;
    const loss = (rule: Float64Array): number => {
      const overrides = new Map([[RULE, rule]]);
      const y = refForward(cfg, ref, IDS, MASK, (l) => {
        const fA = refCompacterBranch(tied, store, site(l, 'attention'), 'gelu', overrides);
        const fF = refCompacterBranch(tied, store, site(l, 'ffn'), 'gelu', overrides);
        return { attention: (h, x, ln) => ln(add(fA(h), h, x)), ffn: (h, x, ln) => ln(add(fF(h), h, x)) };
      });
      return y.reduce((s, v, i) => s + v * (LOSS_WEIGHTS[i] as number), 0);
    };
    const numeric = numericGradient(loss, weight64(store, RULE), 1e-4);
    const scale = Math.max(...Array.from(numeric, Math.abs));
    expect(scale).toBeGreaterThan(1e-2);
    if (process.env['COMPACTER_REPORT']) console.log(`rule gradient vs finite differences: max |Δ| / max |g| = ${Math.max(...Array.from(g, (v, i) => Math.abs(v - (numeric[i] as number)))) / scale}`);
    for (let i = 0; i < 8; i++) expect(Math.abs((g[i] as number) - (numeric[i] as number)) / scale).toBeLessThan(2e-3);
    store.dispose();
  });

  test('after training steps: still one tensor, changed, and every layer computes with it', () => {
    const { tied, store } = setup();
    const before = weight64(store, RULE);
    const executor = new Executor(tied, store);
    const keys = [...tied.params.values()].filter((p) => p.owner === 'adapter:c').map((p) => p.key);
    const vars = keys.map((k) => store.get(k));
    for (const v of vars) v.trainable = true;
    const byName = new Map(vars.map((v) => [v.name, v]));
    const tensorsBefore = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      tf.tidy(() => {
        const w = tf.tensor(LOSS_WEIGHTS, [2, 6, 8]);
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(executor.forward(FEEDS)['last_hidden_state'] as tf.Tensor, w)) as tf.Scalar, vars);
        for (const [name, grad] of Object.entries(grads)) (byName.get(name) as tf.Variable).assign(tf.sub(byName.get(name) as tf.Variable, tf.mul(grad, 0.01)));
      });
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const after = weight64(store, RULE);
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    expect(store.keys().filter((k) => k.includes('phm_rule'))).toEqual([RULE]);
    // Every layer's PHM layers compute with the trained A_i: changing the stored rule changes each layer's adapter output.
    const outputs = (): Float32Array[] =>
      tf.tidy(() => {
        const ids = phmNodes(tied).map((n) => n.id);
        const out = executor.forward(FEEDS, { nodes: ids });
        return ids.map((id) => Float32Array.from((out[id] as tf.Tensor).dataSync()));
      });
    const o1 = outputs();
    setWeight(store, RULE, Array.from(after, (v) => 2 * v), [2, 2, 2]);
    const o2 = outputs();
    o1.forEach((v, i) => expect(v.some((x, j) => x !== (o2[i] as Float32Array)[j])).toBe(true));
    store.dispose();
  });
});

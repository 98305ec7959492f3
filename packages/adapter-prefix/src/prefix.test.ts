// The graph against a float64 recomputation of prefix tuning from the equations (plugin.ts header), central finite
// differences of that float64 model against the graph's gradients, eject equivalence and the parameter count.
import * as tf from '@tensorflow/tfjs';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { adapter, applyPlacements, buildEncoder, createRegistry, Executor, WeightStore as Store } from '@adapters/core-graph';
import { compareGradients, numericGradient } from '@adapters/core-graph/testing';
import type { PrefixTuningConfig } from './config';
import { ejectPrefix } from './eject';
import { poolScope, prefixParamCount, prefixTuning } from './plugin';

const HIDDEN = 8;
const HEADS = 2;
const LAYERS = 3;
const IDS = [[2, 5, 7, 1], [3, 9, 4, 6]];
const MASK = [[1, 1, 1, 1], [1, 1, 0, 0]];
const registry = createRegistry([prefixTuning]);

function place(config: Record<string, unknown>): { graph: Graph; store: WeightStore } {
  const base = buildEncoder({ hiddenSize: HIDDEN, numHeads: HEADS, numLayers: LAYERS, intermediateSize: 12, vocabSize: 20, maxPositions: 16 });
  const { graph } = applyPlacements(base, [{ adapter: adapter('prefix_tuning', 'p', config) }], registry);
  const store = Store.create(graph, 3);
  return { graph, store };
}

const f64 = (t: tf.Tensor): Float64Array => Float64Array.from(t.dataSync());
const read = (store: WeightStore, key: string) => f64(store.get(key));

/** a [n, k] · b [k, m] + bias, in float64. */
function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number, bias?: Float64Array): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = bias ? (bias[j] as number) : 0;
    for (let t = 0; t < k; t++) s += (a[i * k + t] as number) * (b[t * m + j] as number);
    out[i * m + j] = s;
  }
  return out;
}

interface PoolWeights { wte?: Float64Array; w0?: Float64Array; b0?: Float64Array; w2?: Float64Array; b2?: Float64Array; flat?: Float64Array }

function poolWeights(store: WeightStore, c: PrefixTuningConfig): PoolWeights {
  const s = poolScope('p');
  if (c.flat) return { flat: read(store, `${s}.control_trans.weight`) };
  return { wte: read(store, `${s}.wte.weight`), w0: read(store, `${s}.control_trans.0.weight`), b0: read(store, `${s}.control_trans.0.bias`), w2: read(store, `${s}.control_trans.2.weight`), b2: read(store, `${s}.control_trans.2.bias`) };
}

/** KV [P, L·2·hidden] = W₂ᵀ·tanh(W₁ᵀ·E + b₁) + b₂ (or the flat table). */
function refKv(w: PoolWeights, c: PrefixTuningConfig, layers: number): Float64Array {
  if (w.flat) return w.flat;
  const h = matmul(w.wte as Float64Array, w.w0 as Float64Array, c.prefix_length, HIDDEN, c.bottleneck_size, w.b0).map(Math.tanh);
  return matmul(h, w.w2 as Float64Array, c.prefix_length, c.bottleneck_size, layers * 2 * HIDDEN, w.b2);
}

/** Multi-head attention with the prefix rows prepended to k and v and the mask extended by P ones, in float64. */
/** Per-example gates on the prefix keys and values (UniPELT), or none. */
interface Gates { readonly key: readonly number[]; readonly value: readonly number[] }
function refContext(q: Float64Array, k: Float64Array, v: Float64Array, kv: Float64Array, j: number, P: number, L: number, gates?: Gates): Float64Array {
  const [B, S, dh] = [IDS.length, IDS[0]!.length, HIDDEN / HEADS];
  const out = new Float64Array(B * S * HIDDEN);
  const gate = (b: number, which: 'k' | 'v'): number => (gates ? ((which === 'k' ? gates.key : gates.value)[b] as number) : 1);
  const row = (b: number, t: number, which: 'k' | 'v', h: number, d: number): number =>
    t < P ? gate(b, which) * (kv[t * L * 2 * HIDDEN + (2 * j + (which === 'k' ? 0 : 1)) * HIDDEN + h * dh + d] as number) : ((which === 'k' ? k : v)[(b * S + t - P) * HIDDEN + h * dh + d] as number);
  for (let b = 0; b < B; b++) for (let h = 0; h < HEADS; h++) for (let i = 0; i < S; i++) {
    const scores = Array.from({ length: P + S }, (_x, t) => {
      if (t >= P && MASK[b]![t - P] === 0) return -Infinity;
      let s = 0;
      for (let d = 0; d < dh; d++) s += (q[(b * S + i) * HIDDEN + h * dh + d] as number) * row(b, t, 'k', h, d);
      return s / Math.sqrt(dh);
    });
    const max = Math.max(...scores);
    const e = scores.map((x) => Math.exp(x - max));
    const z = e.reduce((x, y) => x + y, 0);
    for (let d = 0; d < dh; d++) out[(b * S + i) * HIDDEN + h * dh + d] = e.reduce((acc, p, t) => acc + (p / z) * row(b, t, 'v', h, d), 0);
  }
  return out;
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / Math.max(1, Math.abs(b[i] as number)));
  return worst;
};

const CASES: Array<[string, Record<string, unknown>]> = [
  ['MLP (prefix 3, bottleneck 5)', { prefix_length: 3, bottleneck_size: 5 }],
  ['MLP with leave_out [1]', { prefix_length: 2, bottleneck_size: 4, leave_out: [1] }],
  ['flat (prefix 4)', { prefix_length: 4, flat: true }],
];

// Float32 dot products of ≤ 12 terms, tanh and a softmax over ≤ 8 keys: ~1e-7 relative to float64; 1e-5 leaves room
// for summation order and is far below what a misplaced row or an unextended mask changes (> 1e-2).
const REL_TOL = 1e-5;

describe('prefix attention against the float64 reference (rel. tol 1e-5)', () => {
  test.each(CASES)('%s', (_t, input) => {
    const { graph, store } = place(input);
    const c = (graph.meta.adapters!['p']!.config as unknown as PrefixTuningConfig);
    const layers = [0, 1, 2].filter((l) => !c.leave_out.includes(l));
    const w = poolWeights(store, c);
    const kv = refKv(w, c, layers.length);
    layers.forEach((layer, j) => {
      const self = `encoder.layer.${layer}.attention.self`;
      const ids = [`${self}.query`, `${self}.key`, `${self}.value`, `layer.${layer}.attention.self.adapters.p.context`];
      const r = new Executor(graph, store).run({ input_ids: IDS, attention_mask: MASK }, { outputs: [], nodes: ids });
      const [q, k, v, ctx] = ids.map((id) => f64(r[id] as tf.Tensor));
      tf.dispose(Object.values(r));
      expect(relErr(ctx as Float64Array, refContext(q as Float64Array, k as Float64Array, v as Float64Array, kv, j, c.prefix_length, layers.length))).toBeLessThan(REL_TOL);
    });
    expect(graph.has('layer.1.attention.self.adapters.p.context')).toBe(!c.leave_out.includes(1));
    store.dispose();
  });

  test('the placement report counts prefixParamCount(config, hidden, L) once, at the first prefixed layer', () => {
    for (const [, input] of CASES) {
      const base = buildEncoder({ hiddenSize: HIDDEN, numHeads: HEADS, numLayers: LAYERS, intermediateSize: 12, vocabSize: 20, maxPositions: 16 });
      const { graph, report } = applyPlacements(base, [{ adapter: adapter('prefix_tuning', 'p', input) }], registry);
      const c = (graph.meta.adapters!['p']!.config as unknown as PrefixTuningConfig);
      expect(report.reduce((n, e) => n + e.params, 0)).toBe(prefixParamCount(c, HIDDEN, LAYERS - c.leave_out.length));
      expect(report[0]!.params).toBe(prefixParamCount(c, HIDDEN, LAYERS - c.leave_out.length));
    }
    // AdapterHub's default on BERT-base: 30·768 + 768·512 + 512 + 512·(12·2·768) + 12·2·768
    expect(prefixParamCount({ prefix_length: 30, bottleneck_size: 512, flat: false } as PrefixTuningConfig, 768, 12)).toBe(9_872_384);
  });
});

describe('gated prefix (UniPELT) against the float64 reference (rel. tol 1e-5)', () => {
  // g = mean over every position (padding included) of sigmoid(x·W_g + b_g), x the layer input; keys × g₀, values × g₋₁.
  test.each([
    ['shared gate', { prefix_length: 3, bottleneck_size: 5, use_gating: true }],
    ['key and value gates', { prefix_length: 2, bottleneck_size: 4, use_gating: true, shared_gating: false, leave_out: [0] }],
  ])('%s', (_t, input) => {
    const { graph, store } = place(input);
    const c = (graph.meta['adapters'] as unknown as Record<string, { config: PrefixTuningConfig }>)['p']!.config;
    const layers = [0, 1, 2].filter((l) => !c.leave_out.includes(l));
    const kv = refKv(poolWeights(store, c), c, layers.length);
    const G = c.shared_gating ? 1 : 2;
    layers.forEach((layer, j) => {
      const self = `encoder.layer.${layer}.attention.self`;
      const x = graph.site(`layer.${layer}.attention.self`).entry;
      const ids = [`${self}.query`, `${self}.key`, `${self}.value`, `layer.${layer}.attention.self.adapters.p.context`, x];
      const r = new Executor(graph, store).run({ input_ids: IDS, attention_mask: MASK }, { outputs: [], nodes: ids });
      const [q, k, v, ctx, xs] = ids.map((id) => f64(r[id] as tf.Tensor)) as Float64Array[];
      tf.dispose(Object.values(r));
      const w = read(store, `layer.${layer}.attention.self.adapters.p.gate.weight`);
      const bias = read(store, `layer.${layer}.attention.self.adapters.p.gate.bias`);
      const [B, S] = [IDS.length, IDS[0]!.length];
      const g = Array.from({ length: B }, (_b, b) => Array.from({ length: G }, (_o, o) => {
        let sum = 0;
        for (let t = 0; t < S; t++) {
          let z = bias[o] as number;
          for (let i = 0; i < HIDDEN; i++) z += (xs![(b * S + t) * HIDDEN + i] as number) * (w[i * G + o] as number);
          sum += 1 / (1 + Math.exp(-z));
        }
        return sum / S;
      }));
      const gates = { key: g.map((x0) => x0[0] as number), value: g.map((x0) => x0[G - 1] as number) };
      expect(relErr(ctx!, refContext(q!, k!, v!, kv, j, c.prefix_length, layers.length, gates))).toBeLessThan(REL_TOL);
      // The gate changes the result: without it the reference is off.
      expect(relErr(ctx!, refContext(q!, k!, v!, kv, j, c.prefix_length, layers.length))).toBeGreaterThan(1e-4);
    });
    store.dispose();
  });

  test('prefixParamCount counts each layer\'s gate', () => {
    for (const input of [{ prefix_length: 3, bottleneck_size: 5, use_gating: true }, { prefix_length: 2, flat: true, use_gating: true, shared_gating: false }]) {
      const base = buildEncoder({ hiddenSize: HIDDEN, numHeads: HEADS, numLayers: LAYERS, intermediateSize: 12, vocabSize: 20, maxPositions: 16 });
      const { graph, report } = applyPlacements(base, [{ adapter: adapter('prefix_tuning', 'p', input) }], registry);
      const c = (graph.meta['adapters'] as unknown as Record<string, { config: PrefixTuningConfig }>)['p']!.config;
      expect(report.reduce((n, e) => n + e.params, 0)).toBe(prefixParamCount(c, HIDDEN, LAYERS));
    }
  });
});

describe('gradients against central finite differences of the float64 reference', () => {
  // The analytic gradient is float32 autodiff; differences of the float64 model with h = 1e-4 are accurate to ~1e-8,
  // so the bound (1e-4 relative per component) is float32 rounding in the backward pass, with margin.
  // Layer 0: its q, k and v do not depend on the prefix (a higher layer's do, through the layers below).
  test('d/dE of Σ R ⊙ context(layer 0), MLP prefix', () => {
    const c0 = { prefix_length: 2, bottleneck_size: 3 };
    const { graph, store } = place(c0);
    const c = (graph.meta.adapters!['p']!.config as unknown as PrefixTuningConfig);
    const self = 'encoder.layer.0.attention.self';
    const ctxId = 'layer.0.attention.self.adapters.p.context';
    const exec = new Executor(graph, store);
    const feeds = { input_ids: IDS, attention_mask: MASK };
    const r = exec.run(feeds, { outputs: [], nodes: [`${self}.query`, `${self}.key`, `${self}.value`] });
    const [q, k, v] = [`${self}.query`, `${self}.key`, `${self}.value`].map((id) => f64(r[id] as tf.Tensor)) as [Float64Array, Float64Array, Float64Array];
    tf.dispose(Object.values(r));
    const weights = Array.from({ length: q.length }, (_x, i) => Math.sin(i + 1));
    const wteKey = `${poolScope('p')}.wte.weight`;
    const w = poolWeights(store, c);
    const loss = (wte: Float64Array) => refContext(q, k, v, refKv({ ...w, wte }, c, LAYERS), 0, c.prefix_length, LAYERS).reduce((s, x, i) => s + x * (weights[i] as number), 0);
    const numeric = numericGradient(loss, w.wte as Float64Array, 1e-4);
    const wte = store.get(wteKey);
    wte.trainable = true;
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.mul(exec.forward(feeds, { outputs: [], nodes: [ctxId] })[ctxId] as tf.Tensor, tf.tensor(weights, [IDS.length, IDS[0]!.length, HIDDEN]))) as tf.Scalar, [wte]);
    const analytic = f64(grads[wte.name] as tf.Tensor);
    tf.dispose([value, ...Object.values(grads)]);
    const cmp = compareGradients(analytic, numeric);
    // Measured: 1.1e-6 relative per component.
    expect(cmp.maxRelError).toBeLessThan(1e-4);
    store.dispose();
  });
});

describe('eject to a flat prefix', () => {
  test('same outputs, MLP weights gone, config flat', () => {
    const { graph, store } = place({ prefix_length: 3, bottleneck_size: 6, leave_out: [0] });
    const feeds = { input_ids: IDS, attention_mask: MASK };
    const before = new Executor(graph, store).run(feeds, { outputs: ['last_hidden_state'] });
    const flat = ejectPrefix(graph, store, 'p');
    const after = new Executor(flat, store).run(feeds, { outputs: ['last_hidden_state'] });
    // The same float32 KV feeds the same attention: equal up to reassociation inside the MLP's matmul (none here).
    expect(relErr(f64(after['last_hidden_state'] as tf.Tensor), f64(before['last_hidden_state'] as tf.Tensor))).toBeLessThan(1e-6);
    tf.dispose([...Object.values(before), ...Object.values(after)]);
    expect(store.has(`${poolScope('p')}.wte.weight`)).toBe(false);
    expect([...flat.params.keys()].filter((k) => k.startsWith(poolScope('p')))).toEqual([`${poolScope('p')}.control_trans.weight`]);
    expect((flat.meta.adapters!['p']!.config as unknown as PrefixTuningConfig).flat).toBe(true);
    expect(() => ejectPrefix(flat, store, 'p')).toThrow(/already flat/);
    store.dispose();
  });
});

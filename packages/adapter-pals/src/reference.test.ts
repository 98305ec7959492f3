// PALs against a float64 model written from the paper's equations (Stickland & Murray 2019, sections 3–4), not from
// plugin.ts: per layer l with input h,
//   a = LN(h + SA(h)),   h' = LN(a + FFN(a) + TS(h)),   TS(h) = V^D · g(V^E · h),
//   g(z) = concat_i softmax((z W_q,i)(z W_k,i)ᵀ / √(d_s/heads)) (z W_v,i)   (masked keys excluded)
// with V^E, V^D shared by the layers. The BERT sublayers use core-graph's float64 reference primitives.
import * as tf from '@tensorflow/tfjs';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { adapter, applyPlacements, buildEncoder, createRegistry, Executor } from '@adapters/core-graph';
import type { RefBertConfig, RefWeights } from '@adapters/core-graph/testing';
import {
  compareGradients, createRefRng, numericGradient, refActivation, refAttention, refBertEmbeddings, refConfigOf, refLayerNorm, refLinear, storeWithReferenceBase,
} from '@adapters/core-graph/testing';
import { palsWidth } from './config';
import { pals } from './plugin';

const registry = createRegistry([pals]);
const IDS = [
  [2, 7, 11, 5, 19, 3],
  [2, 31, 8, 3, 0, 0],
];
const MASK = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];
const FEEDS = { input_ids: IDS, attention_mask: MASK };
const [B, S] = [2, 6];

/** One task's PALs in float64, kernels [in, out] as y = x·W + b. */
interface RefPals {
  readonly ds: number;
  readonly heads: number;
  readonly encW: Float64Array;
  readonly encB: Float64Array;
  readonly decW: Float64Array;
  readonly decB: Float64Array;
  /** Per layer: query, key, value kernels and biases. */
  readonly layers: ReadonlyArray<Readonly<Record<'qW' | 'qB' | 'kW' | 'kB' | 'vW' | 'vB', Float64Array>>>;
}

/** y = x·W + b, W stored [in, out]. */
function xw(x: Float64Array, inDim: number, outDim: number, w: Float64Array, b: Float64Array): Float64Array {
  const rows = x.length / inDim;
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b[o] as number;
      for (let i = 0; i < inDim; i++) s += (x[r * inDim + i] as number) * (w[i * outDim + o] as number);
      y[r * outDim + o] = s;
    }
  }
  return y;
}

/** TS(h) = V^D g(V^E h) for layer l. */
function refTs(p: RefPals, l: number, h: Float64Array, hidden: number, mask: Float64Array): Float64Array {
  const z = xw(h, hidden, p.ds, p.encW, p.encB);
  const w = p.layers[l] as RefPals['layers'][number];
  const q = xw(z, p.ds, p.ds, w.qW, w.qB);
  const k = xw(z, p.ds, p.ds, w.kW, w.kB);
  const v = xw(z, p.ds, p.ds, w.vW, w.vB);
  const { context } = refAttention(q, k, v, { batch: B, numHeads: p.heads, queryLen: S, keyMask: mask });
  return xw(context, p.ds, hidden, p.decW, p.decB);
}

/** The BERT encoder with PALs in every layer (the paper's eq. for BERT + PALs), last hidden state [B, S, H]. */
function refForward(config: RefBertConfig, weights: RefWeights, p: RefPals): Float64Array {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const mask = Float64Array.from(MASK.flat());
  const get = (name: string) => (weights[name] as { values: Float64Array }).values;
  let h = refBertEmbeddings(config, weights, IDS);
  for (let l = 0; l < config.numLayers; l++) {
    const pre = `encoder.layer.${l}.`;
    const lin = (x: Float64Array, name: string, inDim: number, outDim: number) => refLinear(x, inDim, outDim, get(`${pre}${name}.weight`), get(`${pre}${name}.bias`));
    const ln = (x: Float64Array, name: string) => refLayerNorm(x, H, config.layerNormEps, get(`${pre}${name}.weight`), get(`${pre}${name}.bias`));
    const { context } = refAttention(lin(h, 'attention.self.query', H, H), lin(h, 'attention.self.key', H, H), lin(h, 'attention.self.value', H, H), { batch: B, numHeads: config.numHeads, queryLen: S, keyMask: mask });
    const attnOut = lin(context, 'attention.output.dense', H, H);
    const a = ln(attnOut.map((x, i) => x + (h[i] as number)), 'attention.output.LayerNorm');
    const ffn = lin(lin(a, 'intermediate.dense', H, I).map(refActivation(config.hiddenAct)), 'output.dense', I, H);
    const ts = refTs(p, l, h, H, mask);
    h = ln(ffn.map((x, i) => x + (a[i] as number) + (ts[i] as number)), 'output.LayerNorm');
  }
  return h;
}

const f64 = (store: WeightStore, key: string) => Float64Array.from(store.get(key).dataSync());

function setRandom(graph: Graph, store: WeightStore, name: string, seed: number, scale: number): void {
  const rng = createRefRng(seed);
  for (const p of graph.params.values()) {
    if (p.owner !== `adapter:${name}`) continue;
    const n = p.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(Float32Array.from({ length: n }, () => scale * rng.normal()), [...p.shape]);
    store.assign(p.key, t);
    t.dispose();
  }
}

function refPalsOf(graph: Graph, store: WeightStore, name: string, ds: number, heads: number): RefPals {
  const numLayers = refConfigOf(graph).numLayers;
  const sh = (k: string) => f64(store, `shared.adapters.${name}.${k}`);
  const layer = (l: number) => {
    const k = (m: string, w: string) => f64(store, `layer.${l}.ffn.adapters.${name}.${m}.${w}`);
    return { qW: k('query', 'weight'), qB: k('query', 'bias'), kW: k('key', 'weight'), kB: k('key', 'bias'), vW: k('value', 'weight'), vB: k('value', 'bias') };
  };
  return { ds, heads, encW: sh('encoder.weight'), encB: sh('encoder.bias'), decW: sh('decoder.weight'), decB: sh('decoder.bias'), layers: Array.from({ length: numLayers }, (_v, l) => layer(l)) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function lastHidden(graph: Graph, store: WeightStore): Float32Array {
  const r = new Executor(graph, store).run(FEEDS, { outputs: ['last_hidden_state'] });
  const v = Float32Array.from((r['last_hidden_state'] as tf.Tensor).dataSync());
  tf.dispose(Object.values(r));
  return v;
}

// Outputs are LayerNorm outputs of size O(1): float32 rounding through 2 layers of hidden ≤ 16 sums stays below
// 1e-5; a wrong head split, a missing mask, an unshared projection or TS added after the LayerNorm moves them by > 1e-2.
const TOL = 2e-5;

describe('PALs forward equals the float64 paper model', () => {
  test.each([
    { name: 'hidden 12, 3 heads; d_s 6, 2 PAL heads', enc: { hiddenSize: 12, numHeads: 3, intermediateSize: 20 }, config: { d_s: 6, heads: 2 } },
    { name: 'hidden 16, 4 heads; default d_s (scaled, 12 heads)', enc: { hiddenSize: 16, numHeads: 4, intermediateSize: 24 }, config: {} },
  ])('$name', ({ enc, config }) => {
    const base = buildEncoder({ vocabSize: 40, numLayers: 2, maxPositions: 16, ...enc });
    const graph = applyPlacements(base, [{ adapter: adapter(pals, 't', config) }], registry).graph;
    const { store, ref } = storeWithReferenceBase(graph, 5);
    try {
      const ds = palsWidth({ d_s: (config as { d_s?: number }).d_s ?? null, heads: (config as { heads?: number }).heads ?? 12 }, enc.hiddenSize);
      setRandom(graph, store, 't', 11, 0.4);
      const want = refForward(refConfigOf(graph), ref, refPalsOf(graph, store, 't', ds, (config as { heads?: number }).heads ?? 12));
      const got = lastHidden(graph, store);
      expect(maxAbsDiff(got, want)).toBeLessThan(TOL);
      // The PALs matter: the base model alone is far from the reference.
      expect(maxAbsDiff(lastHidden(base, store), want)).toBeGreaterThan(1000 * TOL);
    } finally {
      store.dispose();
    }
  });

  test('V^E and V^D exist once per adapter (shared by the layers); query/key/value once per layer', () => {
    const graph = applyPlacements(buildEncoder({ vocabSize: 40, hiddenSize: 12, numHeads: 3, intermediateSize: 20, numLayers: 3, maxPositions: 16 }), [{ adapter: adapter(pals, 't', { d_s: 6, heads: 2 }) }], registry).graph;
    const keys = [...graph.params.values()].filter((p) => p.owner === 'adapter:t').map((p) => p.key);
    expect(keys.filter((k) => k.startsWith('shared.')).sort()).toEqual(['shared.adapters.t.decoder.bias', 'shared.adapters.t.decoder.weight', 'shared.adapters.t.encoder.bias', 'shared.adapters.t.encoder.weight']);
    expect(keys.filter((k) => !k.startsWith('shared.')).length).toBe(3 * 6);
    // Every layer's encoder/decoder node reads the same keys.
    const readers = [...graph.nodes.values()].filter((n) => n.id.endsWith('.adapters.t.encoder'));
    expect(readers.map((n) => n.params['weight'])).toEqual(['shared.adapters.t.encoder.weight', 'shared.adapters.t.encoder.weight', 'shared.adapters.t.encoder.weight']);
  });
});

describe('gradients against finite differences of the float64 paper model', () => {
  test('d(Σ w·h)/d V^E, V^D (shared: summed over layers) and a layer query kernel (rel. 1e-3)', () => {
    const base = buildEncoder({ vocabSize: 40, hiddenSize: 8, numHeads: 2, intermediateSize: 12, numLayers: 2, maxPositions: 16 });
    const graph = applyPlacements(base, [{ adapter: adapter(pals, 't', { d_s: 4, heads: 2, attention_dropout: 0 }) }], registry).graph;
    const { store, ref } = storeWithReferenceBase(graph, 6);
    try {
      setRandom(graph, store, 't', 12, 0.5);
      const rng = createRefRng(3);
      const w = Float64Array.from({ length: B * S * 8 }, () => rng.normal());
      const keys = ['shared.adapters.t.encoder.weight', 'shared.adapters.t.decoder.weight', 'shared.adapters.t.encoder.bias', 'layer.1.ffn.adapters.t.query.weight'];
      const vars = keys.map((k) => store.get(k));
      for (const v of vars) v.trainable = true;
      const wt = tf.tensor(Float32Array.from(w), [B, S, 8]);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(new Executor(graph, store).forward(FEEDS)['last_hidden_state'] as tf.Tensor, wt)) as tf.Scalar, vars);
      wt.dispose();
      value.dispose();
      const config = refConfigOf(graph);
      for (const key of keys) {
        const analytic = Float64Array.from((grads[store.get(key).name] as tf.Tensor).dataSync());
        const loss = (x: Float64Array): number => {
          const p = refPalsOf(graph, store, 't', 4, 2);
          const swapped: RefPals =
            key === 'shared.adapters.t.encoder.weight' ? { ...p, encW: x }
            : key === 'shared.adapters.t.decoder.weight' ? { ...p, decW: x }
            : key === 'shared.adapters.t.encoder.bias' ? { ...p, encB: x }
            : { ...p, layers: p.layers.map((lw, l) => (l === 1 ? { ...lw, qW: x } : lw)) };
          return refForward(config, ref, swapped).reduce((s, v, i) => s + v * (w[i] as number), 0);
        };
        const cmp = compareGradients(analytic, numericGradient(loss, f64(store, key), 1e-4));
        // float32 backward vs float64 central differences: relative 1e-3 (near-zero entries compared absolutely).
        expect([key, cmp.maxRelError < 1e-3 || cmp.maxAbsError < 1e-4]).toEqual([key, true]);
      }
      tf.dispose(Object.values(grads));
    } finally {
      store.dispose();
    }
  });
});

// The executor's K-Adapter forward pass against an independent float64 reference of the formula, written
// with core-graph's float64 helpers (refLinear, refLayerNorm, refAttention, activations, refBertForward).
import type { Graph, WeightStore } from '@adapters/core-graph';
import type { RefBertConfig } from '@adapters/core-graph/testing';
import { refActivation, refAttention, refBertForward, refLayerNorm, refLinear } from '@adapters/core-graph/testing';
import { combineKnowledgeAdapters } from './combine';
import type { KAdapterConfig } from './config';
import { KADAPTER_DEFAULTS, resolveAdapterList } from './config';
import { baseStore, FEEDS, IDS, MASK, maxRelErr, randomizeOwner, refConfigOf, runValues, SMALL, tinyBase, weight64, withKAdapter } from './__tests__/helpers';
import './index';

const REL_TOL = 1e-5;

/** x [rows, in] · W + b with W read from the store in [in, out] layout (transposed for refLinear's [out, in]). */
function linear(store: WeightStore, key: string, x: Float64Array, inDim: number, outDim: number): Float64Array {
  const w = weight64(store, `${key}.weight`);
  const t = new Float64Array(w.length);
  for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) t[o * inDim + i] = w[i * outDim + o] as number;
  return refLinear(x, inDim, outDim, t, weight64(store, `${key}.bias`));
}

const add = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v + (b[i] as number));

/** Row-wise [a ; b] for rows of widths wa and wb. */
function concatRows(a: Float64Array, wa: number, b: Float64Array, wb: number): Float64Array {
  const rows = a.length / wa;
  const out = new Float64Array(rows * (wa + wb));
  for (let r = 0; r < rows; r++) {
    out.set(a.subarray(r * wa, (r + 1) * wa), r * (wa + wb));
    out.set(b.subarray(r * wb, (r + 1) * wb), r * (wa + wb) + wa);
  }
  return out;
}

function refAdapterLayer(store: WeightStore, p: string, x: Float64Array, c: KAdapterConfig, B: number, S: number, mask: number[] | undefined): Float64Array {
  const a = c.adapter_size;
  const ln = (v: Float64Array, key: string) => refLayerNorm(v, a, c.layer_norm_eps, weight64(store, `${key}.weight`), weight64(store, `${key}.bias`));
  const q = linear(store, `${p}.attention.self.query`, x, a, a);
  const k = linear(store, `${p}.attention.self.key`, x, a, a);
  const v = linear(store, `${p}.attention.self.value`, x, a, a);
  const { context } = refAttention(q, k, v, { batch: B, numHeads: c.adapter_heads, queryLen: S, ...(mask ? { keyMask: mask } : {}) });
  const attn = ln(add(linear(store, `${p}.attention.output.dense`, context, a, a), x), `${p}.attention.output.LayerNorm`);
  const act = refActivation(c.hidden_act as RefBertConfig['hiddenAct']);
  const inter = linear(store, `${p}.intermediate.dense`, attn, a, c.adapter_intermediate_size).map(act);
  return ln(add(linear(store, `${p}.output.dense`, inter, c.adapter_intermediate_size, a), attn), `${p}.output.LayerNorm`);
}

/** The K-Adapter formula in float64: chain over the tapped layers, then W[h_last ; o_last] + b. */
function refKAdapter(graph: Graph, store: WeightStore, name: string, c: KAdapterConfig, hidden: Float64Array[]): { chain: Float64Array; output: Float64Array } {
  const H = refConfigOf(graph).hiddenSize;
  const [B, S] = [IDS.length, (IDS[0] as number[]).length];
  const mask = c.mask_padding ? MASK.flat() : undefined;
  const list = resolveAdapterList(c, refConfigOf(graph).numLayers);
  const root = `taps.adapters.${name}`;
  const before: Float64Array[] = [];
  let prev: Float64Array | undefined;
  list.forEach((layer, i) => {
    const tap = hidden[layer + 1] as Float64Array; // layerOutputs[0] is the embeddings
    const fusion = prev ? add(tap, prev) : tap;
    const p = `${root}.adapter.${i}`;
    let h = linear(store, `${p}.down_project`, fusion, H, c.adapter_size);
    for (let j = 0; j < c.adapter_transformer_layers; j++) h = refAdapterLayer(store, `${p}.encoder.layer.${j}`, h, c, B, S, mask);
    let out = add(fusion, linear(store, `${p}.up_project`, h, c.adapter_size, H));
    before.push(out);
    const k = c.adapter_skip_layers;
    const count = i + 1;
    if (k >= 1 && count % k === 0 && count > k) out = add(out, before[count - k - 1] as Float64Array);
    prev = out;
  });
  const chain = prev as Float64Array;
  const last = hidden[hidden.length - 1] as Float64Array;
  return { chain, output: linear(store, `${root}.com_dense`, concatRows(last, H, chain, H), 2 * H, H) };
}

const CASES: { title: string; config: Partial<KAdapterConfig> & Record<string, unknown>; numLayers: number }[] = [
  { title: 'default taps [0, ⌊L/2⌋, L-1], gelu, padding masked', config: { ...SMALL }, numLayers: 4 },
  { title: 'taps [0, 2], one inner layer, relu', config: { ...SMALL, adapter_list: [0, 2], adapter_transformer_layers: 1, hidden_act: 'relu' }, numLayers: 3 },
  { title: 'three taps with skip connections every layer (k = 1)', config: { ...SMALL, adapter_list: [0, 1, 2], adapter_skip_layers: 1 }, numLayers: 3 },
  { title: 'four taps, skip every 2nd layer, padding not masked (as the reference code)', config: { ...SMALL, adapter_list: [0, 1, 2, 3], adapter_skip_layers: 2, mask_padding: false }, numLayers: 4 },
  { title: 'negative tap indices, no inner layers (down → up only)', config: { ...SMALL, adapter_list: [-2, -1], adapter_transformer_layers: 0 }, numLayers: 3 },
];

describe('K-Adapter forward = float64 reference of the formula (random weights, 1e-5 relative)', () => {
  it.each(CASES)('$title', ({ config, numLayers }) => {
    const base = tinyBase({ numLayers });
    const graph = withKAdapter(base, 'k', config);
    const { store, ref } = baseStore(graph);
    randomizeOwner(graph, store, 'adapter:k', 11);
    const got = runValues(graph, store, FEEDS, { outputs: ['k.output', 'k.chain', 'last_hidden_state'] });
    const refOut = refBertForward(refConfigOf(graph), ref, IDS, MASK);
    const c = { ...KADAPTER_DEFAULTS, ...config } as KAdapterConfig;
    const want = refKAdapter(graph, store, 'k', c, refOut.layerOutputs);
    expect(maxRelErr(got['last_hidden_state']?.values ?? [], refOut.lastHidden)).toBeLessThan(REL_TOL);
    expect(maxRelErr(got['k.chain']?.values ?? [], want.chain)).toBeLessThan(REL_TOL);
    expect(maxRelErr(got['k.output']?.values ?? [], want.output)).toBeLessThan(REL_TOL);
    store.dispose();
  });

  it('concat and sum combinations of two adapters match their formulas', () => {
    const base = tinyBase();
    let graph = withKAdapter(withKAdapter(base, 'fac', { ...SMALL, adapter_list: [0, 2] }), 'lin', { ...SMALL, adapter_list: [1] });
    graph = combineKnowledgeAdapters(graph, ['fac', 'lin'], { mode: 'concat', name: 'cat' });
    graph = combineKnowledgeAdapters(graph, ['fac', 'lin'], { mode: 'sum', name: 'add' });
    const { store, ref } = baseStore(graph);
    for (const owner of ['adapter:fac', 'adapter:lin', 'combine:cat']) randomizeOwner(graph, store, owner, owner.length);
    const got = runValues(graph, store, FEEDS, { outputs: ['cat.combined', 'add.combined'] });
    const refOut = refBertForward(refConfigOf(graph), ref, IDS, MASK);
    const fac = refKAdapter(graph, store, 'fac', { ...KADAPTER_DEFAULTS, ...SMALL, adapter_list: [0, 2] }, refOut.layerOutputs);
    const lin = refKAdapter(graph, store, 'lin', { ...KADAPTER_DEFAULTS, ...SMALL, adapter_list: [1] }, refOut.layerOutputs);
    const H = 16;
    const last = refOut.lastHidden;
    const f1 = linear(store, 'combine.cat.task_dense_fac', concatRows(last, H, fac.chain, H), 2 * H, H);
    const f2 = linear(store, 'combine.cat.task_dense_lin', concatRows(last, H, lin.chain, H), 2 * H, H);
    const concat = linear(store, 'combine.cat.task_dense', concatRows(f1, H, f2, H), 2 * H, H);
    expect(maxRelErr(got['cat.combined']?.values ?? [], concat)).toBeLessThan(REL_TOL);
    expect(maxRelErr(got['add.combined']?.values ?? [], add(add(last, fac.chain), lin.chain))).toBeLessThan(REL_TOL);
    store.dispose();
  });
});

// Independent float64 references (plain loops, no tfjs) for the NICE block and for a BERT encoder with MAD-X
// adapters: embeddings → NICE → layers with a Stack of Pfeiffer (seq_bn) adapters after the FFN → heads.
import type { EncoderConfig, Graph, WeightStore } from '@adapters/core-graph';
import type { RefWeights } from '@adapters/core-graph/testing';
import { refActivation, refAttention, refBertEmbeddings, refLayerNorm, refLinear } from '@adapters/core-graph/testing';
import { refConfigOf, weight64 } from './helpers';

/** y = x·W + b with W in the store's [in, out] layout. */
export function lin64(x: ArrayLike<number>, inDim: number, outDim: number, w: ArrayLike<number>, b?: ArrayLike<number>): Float64Array {
  const rows = x.length / inDim;
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b === undefined ? 0 : (b[o] as number);
      for (let i = 0; i < inDim; i++) s += (x[r * inDim + i] as number) * (w[i * outDim + o] as number);
      y[r * outDim + o] = s;
    }
  }
  return y;
}

export interface Sub64 { w0: Float64Array; b0: Float64Array; w2: Float64Array; b2: Float64Array; hidden: number }
export interface Nice64 { d: number; F: Sub64; G: Sub64 }

const relu = (v: number): number => (v > 0 ? v : 0);

function sub64(x: Float64Array, inDim: number, outDim: number, p: Sub64, act: (v: number) => number): Float64Array {
  return lin64(lin64(x, inDim, p.hidden, p.w0, p.b0).map(act), p.hidden, outDim, p.w2, p.b2);
}

function rowsOf(x: ArrayLike<number>, d: number, f: (row: Float64Array) => Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) out.set(f(Float64Array.from({ length: d }, (_v, i) => x[r * d + i] as number)), r * d);
  return out;
}

/** o1 = e1 + F(e2); o2 = e2 + G(o1), row by row (e1 = first ⌊d/2⌋ features). */
export function niceForward64(x: ArrayLike<number>, p: Nice64, act: (v: number) => number = relu): Float64Array {
  const d1 = Math.floor(p.d / 2);
  const d2 = p.d - d1;
  return rowsOf(x, p.d, (row) => {
    const e1 = row.subarray(0, d1);
    const e2 = row.subarray(d1);
    const f = sub64(e2, d2, d1, p.F, act);
    const o1 = e1.map((v, i) => v + (f[i] as number));
    const g = sub64(o1, d1, d2, p.G, act);
    const o2 = e2.map((v, i) => v + (g[i] as number));
    return Float64Array.from([...o1, ...o2]);
  });
}

/** e2 = o2 − G(o1); e1 = o1 − F(e2). */
export function niceInverse64(y: ArrayLike<number>, p: Nice64, act: (v: number) => number = relu): Float64Array {
  const d1 = Math.floor(p.d / 2);
  const d2 = p.d - d1;
  return rowsOf(y, p.d, (row) => {
    const o1 = row.subarray(0, d1);
    const o2 = row.subarray(d1);
    const g = sub64(o1, d1, d2, p.G, act);
    const e2 = o2.map((v, i) => v - (g[i] as number));
    const f = sub64(e2, d2, d1, p.F, act);
    const e1 = o1.map((v, i) => v - (f[i] as number));
    return Float64Array.from([...e1, ...e2]);
  });
}

/** The NICE weights of language adapter `name` read from a store. */
export function nice64(store: WeightStore, name: string, d: number): Nice64 {
  const sub = (n: 'F' | 'G'): Sub64 => {
    const k = `invertible_adapters.${name}.${n}`;
    const b0 = weight64(store, `${k}.0.bias`);
    return { w0: weight64(store, `${k}.0.weight`), b0, w2: weight64(store, `${k}.2.weight`), b2: weight64(store, `${k}.2.bias`), hidden: b0.length };
  };
  return { d, F: sub('F'), G: sub('G') };
}

/** log|det A| by Gaussian elimination with partial pivoting (float64). */
export function logAbsDet(a: Float64Array, n: number): number {
  const m = Float64Array.from(a);
  let logDet = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c] as number) > Math.abs(m[p * n + c] as number)) p = r;
    if (p !== c) for (let j = 0; j < n; j++) [m[c * n + j], m[p * n + j]] = [m[p * n + j] as number, m[c * n + j] as number];
    const pivot = m[c * n + c] as number;
    logDet += Math.log(Math.abs(pivot));
    for (let r = c + 1; r < n; r++) {
      const f = (m[r * n + c] as number) / pivot;
      for (let j = c; j < n; j++) m[r * n + j] = (m[r * n + j] as number) - f * (m[c * n + j] as number);
    }
  }
  return logDet;
}

/**
 * float64 forward of a MAD-X graph: embeddings (+ NICE of `language`), each layer's FFN followed by the seq_bn
 * adapters in `stack` order (each: a = LN(h + x) with the layer's LN, h ← h + up(relu(down(a)))), then LN(h + x);
 * returns last_hidden_state and the masked-LM logits (transform, NICE inverse, tied decoder).
 */
export function refMadx(graph: Graph, store: WeightStore, ref: RefWeights, ids: number[][], mask: number[][], language: string | undefined, stack: readonly string[]): { hidden: Float64Array; mlm: Float64Array } {
  const c = graph.meta['config'] as EncoderConfig;
  const cfg = refConfigOf(graph);
  const H = c.hiddenSize;
  const B = ids.length;
  const S = ids[0]?.length ?? 0;
  const w = (k: string): Float64Array => {
    const t = ref[k];
    if (!t) throw new Error(`no reference weight ${k}`);
    return t.values;
  };
  const add = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v + (b[i] as number));
  const flatMask = Float64Array.from(mask.flat());
  let hidden = refBertEmbeddings(cfg, ref, ids);
  if (language !== undefined) hidden = niceForward64(hidden, nice64(store, language, H));
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    const hl = (x: Float64Array, n: string, i: number, o: number) => refLinear(x, i, o, w(`${p}${n}.weight`), w(`${p}${n}.bias`));
    const ln = (x: Float64Array, n: string) => refLayerNorm(x, H, c.layerNormEps, w(`${p}${n}.weight`), w(`${p}${n}.bias`));
    const q = hl(hidden, 'attention.self.query', H, H);
    const k = hl(hidden, 'attention.self.key', H, H);
    const v = hl(hidden, 'attention.self.value', H, H);
    const { context } = refAttention(q, k, v, { batch: B, numHeads: c.numHeads, queryLen: S, keyMask: flatMask });
    const x = ln(add(hl(context, 'attention.output.dense', H, H), hidden), 'attention.output.LayerNorm');
    let h = hl(hl(x, 'intermediate.dense', H, c.intermediateSize).map(refActivation(cfg.hiddenAct)), 'output.dense', c.intermediateSize, H);
    for (const name of stack) {
      const a = ln(add(h, x), 'output.LayerNorm');
      const k0 = `layer.${l}.ffn.adapters.${name}`;
      const down = weight64(store, `${k0}.adapter_down.0.bias`).length;
      const up = lin64(lin64(a, H, down, weight64(store, `${k0}.adapter_down.0.weight`), weight64(store, `${k0}.adapter_down.0.bias`)).map(relu), down, H, weight64(store, `${k0}.adapter_up.weight`), weight64(store, `${k0}.adapter_up.bias`));
      h = add(up, h);
    }
    hidden = ln(add(h, x), 'output.LayerNorm');
  }
  const t = 'heads.mlm.cls.predictions.transform';
  const transformed = refLayerNorm(
    lin64(hidden, H, H, weight64(store, `${t}.dense.weight`), weight64(store, `${t}.dense.bias`)).map(refActivation(cfg.hiddenAct)),
    H, c.layerNormEps, weight64(store, `${t}.LayerNorm.weight`), weight64(store, `${t}.LayerNorm.bias`),
  );
  const decoderIn = language === undefined ? transformed : niceInverse64(transformed, nice64(store, language, H));
  // Tied decoder: the [vocab, hidden] word-embedding table read transposed, i.e. nn.Linear layout.
  const mlm = refLinear(decoderIn, H, c.vocabSize, weight64(store, 'embeddings.word_embeddings.weight'), weight64(store, 'heads.mlm.cls.predictions.decoder.bias'));
  return { hidden, mlm };
}

// A float64 re-implementation of the BERT layer with hooks where adapters go, built from
// core-graph's independent reference functions (refLinear, refLayerNorm, refAttention, ...).
import type { WeightStore } from '@adapters/core-graph';
import type { RefBertConfig, RefWeights } from '@adapters/core-graph/testing';
import { refActivation, refAttention, refBertEmbeddings, refGelu, refLayerNorm, refLinear } from '@adapters/core-graph/testing';
import { weight64 } from './helpers';

export type F64 = Float64Array;
export type LN = (v: F64) => F64;

export interface LayerHooks {
  /** Replaces LN_att(h + x): h = attention output (before the residual), x = layer input. */
  readonly attention?: (h: F64, x: F64, ln: LN) => F64;
  /** Replaces LN_out(h + a): h = FFN output, a = attention sublayer output. */
  readonly ffn?: (h: F64, a: F64, ln: LN) => F64;
  /** Transforms the layer output z. */
  readonly output?: (z: F64) => F64;
}

export const add = (...xs: F64[]): F64 => (xs[0] as F64).map((_v, i) => xs.reduce((s, x) => s + (x[i] as number), 0));
export const scale = (s: number | F64, x: F64): F64 => x.map((v, i) => v * (typeof s === 'number' ? s : (s[i % s.length] as number)));

export function refForward(cfg: RefBertConfig, w: RefWeights, ids: number[][], mask: number[][], hooksFor: (layer: number) => LayerHooks): F64 {
  const B = ids.length;
  const S = (ids[0] as number[]).length;
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const m = Float64Array.from(mask.flat());
  let x = refBertEmbeddings(cfg, w, ids);
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    const get = (n: string): F64 => (w[`${p}${n}`] as { values: F64 }).values;
    const lin = (v: F64, n: string, i: number, o: number): F64 => refLinear(v, i, o, get(`${n}.weight`), get(`${n}.bias`));
    const lnOf = (n: string): LN => (v) => refLayerNorm(v, H, cfg.layerNormEps, get(`${n}.weight`), get(`${n}.bias`));
    const hooks = hooksFor(l);
    const q = lin(x, 'attention.self.query', H, H);
    const k = lin(x, 'attention.self.key', H, H);
    const v = lin(x, 'attention.self.value', H, H);
    const { context } = refAttention(q, k, v, { batch: B, numHeads: cfg.numHeads, queryLen: S, keyMask: m });
    const hA = lin(context, 'attention.output.dense', H, H);
    const lnA = lnOf('attention.output.LayerNorm');
    const a = hooks.attention ? hooks.attention(hA, x, lnA) : lnA(add(hA, x));
    const act = refActivation(cfg.hiddenAct);
    const hF = lin(lin(a, 'intermediate.dense', H, I).map(act), 'output.dense', I, H);
    const lnO = lnOf('output.LayerNorm');
    const z = hooks.ffn ? hooks.ffn(hF, a, lnO) : lnO(add(hF, a));
    x = hooks.output ? hooks.output(z) : z;
  }
  return x;
}

const ACTS: Record<string, (x: number) => number> = {
  relu: (x) => (x > 0 ? x : 0),
  gelu: refGelu,
  swish: (x) => x / (1 + Math.exp(-x)),
  tanh: Math.tanh,
};

/** [in, out] kernel (store layout) → [out, in] (refLinear's nn.Linear layout). */
function transpose(k: F64, inDim: number, outDim: number): F64 {
  const t = new Float64Array(k.length);
  for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) t[o * inDim + i] = k[i * outDim + o] as number;
  return t;
}

/** f(v) = W_up·act(W_down·v + b_down) + b_up with the weights of the adapter under `prefix`. */
export function refBottleneck(store: WeightStore, prefix: string, act: string, d: number): (v: F64) => F64 {
  // adapter_down is Sequential([LN,] Linear, act): the Linear is index 1 when ln_before adds a LayerNorm.
  const linear = store.has(`${prefix}.adapter_down.0.weight`) ? 'adapter_down.0' : 'adapter_down.1';
  const down = weight64(store, `${prefix}.${linear}.weight`);
  const m = down.length / d;
  const downT = transpose(down, d, m);
  const upT = transpose(weight64(store, `${prefix}.adapter_up.weight`), m, d);
  const bDown = weight64(store, `${prefix}.${linear}.bias`);
  const bUp = weight64(store, `${prefix}.adapter_up.bias`);
  const fn = ACTS[act] as (x: number) => number;
  return (v) => refLinear(refLinear(v, d, m, downT, bDown).map(fn), m, d, upT, bUp);
}

/** A LayerNorm the adapter added (eps 1e-5), with its store weights. */
export function refNewLn(store: WeightStore, key: string, d: number): LN {
  const g = weight64(store, `${key}.weight`);
  const b = weight64(store, `${key}.bias`);
  return (v) => refLayerNorm(v, d, 1e-5, g, b);
}

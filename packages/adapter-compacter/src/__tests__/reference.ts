// Float64 references written from the math with plain loops (no tfjs): the explicit Kronecker sum, the PHM
// layer, and a BERT forward pass with hooks where the Compacter goes (from core-graph's reference functions).
import type { Graph, WeightStore } from '@adapters/core-graph';
import type { RefBertConfig, RefWeights } from '@adapters/core-graph/testing';
import { refActivation, refAttention, refBertEmbeddings, refGelu, refLayerNorm, refLinear } from '@adapters/core-graph/testing';
import { weight64 } from './helpers';

export type F64 = Float64Array;

/** A ⊗ B for A [p × q] and B [r × s], row-major: (A ⊗ B)[i·r + k, j·s + l] = A[i, j]·B[k, l]. */
export function refKron(A: ArrayLike<number>, p: number, q: number, B: ArrayLike<number>, r: number, s: number): F64 {
  const out = new Float64Array(p * r * q * s);
  const cols = q * s;
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < q; j++) {
      const aij = A[i * q + j] as number;
      for (let k = 0; k < r; k++) for (let l = 0; l < s; l++) out[(i * r + k) * cols + j * s + l] = aij * (B[k * s + l] as number);
    }
  }
  return out;
}

/** Batched product L [n, p, r] · R [n, r, q] → [n, p, q]. */
export function refBmm(L: ArrayLike<number>, R: ArrayLike<number>, n: number, p: number, r: number, q: number): F64 {
  const out = new Float64Array(n * p * q);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < p; a++) {
      for (let c = 0; c < q; c++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += (L[(i * p + a) * r + k] as number) * (R[(i * r + k) * q + c] as number);
        out[(i * p + a) * q + c] = s;
      }
    }
  }
  return out;
}

/** H = Σ_i rule[i] ⊗ W[i] for rule [n, n, n] and W [n, a, b]: [n·a, n·b], summing explicit Kronecker products. */
export function refKroneckerSum(rule: ArrayLike<number>, W: ArrayLike<number>, n: number, a: number, b: number): F64 {
  const H = new Float64Array(n * a * n * b);
  const ruleArr = Array.from(rule);
  const wArr = Array.from(W);
  for (let i = 0; i < n; i++) {
    const k = refKron(ruleArr.slice(i * n * n, (i + 1) * n * n), n, n, wArr.slice(i * a * b, (i + 1) * a * b), a, b);
    for (let j = 0; j < H.length; j++) H[j] = (H[j] as number) + (k[j] as number);
  }
  return H;
}

/** y = x·H + bias for x [rows × k], H [k × d]. */
export function refMatVec(x: ArrayLike<number>, H: ArrayLike<number>, k: number, d: number, bias?: ArrayLike<number>): F64 {
  const rows = x.length / k;
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < d; c++) {
      let s = bias === undefined ? 0 : (bias[c] as number);
      for (let i = 0; i < k; i++) s += (x[r * k + i] as number) * (H[i * d + c] as number);
      y[r * d + c] = s;
    }
  }
  return y;
}

/** Values of a PHM layer's parameters, in AdapterHub's layout. */
export interface RefPhmParams {
  readonly n: number;
  readonly rule?: ArrayLike<number>;
  readonly ruleLeft?: ArrayLike<number>;
  readonly ruleRight?: ArrayLike<number>;
  readonly W?: ArrayLike<number>;
  readonly WLeft?: ArrayLike<number>;
  readonly WRight?: ArrayLike<number>;
  readonly rank?: number;
  readonly a: number;
  readonly b: number;
  readonly bias?: ArrayLike<number>;
}

/** The PHM layer's H [n·a, n·b] from its (possibly factorised) parameters. */
export function refPhmMatrix(p: RefPhmParams): F64 {
  const { n, a, b } = p;
  const rule = p.rule ?? refBmm(p.ruleLeft as ArrayLike<number>, p.ruleRight as ArrayLike<number>, n, n, 1, n);
  const W = p.W ?? refBmm(p.WLeft as ArrayLike<number>, p.WRight as ArrayLike<number>, n, a, p.rank as number, b);
  return refKroneckerSum(rule, W, n, a, b);
}

export function refPhm(x: ArrayLike<number>, p: RefPhmParams): F64 {
  return refMatVec(x, refPhmMatrix(p), p.n * p.a, p.n * p.b, p.bias);
}

/** The parameters of the graph's PHM node `id`, read from the store (shared ones through the node's refs). */
export function phmParamsOf(graph: Graph, store: WeightStore, id: string, overrides?: ReadonlyMap<string, ArrayLike<number>>): RefPhmParams {
  const node = graph.node(id);
  const get = (local: string): F64 | undefined => {
    const key = node.params[local];
    if (key === undefined) return undefined;
    const o = overrides?.get(key);
    return o === undefined ? weight64(store, key) : Float64Array.from(o);
  };
  const shape = (local: string): readonly number[] => graph.param(node.params[local] as string).shape;
  const wKey = node.params['W'] !== undefined ? 'W' : 'W_left';
  const [n, a] = shape(wKey) as [number, number, number];
  const b = node.params['W'] !== undefined ? (shape('W')[2] as number) : (shape('W_right')[2] as number);
  const optional = <K extends string>(k: K, v: F64 | undefined): Partial<Record<K, F64>> => (v === undefined ? {} : ({ [k]: v } as Record<K, F64>));
  return {
    n, a, b,
    ...optional('rule', get('phm_rule')),
    ...optional('ruleLeft', get('phm_rule_left')),
    ...optional('ruleRight', get('phm_rule_right')),
    ...optional('W', get('W')),
    ...optional('WLeft', get('W_left')),
    ...optional('WRight', get('W_right')),
    ...(node.params['W_left'] === undefined ? {} : { rank: shape('W_left')[2] as number }),
    ...optional('bias', get('b')),
  };
}

export interface LayerHooks {
  /** Replaces LN_att(h + x): h = attention output (before the residual), x = layer input. */
  readonly attention?: (h: F64, x: F64, ln: (v: F64) => F64) => F64;
  /** Replaces LN_out(h + a): h = FFN output, a = attention sublayer output. */
  readonly ffn?: (h: F64, a: F64, ln: (v: F64) => F64) => F64;
}

export const add = (...xs: F64[]): F64 => (xs[0] as F64).map((_v, i) => xs.reduce((s, x) => s + (x[i] as number), 0));

/** The post-LN BERT encoder in float64 with adapter hooks at the attention and FFN sublayers. */
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
    const lnOf = (n: string) => (v: F64): F64 => refLayerNorm(v, H, cfg.layerNormEps, get(`${n}.weight`), get(`${n}.bias`));
    const hooks = hooksFor(l);
    const q = lin(x, 'attention.self.query', H, H);
    const k = lin(x, 'attention.self.key', H, H);
    const v = lin(x, 'attention.self.value', H, H);
    const { context } = refAttention(q, k, v, { batch: B, numHeads: cfg.numHeads, queryLen: S, keyMask: m });
    const hA = lin(context, 'attention.output.dense', H, H);
    const lnA = lnOf('attention.output.LayerNorm');
    const a = hooks.attention ? hooks.attention(hA, x, lnA) : lnA(add(hA, x));
    const hF = lin(lin(a, 'intermediate.dense', H, I).map(refActivation(cfg.hiddenAct)), 'output.dense', I, H);
    const lnO = lnOf('output.LayerNorm');
    x = hooks.ffn ? hooks.ffn(hF, a, lnO) : lnO(add(hF, a));
  }
  return x;
}

const ACTS: Record<string, (x: number) => number> = {
  relu: (x) => (x > 0 ? x : 0),
  gelu: refGelu,
  swish: (x) => x / (1 + Math.exp(-x)),
  tanh: Math.tanh,
};

/** f(v) = up(act(down(v))) with the adapter's PHM layers under `prefix` (`adapter_down.0` and `adapter_up`); `overrides` replaces weights by key. */
export function refCompacterBranch(graph: Graph, store: WeightStore, prefix: string, act: string, overrides?: ReadonlyMap<string, ArrayLike<number>>): (v: F64) => F64 {
  const down = phmParamsOf(graph, store, `${prefix}.adapter_down.0`, overrides);
  const up = phmParamsOf(graph, store, `${prefix}.adapter_up`, overrides);
  const fn = ACTS[act] as (x: number) => number;
  return (v) => refPhm(refPhm(v, down).map(fn), up);
}

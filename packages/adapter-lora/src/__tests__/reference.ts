// A float64 forward pass of a BERT encoder with LoRA / (IA)³ on its dense layers, written from the equations
// (AdapterHub's LoRA and IA3 modules), independent of the graph: base weights in Hugging Face layout ([out, in]),
// adapter weights in ours (A [in, r], B [r, out], l [1, out], gate W_g [in, 1], b_g [1]).
import type { RefBertConfig, RefTensor, RefWeights } from '@adapters/core-graph/testing';
import { refActivation, refAttention, refBertEmbeddings, refLayerNorm, refLinear } from '@adapters/core-graph/testing';

/** One module on one dense layer, float64 values in our layout. */
export interface RefModule {
  readonly mode: 'add' | 'scale';
  /** add: alpha/r; scale: alpha (ignored with a gate). */
  readonly scaling: number;
  readonly a?: Float64Array;
  readonly b?: Float64Array;
  readonly l?: Float64Array;
  readonly r?: number;
  readonly gate?: { readonly w: Float64Array; readonly b: number };
}

/** g[batch] = mean over positions of sigmoid(x·W_g + b_g) (AdapterHub averages padded positions too). */
function refGate(x: Float64Array, batch: number, seq: number, inDim: number, gate: NonNullable<RefModule['gate']>): Float64Array {
  const g = new Float64Array(batch);
  for (let bi = 0; bi < batch; bi++) {
    let s = 0;
    for (let t = 0; t < seq; t++) {
      let z = gate.b;
      for (let i = 0; i < inDim; i++) z += (x[(bi * seq + t) * inDim + i] as number) * (gate.w[i] as number);
      s += 1 / (1 + Math.exp(-z));
    }
    g[bi] = s / seq;
  }
  return g;
}

/**
 * y = x·W + b, then the modules (a Stack when several: each reads the previous one's h, the gates read x):
 * add: h₀ = x, hᵢ = fᵢ·hᵢ₋₁·Aᵢ·Bᵢ, y + h_n;  scale: y ⊙ Πᵢ fᵢ·lᵢ;  fᵢ = gate gᵢ or the scaling.
 */
export function refAdaptedLinear(x: Float64Array, batch: number, seq: number, inDim: number, outDim: number, w: Float64Array, bias: Float64Array, modules: readonly RefModule[] = []): Float64Array {
  const y = refLinear(x, inDim, outDim, w, bias);
  if (modules.length === 0) return y;
  const rows = batch * seq;
  const add = modules[0]?.mode === 'add';
  let h: Float64Array = add ? x : new Float64Array(rows * outDim).fill(1);
  for (const m of modules) {
    const g = m.gate ? refGate(x, batch, seq, inDim, m.gate) : undefined;
    const next = new Float64Array(rows * outDim);
    for (let row = 0; row < rows; row++) {
      const factor = g ? (g[Math.floor(row / seq)] as number) : m.scaling;
      if (m.mode === 'add') {
        const r = m.r as number;
        const xa = new Float64Array(r);
        for (let k = 0; k < r; k++) for (let i = 0; i < inDim; i++) xa[k] = (xa[k] as number) + (h[row * inDim + i] as number) * ((m.a as Float64Array)[i * r + k] as number);
        for (let o = 0; o < outDim; o++) {
          let v = 0;
          for (let k = 0; k < r; k++) v += (xa[k] as number) * ((m.b as Float64Array)[k * outDim + o] as number);
          next[row * outDim + o] = factor * v;
        }
      } else {
        for (let o = 0; o < outDim; o++) next[row * outDim + o] = (h[row * outDim + o] as number) * ((m.l as Float64Array)[o] as number) * factor;
      }
    }
    h = next;
  }
  return add ? y.map((v, i) => v + (h[i] as number)) : y.map((v, i) => v * (h[i] as number));
}

/** last_hidden_state [B, S, H] with `modules[layer][role]` on the dense layers (roles as the linear sites: `attention.self.query`, ...). */
export function refLoraForward(config: RefBertConfig, weights: RefWeights, ids: number[][], mask: number[][], modules: (layer: number, role: string) => readonly RefModule[]): Float64Array {
  const B = ids.length;
  const S = ids[0]?.length ?? 0;
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const m = Float64Array.from(mask.flat());
  const get = (k: string): Float64Array => (weights[k] as RefTensor).values;
  let hidden = refBertEmbeddings(config, weights, ids);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    const lin = (x: Float64Array, role: string, inDim: number, outDim: number) => refAdaptedLinear(x, B, S, inDim, outDim, get(`${p}${role}.weight`), get(`${p}${role}.bias`), modules(l, role));
    const ln = (x: Float64Array, name: string) => refLayerNorm(x, H, config.layerNormEps, get(`${p}${name}.weight`), get(`${p}${name}.bias`));
    const add = (a: Float64Array, b: Float64Array) => a.map((v, i) => v + (b[i] as number));
    const q = lin(hidden, 'attention.self.query', H, H);
    const k = lin(hidden, 'attention.self.key', H, H);
    const v = lin(hidden, 'attention.self.value', H, H);
    const { context } = refAttention(q, k, v, { batch: B, numHeads: config.numHeads, queryLen: S, keyMask: m });
    const a = ln(add(lin(context, 'attention.output.dense', H, H), hidden), 'attention.output.LayerNorm');
    const inter = lin(a, 'intermediate.dense', H, I).map(refActivation(config.hiddenAct));
    hidden = ln(add(lin(inter, 'output.dense', I, H), a), 'output.LayerNorm');
  }
  return hidden;
}

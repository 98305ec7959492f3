// Independent float64 reference for a post-LN BERT/RoBERTa encoder, written from the math with
// plain loops (no tfjs) so executor tests compare against something that shares no code with it.
import { refErfc } from './ref-erf';
import { createRefRng } from './ref-rng';

export { refErf, refErfc } from './ref-erf';
export { createRefRng, type RefRng } from './ref-rng';

export interface RefBertConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  hiddenAct: 'gelu' | 'gelu_new' | 'relu';
  /** First position id. RoBERTa: padding_idx + 1 = 2; BERT: 0. Applied as offset + s for every s. */
  positionOffset?: number;
}

export interface RefTensor {
  shape: number[];
  values: Float64Array;
}

/** Hugging Face parameter names without the model prefix; nn.Linear weights are [out, in]. */
export type RefWeights = Record<string, RefTensor>;

export interface RefBertOutput {
  /** [B, S, H] row-major. */
  lastHidden: Float64Array;
  /** Index 0: embeddings output; index i: output of layer i-1. Each [B, S, H]. */
  layerOutputs: Float64Array[];
  /** [B, H] = tanh(pooler.dense(hidden[:, 0])), only when pooler weights are present. */
  pooled?: Float64Array;
}

/**
 * Additive score for padded keys: (1 - mask) * -1e9. HF uses the dtype minimum instead; both make
 * exp() exactly 0 for any realistic score, and the executor under test uses the same -1e9.
 */
export const REF_MASK_NEGATIVE = -1e9;

/** y[r, o] = Σ_i x[r, i] · W[o, i] + b[o]; W in nn.Linear layout [out, in]. */
export function refLinear(
  x: ArrayLike<number>,
  inDim: number,
  outDim: number,
  weight: ArrayLike<number>,
  bias?: ArrayLike<number>,
): Float64Array {
  if (x.length % inDim !== 0) throw new Error(`refLinear: input length ${x.length} not divisible by ${inDim}`);
  if (weight.length !== inDim * outDim) throw new Error(`refLinear: weight length ${weight.length} != ${outDim}x${inDim}`);
  if (bias !== undefined && bias.length !== outDim) throw new Error(`refLinear: bias length ${bias.length} != ${outDim}`);
  const rows = x.length / inDim;
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = bias === undefined ? 0 : bias[o]!;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * weight[o * inDim + i]!;
      y[r * outDim + o] = s;
    }
  }
  return y;
}

/** LayerNorm over the last `dim` values: biased variance, eps inside the sqrt. */
export function refLayerNorm(
  x: ArrayLike<number>,
  dim: number,
  eps: number,
  weight?: ArrayLike<number>,
  bias?: ArrayLike<number>,
): Float64Array {
  if (x.length % dim !== 0) throw new Error(`refLayerNorm: input length ${x.length} not divisible by ${dim}`);
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += dim) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[base + i]!;
    mean /= dim;
    let variance = 0; // two-pass: avoids E[x²] - E[x]² cancellation
    for (let i = 0; i < dim; i++) variance += (x[base + i]! - mean) ** 2;
    variance /= dim;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < dim; i++) {
      const n = (x[base + i]! - mean) * inv;
      y[base + i] = n * (weight === undefined ? 1 : weight[i]!) + (bias === undefined ? 0 : bias[i]!);
    }
  }
  return y;
}

/** Row-wise softmax over the last `dim` values (max-subtracted). */
export function refSoftmax(x: ArrayLike<number>, dim: number): Float64Array {
  if (x.length % dim !== 0) throw new Error(`refSoftmax: input length ${x.length} not divisible by ${dim}`);
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += dim) {
    let max = -Infinity;
    for (let i = 0; i < dim; i++) max = Math.max(max, x[base + i]!);
    let sum = 0;
    for (let i = 0; i < dim; i++) {
      const e = Math.exp(x[base + i]! - max);
      y[base + i] = e;
      sum += e;
    }
    for (let i = 0; i < dim; i++) y[base + i] = y[base + i]! / sum;
  }
  return y;
}

/** Exact GELU x·Φ(x), written with erfc so the x ≪ 0 tail keeps relative accuracy. */
export function refGelu(x: number): number {
  return 0.5 * x * refErfc(-x / Math.SQRT2);
}

/** Tanh-approximate GELU ("gelu_new"). */
export function refGeluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function refRelu(x: number): number {
  return x > 0 ? x : 0;
}

export function refActivation(name: RefBertConfig['hiddenAct']): (x: number) => number {
  switch (name) {
    case 'gelu':
      return refGelu;
    case 'gelu_new':
      return refGeluNew;
    case 'relu':
      return refRelu;
  }
}

export interface RefAttentionOptions {
  batch: number;
  numHeads: number;
  queryLen: number;
  /** Defaults to queryLen (self-attention). */
  keyLen?: number;
  /** [batch, keyLen]; 1 = attend, 0 = padded key. Omitted: attend everywhere. */
  keyMask?: ArrayLike<number>;
}

/**
 * Multi-head scaled dot-product attention on already-projected q [B,Sq,H], k/v [B,Sk,H].
 * Head h owns columns h·dh … (h+1)·dh - 1 (HF's view/transpose split).
 * Returns context [B,Sq,H] and probabilities [B,heads,Sq,Sk].
 */
export function refAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  opts: RefAttentionOptions,
): { context: Float64Array; probs: Float64Array } {
  const { batch: B, numHeads: nh, queryLen: sq } = opts;
  const sk = opts.keyLen ?? sq;
  const H = q.length / (B * sq);
  if (!Number.isInteger(H) || H % nh !== 0) throw new Error(`refAttention: bad q length ${q.length} for B=${B}, Sq=${sq}, heads=${nh}`);
  if (k.length !== B * sk * H || v.length !== B * sk * H) throw new Error('refAttention: k/v shape mismatch');
  if (opts.keyMask !== undefined && opts.keyMask.length !== B * sk) throw new Error('refAttention: keyMask shape mismatch');
  const dh = H / nh;
  const scale = 1 / Math.sqrt(dh);
  const probs = new Float64Array(B * nh * sq * sk);
  const context = new Float64Array(B * sq * H);
  const scores = new Float64Array(sk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < sq; i++) {
        const qOff = (b * sq + i) * H + h * dh;
        for (let j = 0; j < sk; j++) {
          const kOff = (b * sk + j) * H + h * dh;
          let s = 0;
          for (let d = 0; d < dh; d++) s += q[qOff + d]! * k[kOff + d]!;
          const m = opts.keyMask === undefined ? 1 : opts.keyMask[b * sk + j]!;
          scores[j] = s * scale + (1 - m) * REF_MASK_NEGATIVE;
        }
        const p = refSoftmax(scores, sk);
        probs.set(p, ((b * nh + h) * sq + i) * sk);
        for (let d = 0; d < dh; d++) {
          let c = 0;
          for (let j = 0; j < sk; j++) c += p[j]! * v[(b * sk + j) * H + h * dh + d]!;
          context[qOff + d] = c;
        }
      }
    }
  }
  return { context, probs };
}

/** Every parameter name and HF shape for `config`, in a fixed order. */
export function refBertWeightShapes(config: RefBertConfig, includePooler = true): Array<[string, number[]]> {
  const { vocabSize: V, hiddenSize: H, intermediateSize: I } = config;
  const out: Array<[string, number[]]> = [
    ['embeddings.word_embeddings.weight', [V, H]],
    ['embeddings.position_embeddings.weight', [config.maxPositions, H]],
    ['embeddings.token_type_embeddings.weight', [config.typeVocabSize, H]],
    ['embeddings.LayerNorm.weight', [H]],
    ['embeddings.LayerNorm.bias', [H]],
  ];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const n of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      out.push([`${p}${n}.weight`, [H, H]], [`${p}${n}.bias`, [H]]);
    }
    out.push(
      [`${p}attention.output.LayerNorm.weight`, [H]],
      [`${p}attention.output.LayerNorm.bias`, [H]],
      [`${p}intermediate.dense.weight`, [I, H]],
      [`${p}intermediate.dense.bias`, [I]],
      [`${p}output.dense.weight`, [H, I]],
      [`${p}output.dense.bias`, [H]],
      [`${p}output.LayerNorm.weight`, [H]],
      [`${p}output.LayerNorm.bias`, [H]],
    );
  }
  if (includePooler) out.push(['pooler.dense.weight', [H, H]], ['pooler.dense.bias', [H]]);
  return out;
}

/**
 * Seeded random weights. Matrices/biases/embeddings ~ N(0, 0.02²); LayerNorm weight 1 + U(-0.1, 0.1)
 * and bias U(-0.1, 0.1) so that a transposed or skipped LN affine shows up in comparisons.
 */
export function randomRefWeights(config: RefBertConfig, seed: number, options: { pooler?: boolean } = {}): RefWeights {
  validateConfig(config);
  const rng = createRefRng(seed);
  const weights: RefWeights = {};
  for (const [name, shape] of refBertWeightShapes(config, options.pooler ?? true)) {
    const values = new Float64Array(shape.reduce((a, d) => a * d, 1));
    const isLnWeight = name.endsWith('LayerNorm.weight');
    const isLnBias = name.endsWith('LayerNorm.bias');
    for (let i = 0; i < values.length; i++) {
      if (isLnWeight) values[i] = 1 + 0.1 * (2 * rng.uniform() - 1);
      else if (isLnBias) values[i] = 0.1 * (2 * rng.uniform() - 1);
      else values[i] = 0.02 * rng.normal();
    }
    weights[name] = { shape, values };
  }
  return weights;
}

function validateConfig(c: RefBertConfig): void {
  const ints: Array<keyof RefBertConfig> = ['vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'intermediateSize', 'maxPositions', 'typeVocabSize'];
  for (const key of ints) {
    const v = c[key];
    const min = key === 'numLayers' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`RefBertConfig.${key} must be an integer >= ${min}, got ${String(v)}`);
  }
  const offset = c.positionOffset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`positionOffset must be a non-negative integer, got ${offset}`);
  if (c.hiddenSize % c.numHeads !== 0) throw new Error(`hiddenSize ${c.hiddenSize} not divisible by numHeads ${c.numHeads}`);
  if (!(c.layerNormEps >= 0)) throw new Error(`layerNormEps must be >= 0, got ${c.layerNormEps}`);
}

function param(weights: RefWeights, name: string, shape: number[]): Float64Array {
  const t = weights[name];
  if (t === undefined) throw new Error(`reference weights: missing ${name}`);
  const size = shape.reduce((a, d) => a * d, 1);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.values.length !== size) {
    throw new Error(`reference weights: ${name} has shape [${t.shape.join(',')}] (${t.values.length} values), expected [${shape.join(',')}]`);
  }
  return t.values;
}

/** Checks a [B][S] integer grid and returns it flattened. */
function flatten2d(name: string, rows: number[][], B: number, S: number, lo: number, hi: number): Float64Array {
  if (rows.length !== B) throw new Error(`${name}: expected ${B} rows, got ${rows.length}`);
  const out = new Float64Array(B * S);
  rows.forEach((row, b) => {
    if (row.length !== S) throw new Error(`${name}: row ${b} has length ${row.length}, expected ${S}`);
    row.forEach((v, s) => {
      if (!Number.isInteger(v) || v < lo || v >= hi) throw new Error(`${name}[${b}][${s}] = ${v} outside [${lo}, ${hi})`);
      out[b * S + s] = v;
    });
  });
  return out;
}

/** LN(word + position + token_type), [B, S, H]. */
export function refBertEmbeddings(config: RefBertConfig, weights: RefWeights, inputIds: number[][], tokenTypeIds?: number[][]): Float64Array {
  validateConfig(config);
  const H = config.hiddenSize;
  const B = inputIds.length;
  const S = inputIds[0]?.length ?? 0;
  if (B === 0 || S === 0) throw new Error('refBertEmbeddings: empty input');
  const offset = config.positionOffset ?? 0;
  if (offset + S > config.maxPositions) throw new Error(`sequence length ${S} + offset ${offset} exceeds maxPositions ${config.maxPositions}`);
  const ids = flatten2d('inputIds', inputIds, B, S, 0, config.vocabSize);
  const types = tokenTypeIds === undefined ? new Float64Array(B * S) : flatten2d('tokenTypeIds', tokenTypeIds, B, S, 0, config.typeVocabSize);
  const word = param(weights, 'embeddings.word_embeddings.weight', [config.vocabSize, H]);
  const pos = param(weights, 'embeddings.position_embeddings.weight', [config.maxPositions, H]);
  const type = param(weights, 'embeddings.token_type_embeddings.weight', [config.typeVocabSize, H]);
  const sum = new Float64Array(B * S * H);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const t = b * S + s;
      const w = ids[t]! * H;
      const p = (offset + s) * H;
      const ty = types[t]! * H;
      for (let h = 0; h < H; h++) sum[t * H + h] = word[w + h]! + pos[p + h]! + type[ty + h]!;
    }
  }
  return refLayerNorm(sum, H, config.layerNormEps, param(weights, 'embeddings.LayerNorm.weight', [H]), param(weights, 'embeddings.LayerNorm.bias', [H]));
}

/** One post-LN encoder layer on hidden [B, S, H] with key mask [B, S]. */
export function refBertLayer(
  config: RefBertConfig,
  weights: RefWeights,
  layer: number,
  hidden: Float64Array,
  batch: number,
  seqLen: number,
  mask: ArrayLike<number>,
): Float64Array {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const eps = config.layerNormEps;
  const p = `encoder.layer.${layer}.`;
  const lin = (x: Float64Array, name: string, inDim: number, outDim: number): Float64Array =>
    refLinear(x, inDim, outDim, param(weights, `${p}${name}.weight`, [outDim, inDim]), param(weights, `${p}${name}.bias`, [outDim]));
  const ln = (x: Float64Array, name: string): Float64Array =>
    refLayerNorm(x, H, eps, param(weights, `${p}${name}.weight`, [H]), param(weights, `${p}${name}.bias`, [H]));
  const add = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v + b[i]!);

  const q = lin(hidden, 'attention.self.query', H, H);
  const k = lin(hidden, 'attention.self.key', H, H);
  const v = lin(hidden, 'attention.self.value', H, H);
  const { context } = refAttention(q, k, v, { batch, numHeads: config.numHeads, queryLen: seqLen, keyMask: mask });
  const a = ln(add(lin(context, 'attention.output.dense', H, H), hidden), 'attention.output.LayerNorm');
  const act = refActivation(config.hiddenAct);
  const inter = lin(a, 'intermediate.dense', H, I).map(act);
  return ln(add(lin(inter, 'output.dense', I, H), a), 'output.LayerNorm');
}

export function refBertForward(
  config: RefBertConfig,
  weights: RefWeights,
  inputIds: number[][],
  attentionMask?: number[][],
  tokenTypeIds?: number[][],
): RefBertOutput {
  const B = inputIds.length;
  const S = inputIds[0]?.length ?? 0;
  const H = config.hiddenSize;
  let hidden = refBertEmbeddings(config, weights, inputIds, tokenTypeIds);
  const mask = attentionMask === undefined ? new Float64Array(B * S).fill(1) : flatten2d('attentionMask', attentionMask, B, S, 0, 2);
  const layerOutputs = [hidden];
  for (let l = 0; l < config.numLayers; l++) {
    hidden = refBertLayer(config, weights, l, hidden, B, S, mask);
    layerOutputs.push(hidden);
  }
  const out: RefBertOutput = { lastHidden: hidden, layerOutputs };
  if (weights['pooler.dense.weight'] !== undefined || weights['pooler.dense.bias'] !== undefined) {
    const cls = new Float64Array(B * H);
    for (let b = 0; b < B; b++) cls.set(hidden.subarray(b * S * H, b * S * H + H), b * H);
    const w = param(weights, 'pooler.dense.weight', [H, H]);
    const bias = param(weights, 'pooler.dense.bias', [H]);
    out.pooled = refLinear(cls, H, H, w, bias).map(Math.tanh);
  }
  return out;
}

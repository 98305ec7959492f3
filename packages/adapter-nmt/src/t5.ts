import { join } from 'node:path';
import type { Graph, Init, Runtime, Scope } from '@adapters/core-graph';
import { ConfigError, defaultRuntime, ensureBackend, GraphBuilder, readJsonObject, readSafetensorsFile, stageFromCheckpoint, WeightStore, withOps } from '@adapters/core-graph';
import type { Seq2SeqConfig } from './config';
import { crossKeyNode, crossValueNode, ENCODER_OUTPUT_NODE, pastKeyInput, pastValueInput, presentKeyOutput, presentValueOutput, SHARED_EMBEDDING } from './model';
import { NMT_OPS } from './ops';
import { T5_OPS } from './t5-ops';

/** A T5 config (Hugging Face `T5Config` fields, camel-cased). */
export interface T5Config {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly dKv: number;
  readonly dFf: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly heads: number;
  readonly buckets: number;
  readonly maxDistance: number;
  readonly dropout: number;
  readonly layerNormEps: number;
  /** `gated-gelu` (T5 v1.1: gelu_new(wi_0·x) ⊙ wi_1·x) or `relu` (T5: relu(wi·x)). */
  readonly feedForward: 'relu' | 'gated-gelu';
  /** LM head tied to the embedding (and the decoder output scaled by d_model^-0.5 first), as T5 v1.0. */
  readonly tieWordEmbeddings: boolean;
  readonly padTokenId: number;
  readonly eosTokenId: number;
  readonly decoderStartTokenId: number;
  /** Longest sequence generation and batches allow (T5 has no position table; `n_positions`, default 512). */
  readonly maxPositions: number;
}

const WEIGHT_INIT: Init = { kind: 'normal', std: 0.05 };

/** Maps a Hugging Face T5 config.json onto T5Config; errors name the file and field. */
export function parseT5Config(json: Record<string, unknown>, file = 'config.json'): T5Config {
  if (json['model_type'] !== 't5') throw new ConfigError(`${file}: model_type`, `expected "t5", got ${JSON.stringify(json['model_type'])}`);
  const num = (k: string, fallback?: number): number => {
    const v = json[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${file}: ${k}`, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const int = (k: string, fallback?: number): number => {
    const v = num(k, fallback);
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${file}: ${k}`, `must be a positive integer, got ${v}`);
    return v;
  };
  const ff = json['feed_forward_proj'] ?? 'relu';
  if (ff !== 'relu' && ff !== 'gated-gelu') throw new ConfigError(`${file}: feed_forward_proj`, `supported: relu, gated-gelu; got ${JSON.stringify(ff)}`);
  const c: T5Config = {
    vocabSize: int('vocab_size'), dModel: int('d_model'), dKv: int('d_kv'), dFf: int('d_ff'), encoderLayers: int('num_layers'),
    decoderLayers: int('num_decoder_layers', int('num_layers')), heads: int('num_heads'), buckets: int('relative_attention_num_buckets', 32),
    maxDistance: int('relative_attention_max_distance', 128), dropout: num('dropout_rate', 0.1), layerNormEps: num('layer_norm_epsilon', 1e-6),
    feedForward: ff, tieWordEmbeddings: json['tie_word_embeddings'] !== false, padTokenId: num('pad_token_id', 0), eosTokenId: num('eos_token_id', 1),
    decoderStartTokenId: num('decoder_start_token_id', 0), maxPositions: int('n_positions', 512),
  };
  // The decoder's key/value cache and cross-attention state are [batch, seq, d_model] (run.ts): inner width must match.
  if (c.heads * c.dKv !== c.dModel) throw new ConfigError(`${file}: d_kv`, `num_heads × d_kv (${c.heads} × ${c.dKv}) must equal d_model (${c.dModel}) here`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new ConfigError(`${file}: dropout_rate`, `must be in [0, 1), got ${c.dropout}`);
  for (const k of ['padTokenId', 'eosTokenId', 'decoderStartTokenId'] as const) {
    if (!(Number.isInteger(c[k]) && c[k] >= 0 && c[k] < c.vocabSize)) throw new ConfigError(`${file}: ${k}`, `must be a token id in [0, ${c.vocabSize})`);
  }
  return c;
}

/** The Seq2SeqConfig view of a T5 config that generation and batching read (graph.meta.seq2seq). */
export function t5Seq2SeqConfig(c: T5Config): Seq2SeqConfig {
  return {
    family: 't5', vocabSize: c.vocabSize, dModel: c.dModel, encoderLayers: c.encoderLayers, decoderLayers: c.decoderLayers, encoderHeads: c.heads,
    decoderHeads: c.heads, encoderFfn: c.dFf, decoderFfn: c.dFf, maxPositions: c.maxPositions, activation: c.feedForward === 'relu' ? 'relu' : 'gelu_new',
    dropout: c.dropout, attentionDropout: c.dropout, activationDropout: c.dropout, scaleEmbedding: false, normalizeBefore: true, layernormEmbedding: false,
    positions: 'relative', layerNormEps: c.layerNormEps, padTokenId: c.padTokenId, eosTokenId: c.eosTokenId, decoderStartTokenId: c.decoderStartTokenId,
  };
}

/**
 * Builds T5ForConditionalGeneration as a graph with the same inputs, outputs and cached nodes as `buildSeq2Seq`
 * (so `encode` / `decodeStep` / `generate` / `seq2seqForward` run it unchanged). Node and parameter names are
 * Hugging Face's (`encoder.block.0.layer.0.SelfAttention.q`), checkpoint keys without a prefix. Sites close with the
 * residual add and no norm (`residualSite`), with AdapterHub's T5 modules: `{side}.block.{i}.attention` → `{side}.block.{i}.layer.0`,
 * `decoder.block.{i}.cross_attention` → `decoder.block.{i}.layer.1`, `{side}.block.{i}.ffn` → `….layer.1|2`.
 */
export function buildT5(config: T5Config, runtime: Runtime = defaultRuntime): Graph {
  const c = config;
  const s2s = t5Seq2SeqConfig(c);
  const b = new GraphBuilder({ architecture: 't5', prefix: '', config: { ...s2s, architecture: 't5', hiddenSize: c.dModel }, seq2seq: s2s }, withOps(withOps(runtime, NMT_OPS), T5_OPS));
  const ids = b.input('input_ids', ['batch', 'seq'], 'int32');
  const mask = b.input('attention_mask', ['batch', 'seq'], 'float32');
  const decIds = b.input('decoder_input_ids', ['batch', 'seq'], 'int32');
  const past = Array.from({ length: c.decoderLayers }, (_v, i) => ({
    key: b.input(pastKeyInput(i), ['batch', 'seq', c.dModel], 'float32'),
    value: b.input(pastValueInput(i), ['batch', 'seq', c.dModel], 'float32'),
  }));
  b.sharedParam(SHARED_EMBEDDING, { shape: [c.vocabSize, c.dModel], init: { kind: 'normal', std: 1 }, kind: 'embedding' });

  const enc = b.scope('encoder', 'base');
  let h = enc.dropout('dropout', enc.op('embedding', 'embed_tokens', [ids], { params: { weight: { ref: SHARED_EMBEDDING } } }), c.dropout);
  let encBias = '';
  for (let i = 0; i < c.encoderLayers; i++) {
    const sc = b.scope(`encoder.block.${i}`, 'base', i);
    const attn = selfAttention(b, sc, c, `encoder.block.${i}`, i, h, { mask, bias: i === 0 ? undefined : encBias, bidirectional: true });
    if (i === 0) encBias = attn.bias;
    h = feedForward(b, sc, c, `encoder.block.${i}`, i, 1, attn.out);
  }
  h = enc.dropout('final_dropout', enc.op('rmsNorm', 'final_layer_norm', [h], rmsParams(c)), c.dropout);
  const encoderOut = enc.op('identity', 'output', [h]);
  if (encoderOut !== ENCODER_OUTPUT_NODE) throw new Error(`encoder output node is '${encoderOut}'`);
  b.output('encoder_last_hidden_state', encoderOut);

  const dec = b.scope('decoder', 'base');
  let d = dec.dropout('dropout', dec.op('embedding', 'embed_tokens', [decIds], { params: { weight: { ref: SHARED_EMBEDDING } } }), c.dropout);
  let decBias = '';
  for (let i = 0; i < c.decoderLayers; i++) {
    const layer = c.encoderLayers + i;
    const prefix = `decoder.block.${i}`;
    const sc = b.scope(prefix, 'base', layer);
    const cache = past[i] as { key: string; value: string };
    const attn = selfAttention(b, sc, c, prefix, layer, d, { bias: i === 0 ? undefined : decBias, bidirectional: false, cache, presentIndex: i });
    if (i === 0) decBias = attn.bias;
    // Cross-attention: keys/values from the encoder (identity nodes under the names run.ts caches), key mask, no bias.
    const normed = sc.op('rmsNorm', 'layer.1.layer_norm', [attn.out], rmsParams(c));
    const q = sc.dense('layer.1.EncDecAttention.q', normed, c.dModel, { bias: false, init: WEIGHT_INIT });
    const k = b.add('identity', crossKeyNode(i), [sc.dense('layer.1.EncDecAttention.k', encoderOut, c.dModel, { bias: false, init: WEIGHT_INIT })]);
    const v = b.add('identity', crossValueNode(i), [sc.dense('layer.1.EncDecAttention.v', encoderOut, c.dModel, { bias: false, init: WEIGHT_INIT })]);
    const ctx = sc.op('t5Attention', 'layer.1.EncDecAttention.context', [q, k, v, mask], { attrs: { heads: c.heads, mask: true, dropout: c.dropout } });
    const crossOut = sc.dropout('layer.1.dropout', sc.dense('layer.1.EncDecAttention.o', ctx, c.dModel, { bias: false, init: WEIGHT_INIT }), c.dropout);
    const crossResidual = sc.add('layer.1.residual', crossOut, attn.out);
    residualSite(b, { name: `${prefix}.cross_attention`, kind: 'cross_attention', layer, module: `${prefix}.layer.1` }, attn.out, crossOut, crossResidual);
    d = feedForward(b, sc, c, prefix, layer, 2, crossResidual);
  }
  d = dec.dropout('final_dropout', dec.op('rmsNorm', 'final_layer_norm', [d], rmsParams(c)), c.dropout);
  b.output('last_hidden_state', d);
  const logits = c.tieWordEmbeddings
    ? b.add('dense', 'lm_head', [b.add('scale', 'lm_head.scale', [d], { attrs: { factor: c.dModel ** -0.5 } })], { params: { weight: { ref: SHARED_EMBEDDING } }, attrs: { transposeWeight: true } })
    : b.add('dense', 'lm_head', [d], { params: { weight: { shape: [c.dModel, c.vocabSize], init: WEIGHT_INIT, kind: 'kernel' } } });
  b.output('logits', logits);
  return b.build();
}

const rmsParams = (c: T5Config) => ({ params: { weight: { shape: [c.dModel], init: { kind: 'ones' as const }, kind: 'norm' as const } }, attrs: { eps: c.layerNormEps } });

/** layer.0: RMSNorm → SelfAttention (q, k, v, o without biases; relative bias from block 0, reused above) → dropout → + x. */
function selfAttention(b: GraphBuilder, sc: Scope, c: T5Config, prefix: string, layer: number, x: string,
  o: { mask?: string; bias: string | undefined; bidirectional: boolean; cache?: { key: string; value: string }; presentIndex?: number }): { out: string; bias: string } {
  const normed = sc.op('rmsNorm', 'layer.0.layer_norm', [x], rmsParams(c));
  const q = sc.dense('layer.0.SelfAttention.q', normed, c.dModel, { bias: false, init: WEIGHT_INIT });
  let k = sc.dense('layer.0.SelfAttention.k', normed, c.dModel, { bias: false, init: WEIGHT_INIT });
  let v = sc.dense('layer.0.SelfAttention.v', normed, c.dModel, { bias: false, init: WEIGHT_INIT });
  if (o.cache) {
    k = sc.op('concat', 'layer.0.SelfAttention.key_cache', [o.cache.key, k], { attrs: { axis: 1 } });
    v = sc.op('concat', 'layer.0.SelfAttention.value_cache', [o.cache.value, v], { attrs: { axis: 1 } });
    b.output(presentKeyOutput(o.presentIndex as number), k);
    b.output(presentValueOutput(o.presentIndex as number), v);
  }
  const bias = o.bias ?? sc.op('relativePositionBias', 'layer.0.SelfAttention.relative_attention_bias', [q, k], {
    params: { weight: { shape: [c.buckets, c.heads], init: WEIGHT_INIT, kind: 'embedding' } }, attrs: { bidirectional: o.bidirectional, buckets: c.buckets, maxDistance: c.maxDistance },
  });
  const inputs = o.mask ? [q, k, v, o.mask, bias] : [q, k, v, bias];
  const ctx = sc.op('t5Attention', 'layer.0.SelfAttention.context', inputs, { attrs: { heads: c.heads, mask: o.mask !== undefined, bias: true, causal: !o.bidirectional, dropout: c.dropout } });
  const out = sc.dropout('layer.0.dropout', sc.dense('layer.0.SelfAttention.o', ctx, c.dModel, { bias: false, init: WEIGHT_INIT }), c.dropout);
  const residual = sc.add('layer.0.residual', out, x);
  residualSite(b, { name: `${prefix}.attention`, kind: 'attention', layer, module: `${prefix}.layer.0` }, x, out, residual);
  return { out: residual, bias };
}

/** The feed-forward layer (`layer.{index}`): RMSNorm → DenseReluDense (relu or gated gelu_new) → dropout → + x. */
function feedForward(b: GraphBuilder, sc: Scope, c: T5Config, prefix: string, layer: number, index: number, x: string): string {
  const l = `layer.${index}`;
  const normed = sc.op('rmsNorm', `${l}.layer_norm`, [x], rmsParams(c));
  let hidden: string;
  if (c.feedForward === 'relu') {
    hidden = sc.act('relu', `${l}.DenseReluDense.act`, sc.dense(`${l}.DenseReluDense.wi`, normed, c.dFf, { bias: false, init: WEIGHT_INIT }));
  } else {
    const gate = sc.act('gelu_new', `${l}.DenseReluDense.act`, sc.dense(`${l}.DenseReluDense.wi_0`, normed, c.dFf, { bias: false, init: WEIGHT_INIT }));
    hidden = sc.op('mul', `${l}.DenseReluDense.gated`, [gate, sc.dense(`${l}.DenseReluDense.wi_1`, normed, c.dFf, { bias: false, init: WEIGHT_INIT })]);
  }
  const dropped = sc.dropout(`${l}.DenseReluDense.dropout`, hidden, c.dropout);
  const out = sc.dropout(`${l}.dropout`, sc.dense(`${l}.DenseReluDense.wo`, dropped, c.dModel, { bias: false, init: WEIGHT_INIT }), c.dropout);
  const residual = sc.add(`${l}.residual`, out, x);
  residualSite(b, { name: `${prefix}.ffn`, kind: 'ffn', layer, module: `${prefix}.${l}` }, x, out, residual);
  return residual;
}

/**
 * A T5 sublayer as AdapterHub sees it (`bottleneck_layer_forward(dropout(out), residual_input=x, layer_norm=None)`):
 * entry = the sublayer's input x (before its RMSNorm), exit = its output before the residual add, and the add as the
 * span's close without a norm. So mode `wrap` gives AdapterHub's seq_bn (x + out + f(x + out)) and double_seq_bn
 * (x + out + f(out)), mode `parallel` its par_bn (x + out + f(x)), mode `after` an adapter on out.
 */
function residualSite(b: GraphBuilder, site: { name: string; kind: string; layer: number; module: string }, x: string, out: string, add: string): void {
  b.site({ ...site, entry: x, exit: out, residual: { add, norm: add } });
}

/**
 * Loads a Hugging Face T5ForConditionalGeneration folder (config.json + model.safetensors). The embedding is read from
 * `shared.weight` (or `encoder.embed_tokens.weight` when only that copy was saved).
 */
export async function loadT5(dir: string, options: { readonly seed?: number } = {}): Promise<{ graph: Graph; store: WeightStore; config: T5Config }> {
  await ensureBackend();
  const configFile = join(dir, 'config.json');
  const config = parseT5Config(await readJsonObject(configFile), configFile);
  const file = join(dir, 'model.safetensors');
  const { tensors } = await readSafetensorsFile(file);
  const graph = buildT5(config);
  const lookup = (key: string) => tensors.get(key) ?? (key === SHARED_EMBEDDING ? tensors.get('encoder.embed_tokens.weight') : undefined);
  const staged = stageFromCheckpoint(graph, lookup, { source: file, keyOf: (k) => k });
  const store = new WeightStore();
  store.sync(graph, options.seed ?? 0, (spec) => staged.get(spec.key)?.values);
  return { graph, store, config };
}

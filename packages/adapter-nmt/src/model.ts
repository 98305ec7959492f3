import type { Graph, Init, Runtime, Scope } from '@adapters/core-graph';
import { defaultRuntime, GraphBuilder, withOps } from '@adapters/core-graph';
import type { Seq2SeqConfig } from './config';
import { LEARNED_POSITION_OFFSET, seq2seqConfig } from './config';
import { NMT_OPS } from './ops';

const WEIGHT_INIT: Init = { kind: 'normal', std: 0.02 };
/** Parameter key of the shared token embedding (encoder, decoder and the tied LM head read it). */
export const SHARED_EMBEDDING = 'shared.weight';
/** Parameter key of Hugging Face's `final_logits_bias` buffer ([1, vocab] there, [vocab] here). */
export const FINAL_LOGITS_BIAS = 'lm_head.bias';

/** Graph input names of the decoder's self-attention cache for layer i (feed [batch, 0, dModel] for no cache). */
export const pastKeyInput = (i: number): string => `past.${i}.key`;
export const pastValueInput = (i: number): string => `past.${i}.value`;
/** Output names of the concatenated (past + new) keys and values of decoder layer i: the next step's cache. */
export const presentKeyOutput = (i: number): string => `present.${i}.key`;
export const presentValueOutput = (i: number): string => `present.${i}.value`;

/** Node ids generation caches across steps: the encoder's output and each decoder layer's cross-attention keys/values. */
export const ENCODER_OUTPUT_NODE = 'encoder.output';
export const crossKeyNode = (i: number): string => `decoder.layers.${i}.encoder_attn.k_proj`;
export const crossValueNode = (i: number): string => `decoder.layers.${i}.encoder_attn.v_proj`;

/**
 * Builds a Marian/BART-family encoder-decoder with the LM head. Node ids follow Hugging Face module names under
 * `model.` (`encoder.layers.0.self_attn.q_proj`), so parameter keys plus the prefix are checkpoint keys; the
 * head is tied to `shared.weight`, and `lm_head.bias` is `final_logits_bias`.
 *
 * Inputs: `input_ids`, `attention_mask` (encoder), `decoder_input_ids`, and per decoder layer the self-attention
 * cache `past.{i}.key|value` [batch, past, dModel]. The encoder-side inputs and the caches have their own lengths,
 * so they are passed as run `constants` (see `seq2seqRun`), not as feeds. Outputs: `encoder_last_hidden_state`,
 * `last_hidden_state` (decoder), `logits`, `present.{i}.key|value`.
 *
 * Sites (AdapterHub's seq2seq locations; `layer` numbers decoder layers after the encoder's, as AdapterHub's
 * `iter_layers` does, so `leave_out` means the same): `encoder.layers.{i}.attention` (kind `attention`),
 * `encoder.layers.{i}.ffn` (`ffn`), `decoder.layers.{i}.attention`, `decoder.layers.{i}.cross_attention`
 * (`cross_attention`), `decoder.layers.{i}.ffn`, and the whole layer `{encoder|decoder}.layers.{i}.output` (`output`,
 * mode `after`: Bapna & Firat). Post-LN sites carry their residual add & LayerNorm (mode `wrap`);
 * pre-LN (mBART) sites have none.
 */
export function buildSeq2Seq(partial: Partial<Seq2SeqConfig> = {}): Graph {
  return seq2seqBuilder(partial).build();
}

/**
 * `runtime`: what the graph is built, rewritten (with a plain registry) and run with, default the default runtime;
 * the graph's runtime is it plus the encoder-decoder ops (`NMT_OPS`).
 */
export function seq2seqBuilder(partial: Partial<Seq2SeqConfig> = {}, runtime: Runtime = defaultRuntime): GraphBuilder {
  const c = seq2seqConfig(partial);
  // `architecture` and `hiddenSize` are what adapter files are checked against (AdapterHub's model_type, hidden_size).
  const b = new GraphBuilder({ architecture: c.family, prefix: 'model', config: { ...c, architecture: c.family, hiddenSize: c.dModel }, seq2seq: c }, withOps(runtime, NMT_OPS));
  const ids = b.input('input_ids', ['batch', 'seq'], 'int32');
  const mask = b.input('attention_mask', ['batch', 'seq'], 'float32');
  const decIds = b.input('decoder_input_ids', ['batch', 'seq'], 'int32');
  const past = Array.from({ length: c.decoderLayers }, (_v, i) => ({
    key: b.input(pastKeyInput(i), ['batch', 'seq', c.dModel], 'float32'),
    value: b.input(pastValueInput(i), ['batch', 'seq', c.dModel], 'float32'),
  }));
  b.sharedParam(SHARED_EMBEDDING, { shape: [c.vocabSize, c.dModel], init: WEIGHT_INIT, kind: 'embedding' });

  let hidden = embed(b, c, 'encoder', ids);
  for (let i = 0; i < c.encoderLayers; i++) hidden = encoderLayer(b, c, i, hidden, mask);
  if (c.normalizeBefore) hidden = b.scope('encoder', 'base').layerNorm('layer_norm', hidden, c.layerNormEps);
  const encoderOut = b.scope('encoder', 'base').op('identity', 'output', [hidden]);
  b.output('encoder_last_hidden_state', encoderOut);

  let dec = embed(b, c, 'decoder', decIds, past[0]?.key);
  for (let i = 0; i < c.decoderLayers; i++) dec = decoderLayer(b, c, i, dec, encoderOut, mask, past[i] as { key: string; value: string });
  for (let i = 0; i < c.decoderLayers; i++) {
    b.output(presentKeyOutput(i), `decoder.layers.${i}.self_attn.key_cache`);
    b.output(presentValueOutput(i), `decoder.layers.${i}.self_attn.value_cache`);
  }
  if (c.normalizeBefore) dec = b.scope('decoder', 'base').layerNorm('layer_norm', dec, c.layerNormEps);
  b.output('last_hidden_state', dec);
  const logits = b.add('dense', 'lm_head', [dec], {
    params: { weight: { ref: SHARED_EMBEDDING }, bias: { shape: [c.vocabSize], init: { kind: 'zeros' }, kind: 'bias' } },
    attrs: { transposeWeight: true },
  });
  b.output('logits', logits);
  return b;
}

/** Token embedding (shared table, optionally × √d) + positions (+ LayerNorm) + dropout. */
function embed(b: GraphBuilder, c: Seq2SeqConfig, side: 'encoder' | 'decoder', ids: string, cache?: string): string {
  const s = b.scope(side, 'base');
  let tokens = s.op('embedding', 'embed_tokens', [ids], { params: { weight: { ref: SHARED_EMBEDDING } } });
  if (c.scaleEmbedding) tokens = s.op('scale', 'embed_scale', [tokens], { attrs: { factor: Math.sqrt(c.dModel) } });
  const learned = c.positions === 'learned';
  const positionIds = s.op('stepPositions', 'position_ids', cache ? [ids, cache] : [ids], { attrs: { offset: learned ? LEARNED_POSITION_OFFSET : 0 } });
  const positions = learned
    ? s.op('embedding', 'embed_positions', [positionIds], { params: { weight: { shape: [c.maxPositions + LEARNED_POSITION_OFFSET, c.dModel], init: WEIGHT_INIT, kind: 'embedding' } } })
    : s.op('sinusoidalPositions', 'embed_positions', [positionIds], { attrs: { dim: c.dModel, maxPositions: c.maxPositions } });
  let x = s.add('embed_sum', tokens, positions);
  if (c.layernormEmbedding) x = s.layerNorm('layernorm_embedding', x, c.layerNormEps);
  return s.dropout('embed_dropout', x, c.dropout);
}

interface Sublayer {
  /** What the sublayer reads (pre-LN: the normalised input). */
  readonly input: string;
  /** Closes the span: adds the residual (and LayerNorm for post-LN), declares the site, returns the layer's new state. */
  close(out: string): string;
}

/**
 * Opens a residual sublayer named `norm` (its LayerNorm's module name): post-LN reads x and closes with LN(x + out);
 * pre-LN reads LN(x) and closes with x + out.
 */
function sublayer(b: GraphBuilder, c: Seq2SeqConfig, sc: Scope, norm: string, x: string, site: { name: string; kind: string; layer: number; module: string }): Sublayer {
  const input = c.normalizeBefore ? sc.layerNorm(norm, x, c.layerNormEps) : x;
  return {
    input,
    close(out) {
      const add = sc.add(`${norm}_residual`, out, x);
      if (c.normalizeBefore) {
        b.site({ ...site, entry: input, exit: out });
        return add;
      }
      const ln = sc.layerNorm(norm, add, c.layerNormEps);
      b.site({ ...site, entry: x, exit: out, residual: { add, norm: ln } });
      return ln;
    },
  };
}

function attention(sc: Scope, name: string, q: string, kv: string, heads: number, dropout: number, d: number, extra: { mask?: string; causal?: boolean; cache?: { key: string; value: string } } = {}): string {
  const a = sc.builder.scope(`${sc.prefix}.${name}`, 'base', sc.layer);
  const query = a.dense('q_proj', q, d, { init: WEIGHT_INIT });
  let key = a.dense('k_proj', kv, d, { init: WEIGHT_INIT });
  let value = a.dense('v_proj', kv, d, { init: WEIGHT_INIT });
  if (extra.cache) {
    key = a.op('concat', 'key_cache', [extra.cache.key, key], { attrs: { axis: 1 } });
    value = a.op('concat', 'value_cache', [extra.cache.value, value], { attrs: { axis: 1 } });
  }
  const inputs = extra.mask ? [query, key, value, extra.mask] : [query, key, value];
  const context = a.op('seq2seqAttention', 'context', inputs, { attrs: { heads, dropout, causal: extra.causal === true } });
  return a.dense('out_proj', context, d, { init: WEIGHT_INIT });
}

function feedForward(sc: Scope, c: Seq2SeqConfig, x: string, ffn: number): string {
  const act = sc.act(c.activation, 'activation', sc.dense('fc1', x, ffn, { init: WEIGHT_INIT }));
  const dropped = sc.dropout('activation_dropout', act, c.activationDropout);
  return sc.dropout('ffn_dropout', sc.dense('fc2', dropped, c.dModel, { init: WEIGHT_INIT }), c.dropout);
}

function encoderLayer(b: GraphBuilder, c: Seq2SeqConfig, i: number, x: string, mask: string): string {
  const prefix = `encoder.layers.${i}`;
  const sc = b.scope(prefix, 'base', i);
  const attn = sublayer(b, c, sc, 'self_attn_layer_norm', x, { name: `${prefix}.attention`, kind: 'attention', layer: i, module: `${prefix}.attention_adapters` });
  const a = sc.dropout('attn_dropout', attention(sc, 'self_attn', attn.input, attn.input, c.encoderHeads, c.attentionDropout, c.dModel, { mask }), c.dropout);
  const h = attn.close(a);
  const ffn = sublayer(b, c, sc, 'final_layer_norm', h, { name: `${prefix}.ffn`, kind: 'ffn', layer: i, module: `${prefix}.output_adapters` });
  return layerSite(b, prefix, i, x, ffn.close(feedForward(sc, c, ffn.input, c.encoderFfn)));
}

/**
 * The whole layer as a site of kind `output` (entry = the layer's input, exit = its output; mode `after`): where
 * Bapna & Firat's adapters go. AdapterHub has no such location, so its module name (`layer_adapters`) is ours.
 */
function layerSite(b: GraphBuilder, prefix: string, layer: number, input: string, output: string): string {
  b.site({ name: `${prefix}.output`, kind: 'output', layer, entry: input, exit: output, module: `${prefix}.layer_adapters` });
  return output;
}

function decoderLayer(b: GraphBuilder, c: Seq2SeqConfig, i: number, x: string, encoderOut: string, mask: string, cache: { key: string; value: string }): string {
  const prefix = `decoder.layers.${i}`;
  const layer = c.encoderLayers + i;
  const sc = b.scope(prefix, 'base', layer);
  const self = sublayer(b, c, sc, 'self_attn_layer_norm', x, { name: `${prefix}.attention`, kind: 'attention', layer, module: `${prefix}.attention_adapters` });
  const a = sc.dropout('attn_dropout', attention(sc, 'self_attn', self.input, self.input, c.decoderHeads, c.attentionDropout, c.dModel, { causal: true, cache }), c.dropout);
  const h = self.close(a);
  const cross = sublayer(b, c, sc, 'encoder_attn_layer_norm', h, { name: `${prefix}.cross_attention`, kind: 'cross_attention', layer, module: `${prefix}.cross_attention_adapters` });
  const ca = sc.dropout('cross_dropout', attention(sc, 'encoder_attn', cross.input, encoderOut, c.decoderHeads, c.attentionDropout, c.dModel, { mask }), c.dropout);
  const h2 = cross.close(ca);
  const ffn = sublayer(b, c, sc, 'final_layer_norm', h2, { name: `${prefix}.ffn`, kind: 'ffn', layer, module: `${prefix}.output_adapters` });
  return layerSite(b, prefix, layer, x, ffn.close(feedForward(sc, c, ffn.input, c.decoderFfn)));
}

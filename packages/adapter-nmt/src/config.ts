import { ConfigError } from '@adapters/core-graph';

/** `t5` graphs come from `buildT5` / `loadT5` (RMSNorm, relative position bias); the rest from `buildSeq2Seq`. */
export type Seq2SeqFamily = 'marian' | 'bart' | 'mbart' | 't5';
export type Seq2SeqActivation = 'gelu' | 'gelu_new' | 'relu' | 'swish';

/** Sizes and conventions of a Marian/BART-family encoder-decoder (Hugging Face config.json fields, camel-cased). */
export interface Seq2SeqConfig {
  readonly family: Seq2SeqFamily;
  readonly vocabSize: number;
  readonly dModel: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly encoderHeads: number;
  readonly decoderHeads: number;
  readonly encoderFfn: number;
  readonly decoderFfn: number;
  readonly maxPositions: number;
  readonly activation: Seq2SeqActivation;
  readonly dropout: number;
  readonly attentionDropout: number;
  readonly activationDropout: number;
  /** Multiply token embeddings by √dModel. */
  readonly scaleEmbedding: boolean;
  /** Pre-LN layers and a final LayerNorm after each stack (mBART); post-LN otherwise (Marian, BART). */
  readonly normalizeBefore: boolean;
  /** A LayerNorm right after the embeddings (BART, mBART; not Marian). */
  readonly layernormEmbedding: boolean;
  /** Sinusoidal table (Marian, not saved in checkpoints), a learned one whose ids start at 2 (BART, mBART), or T5's relative bias. */
  readonly positions: 'sinusoidal' | 'learned' | 'relative';
  readonly layerNormEps: number;
  readonly padTokenId: number;
  readonly eosTokenId: number;
  readonly decoderStartTokenId: number;
  readonly forcedBosTokenId?: number;
  readonly forcedEosTokenId?: number;
}

/** BART's learned position table has two extra rows: ids are position + 2 (a fairseq legacy). */
export const LEARNED_POSITION_OFFSET = 2;

const FAMILY_DEFAULTS: Readonly<Record<Exclude<Seq2SeqFamily, 't5'>, Pick<Seq2SeqConfig, 'normalizeBefore' | 'layernormEmbedding' | 'positions'>>> = {
  marian: { normalizeBefore: false, layernormEmbedding: false, positions: 'sinusoidal' },
  bart: { normalizeBefore: false, layernormEmbedding: true, positions: 'learned' },
  mbart: { normalizeBefore: true, layernormEmbedding: true, positions: 'learned' },
};

/** A tiny Marian-shaped config (tests, examples). */
export const TINY_MARIAN: Seq2SeqConfig = {
  family: 'marian', vocabSize: 48, dModel: 16, encoderLayers: 2, decoderLayers: 2, encoderHeads: 4, decoderHeads: 4,
  encoderFfn: 32, decoderFfn: 32, maxPositions: 32, activation: 'swish', dropout: 0.1, attentionDropout: 0, activationDropout: 0,
  scaleEmbedding: true, ...FAMILY_DEFAULTS.marian, layerNormEps: 1e-5, padTokenId: 47, eosTokenId: 0, decoderStartTokenId: 47,
};

/** Fills a family's conventions and rejects impossible sizes, naming the field. */
export function seq2seqConfig(partial: Partial<Seq2SeqConfig> & { readonly family?: Seq2SeqFamily } = {}): Seq2SeqConfig {
  const family = partial.family ?? 'marian';
  if (family === 't5') throw new ConfigError('config.family', 'T5 models are built by buildT5 / loadT5');
  if (!(family in FAMILY_DEFAULTS)) throw new ConfigError('config.family', `unsupported family '${String(family)}' (marian, bart, mbart)`);
  const c: Seq2SeqConfig = { ...TINY_MARIAN, ...FAMILY_DEFAULTS[family], ...partial, family };
  const positive = ['vocabSize', 'dModel', 'encoderLayers', 'decoderLayers', 'encoderHeads', 'decoderHeads', 'encoderFfn', 'decoderFfn', 'maxPositions'] as const;
  for (const k of positive) {
    const v = c[k];
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`config.${k}`, `must be a positive integer, got ${JSON.stringify(v)}`);
  }
  for (const k of ['encoderHeads', 'decoderHeads'] as const) {
    if (c.dModel % c[k] !== 0) throw new ConfigError(`config.${k}`, `dModel ${c.dModel} is not divisible by ${c[k]} heads`);
  }
  if (!['gelu', 'gelu_new', 'relu', 'swish'].includes(c.activation)) throw new ConfigError('config.activation', `unsupported activation '${c.activation}'`);
  for (const k of ['dropout', 'attentionDropout', 'activationDropout'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) throw new ConfigError(`config.${k}`, `must be in [0, 1), got ${c[k]}`);
  }
  if (!(c.layerNormEps > 0)) throw new ConfigError('config.layerNormEps', 'must be > 0');
  for (const k of ['padTokenId', 'eosTokenId', 'decoderStartTokenId', 'forcedBosTokenId', 'forcedEosTokenId'] as const) {
    const v = c[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v < c.vocabSize)) throw new ConfigError(`config.${k}`, `must be a token id in [0, ${c.vocabSize}), got ${JSON.stringify(v)}`);
  }
  return c;
}

const ACTIVATIONS: Readonly<Record<string, Seq2SeqActivation>> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', relu: 'relu', swish: 'swish', silu: 'swish' };

/** Maps a Hugging Face config.json (model_type marian, bart, mbart) onto Seq2SeqConfig; errors name the file and field. */
export function parseSeq2SeqConfig(json: unknown, file = 'config.json'): Seq2SeqConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(file, 'must be a JSON object');
  const c = json as Record<string, unknown>;
  const family = c['model_type'];
  if (family !== 'marian' && family !== 'bart' && family !== 'mbart') {
    throw new ConfigError(`${file}: model_type`, `unsupported architecture ${JSON.stringify(family)} (supported: marian, bart, mbart)`);
  }
  const num = (k: string, fallback?: number): number => {
    const v = c[k] ?? fallback;
    if (typeof v !== 'number') throw new ConfigError(`${file}: ${k}`, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const optionalId = (k: string): { [key: string]: number } => (typeof c[k] === 'number' ? { [camel(k)]: c[k] } : {});
  const act = ACTIVATIONS[String(c['activation_function'] ?? 'gelu')];
  if (!act) throw new ConfigError(`${file}: activation_function`, `unsupported activation ${JSON.stringify(c['activation_function'])}`);
  if (c['share_encoder_decoder_embeddings'] === false) {
    throw new ConfigError(`${file}: share_encoder_decoder_embeddings`, 'separate encoder and decoder embeddings are not supported yet');
  }
  const vocab = num('vocab_size');
  if (c['decoder_vocab_size'] !== undefined && c['decoder_vocab_size'] !== null && c['decoder_vocab_size'] !== vocab) {
    throw new ConfigError(`${file}: decoder_vocab_size`, `must equal vocab_size (${vocab}) with shared embeddings`);
  }
  const defaults = FAMILY_DEFAULTS[family];
  try {
    return seq2seqConfig({
      family,
      vocabSize: vocab,
      dModel: num('d_model'),
      encoderLayers: num('encoder_layers'),
      decoderLayers: num('decoder_layers'),
      encoderHeads: num('encoder_attention_heads'),
      decoderHeads: num('decoder_attention_heads'),
      encoderFfn: num('encoder_ffn_dim'),
      decoderFfn: num('decoder_ffn_dim'),
      maxPositions: num('max_position_embeddings'),
      activation: act,
      dropout: num('dropout', 0.1),
      attentionDropout: num('attention_dropout', 0),
      activationDropout: num('activation_dropout', 0),
      scaleEmbedding: c['scale_embedding'] === true,
      normalizeBefore: typeof c['normalize_before'] === 'boolean' ? c['normalize_before'] : defaults.normalizeBefore,
      layernormEmbedding: defaults.layernormEmbedding,
      positions: defaults.positions,
      layerNormEps: 1e-5,
      padTokenId: num('pad_token_id'),
      eosTokenId: num('eos_token_id'),
      decoderStartTokenId: num('decoder_start_token_id', num('pad_token_id')),
      ...optionalId('forced_bos_token_id'),
      ...optionalId('forced_eos_token_id'),
    });
  } catch (e) {
    if (e instanceof ConfigError && e.path.startsWith('config.')) throw new ConfigError(`${file}: ${e.path.slice(7)}`, e.message.slice(e.path.length + 2));
    throw e;
  }
}

const camel = (k: string): string => k.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase());

declare module '@adapters/core-graph' {
  interface GraphMetaRegister {
    /** An encoder-decoder graph's config (`seq2seqBuilder`); core's `config` holds what adapter files are checked against. */
    readonly seq2seq?: Seq2SeqConfig;
  }
}

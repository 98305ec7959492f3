import { ConfigError } from '../errors';

export type Architecture = 'bert' | 'roberta';

/** Sizes of a BERT/RoBERTa-style post-LN encoder (Hugging Face config.json fields, camel-cased). */
export interface EncoderConfig {
  readonly architecture: Architecture;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  readonly hiddenAct: 'gelu' | 'gelu_new' | 'relu';
  readonly hiddenDropout: number;
  readonly attentionDropout: number;
  readonly padTokenId: number;
}

export const BERT_BASE: EncoderConfig = {
  architecture: 'bert',
  vocabSize: 30522,
  hiddenSize: 768,
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 3072,
  maxPositions: 512,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  hiddenAct: 'gelu',
  hiddenDropout: 0.1,
  attentionDropout: 0.1,
  padTokenId: 0,
};

/** all-MiniLM-L6-v2's sizes (BERT, 6 layers, hidden 384). */
export const MINILM_L6: EncoderConfig = { ...BERT_BASE, numLayers: 6, hiddenSize: 384, intermediateSize: 1536 };

/** Fills defaults and rejects impossible sizes, naming the field. */
export function encoderConfig(partial: Partial<EncoderConfig> = {}): EncoderConfig {
  const c: EncoderConfig = { ...BERT_BASE, ...partial };
  const positive: (keyof EncoderConfig)[] = ['vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'intermediateSize', 'maxPositions', 'typeVocabSize'];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`config.${k}`, `must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (c.hiddenSize % c.numHeads !== 0) {
    throw new ConfigError('config.numHeads', `hiddenSize ${c.hiddenSize} is not divisible by numHeads ${c.numHeads}`);
  }
  if (!['gelu', 'gelu_new', 'relu'].includes(c.hiddenAct)) throw new ConfigError('config.hiddenAct', `unsupported activation '${c.hiddenAct}'`);
  if (!['bert', 'roberta'].includes(c.architecture)) throw new ConfigError('config.architecture', `unsupported architecture '${c.architecture}' (bert, roberta)`);
  for (const k of ['hiddenDropout', 'attentionDropout'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) throw new ConfigError(`config.${k}`, `must be in [0, 1), got ${c[k]}`);
  }
  if (!(c.layerNormEps > 0)) throw new ConfigError('config.layerNormEps', `must be > 0`);
  return c;
}

/** The longest input the position table allows: RoBERTa's positions start after the padding index. */
export function maxSequenceLength(config: EncoderConfig): number {
  return config.architecture === 'roberta' ? config.maxPositions - config.padTokenId - 1 : config.maxPositions;
}

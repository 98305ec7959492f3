import type { Executor } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';
import type { BpeTokenizer } from './bpe';
import { generate } from './generate';
import { corpusBleu, corpusChrf } from './metrics';
import { targetTag } from './recipes';
import { configOf } from './run';

export interface TranslateOptions {
  /** Target language: its tag `<2xx>` goes before the source when the vocabulary has it. */
  readonly tgt?: string;
  readonly numBeams?: number;
  /** Generated tokens per sentence at most (decoder start and EOS included); default the model's positions. */
  readonly maxLength?: number;
  readonly batchSize?: number;
  readonly lengthPenalty?: number;
}

/** Source ids as the recipes train them: [<2tgt>] + pieces, cut to leave room for EOS within the model's positions. */
export function sourceIds(tokenizer: BpeTokenizer, text: string, maxPositions: number, tgt?: string): number[] {
  const tag = tgt !== undefined && tokenizer.vocab.includes(targetTag(tgt)) ? [tokenizer.id(targetTag(tgt))] : [];
  return [...tag, ...tokenizer.encode(text)].slice(0, maxPositions - 1);
}

/** Target ids (no EOS: the batch adds it), cut to the model's positions. */
export const targetIds = (tokenizer: BpeTokenizer, text: string, maxPositions: number): number[] => tokenizer.encode(text).slice(0, maxPositions - 1);

/** Translates sentences in batches (greedy or beam search) and detokenises. */
export function translate(executor: Executor, tokenizer: BpeTokenizer, sentences: readonly string[], options: TranslateOptions = {}): string[] {
  const config = configOf(executor);
  const batchSize = options.batchSize ?? 32;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new ConfigError('batchSize', `must be a positive integer, got ${batchSize}`);
  const out: string[] = [];
  for (let i = 0; i < sentences.length; i += batchSize) {
    const rows = sentences.slice(i, i + batchSize).map((s) => [...sourceIds(tokenizer, s, config.maxPositions, options.tgt), config.eosTokenId]);
    const len = Math.max(...rows.map((r) => r.length));
    const ids = rows.map((r) => [...r, ...new Array<number>(len - r.length).fill(config.padTokenId)]);
    const mask = rows.map((r) => [...r.map(() => 1), ...new Array<number>(len - r.length).fill(0)]);
    const generated = generate(executor, ids, mask, { maxLength: options.maxLength ?? config.maxPositions, numBeams: options.numBeams ?? 1, lengthPenalty: options.lengthPenalty ?? 1 });
    for (const g of generated) out.push(tokenizer.decode(g));
  }
  return out;
}

export interface TranslationScore {
  readonly bleu: number;
  readonly chrf: number;
  readonly sentences: number;
}

/** Corpus BLEU (13a) and chrF of hypotheses against one reference each, as sacreBLEU. */
export function scoreTranslations(hypotheses: readonly string[], references: readonly string[]): TranslationScore {
  if (hypotheses.length !== references.length || hypotheses.length === 0) throw new ConfigError('references', `need one per hypothesis (≥ 1), got ${references.length} for ${hypotheses.length}`);
  return { bleu: corpusBleu(hypotheses, [references]).score, chrf: corpusChrf(hypotheses, [references]), sentences: hypotheses.length };
}

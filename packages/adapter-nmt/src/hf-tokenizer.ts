import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ConfigError } from '@adapters/core-graph';

/** A tokenizer.json is read whole: refuse anything larger (a 250k-piece SentencePiece vocabulary is ~20 MB). */
export const HF_TOKENIZER_MAX_BYTES = 64 << 20;

/** A Hugging Face fast tokenizer (tokenizer.json + tokenizer_config.json), run by `@huggingface/tokenizers` (pure JS). */
export interface HfTokenizer {
  /** Ids as Python's `tokenizer(text)["input_ids"]` (special tokens added by the post-processor). */
  encode(text: string): number[];
  /** Text as `tokenizer.decode(ids, skip_special_tokens=...)`. */
  decode(ids: readonly number[], options?: { readonly skipSpecialTokens?: boolean }): string;
  readonly vocabSize: number;
}

async function readJson(file: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info) {
    if (required) throw new ConfigError(file, 'cannot read: a Hugging Face fast tokenizer folder has tokenizer.json');
    return undefined;
  }
  if (info.size > HF_TOKENIZER_MAX_BYTES) throw new ConfigError(file, `is ${info.size} bytes; at most ${HF_TOKENIZER_MAX_BYTES} are read`);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, `is not JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(file, 'must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * Loads `dir/tokenizer.json` (and `tokenizer_config.json` when present) of a BART / mBART / T5-style fast tokenizer.
 * Marian checkpoints ship SentencePiece models (source.spm / target.spm) instead: convert them with transformers'
 * fast-tokenizer conversion first.
 */
export async function loadHfTokenizer(dir: string): Promise<HfTokenizer> {
  const file = join(dir, 'tokenizer.json');
  const json = (await readJson(file, true)) as Record<string, unknown>;
  const config = (await readJson(join(dir, 'tokenizer_config.json'), false)) ?? {};
  if (json['model'] === null || typeof json['model'] !== 'object') throw new ConfigError(`${file}: model`, 'must be an object (the tokenizer model)');
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    throw new ConfigError(file, `cannot build the tokenizer: ${(e as Error).message}`);
  }
  const vocab = (json['model'] as { vocab?: unknown }).vocab;
  const added = Array.isArray(json['added_tokens']) ? (json['added_tokens'] as Array<{ id: number }>) : [];
  const size = Math.max(Array.isArray(vocab) ? vocab.length : Object.keys((vocab as object | undefined) ?? {}).length, ...added.map((t) => t.id + 1));
  return {
    encode: (text) => tok.encode(text).ids.map(Number),
    decode: (ids, options = {}) => tok.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true }),
    vocabSize: size,
  };
}

// Treebank → parser examples: each word's first subword, gold heads and labels, and the language's typology vector.
import type { Sentence, TextTokenizer } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';

export interface ParseExample {
  /** Token ids with the tokenizer's special tokens ([CLS]/<s> first). */
  readonly ids: readonly number[];
  /** Position of ROOT (0, the first special token) and of each word's first subword: length n + 1. */
  readonly wordStarts: readonly number[];
  /** heads[d] for d = 0..n (heads[0] = 0, unused), labelIds likewise. */
  readonly heads: readonly number[];
  readonly labelIds: readonly number[];
  readonly language: Float32Array;
  readonly lang: string;
}

/** The relation of a deprel label used for LAS: the universal part (`nsubj:pass` → `nsubj`), as the CoNLL 2018 evaluation. */
export const universalRelation = (deprel: string): string => deprel.split(':')[0] ?? deprel;

/**
 * Encodes sentences of one language. Words are tokenised one by one (with the Metaspace/WordPiece prefix the
 * tokenizer adds to a whole word), and a sentence whose pieces exceed `maxLength` is dropped (counted in `dropped`).
 */
export function encodeTreebank(sentences: readonly Sentence[], tok: TextTokenizer, lang: string, language: Float32Array, labels: Map<string, number>, options: { maxLength: number; growLabels: boolean }): { examples: ParseExample[]; dropped: number } {
  const examples: ParseExample[] = [];
  let dropped = 0;
  for (const s of sentences) {
    const pieces: number[][] = s.tokens.map((t) => tok.encode(t.form).inputIds.slice(1, -1));
    const inner = pieces.reduce((a, p) => a + Math.max(1, p.length), 0);
    if (inner + 2 > options.maxLength || s.tokens.length === 0) {
      dropped++;
      continue;
    }
    const ids = [tok.clsId];
    const wordStarts = [0];
    for (const p of pieces) {
      wordStarts.push(ids.length);
      ids.push(...(p.length > 0 ? p : [tok.unkId]));
    }
    ids.push(tok.sepId);
    const labelIds = [0];
    for (const t of s.tokens) {
      const rel = universalRelation(t.deprel);
      let id = labels.get(rel);
      if (id === undefined) {
        if (!options.growLabels) id = 0;
        else {
          id = labels.size;
          labels.set(rel, id);
        }
      }
      labelIds.push(id);
    }
    examples.push({ ids, wordStarts, heads: [0, ...s.tokens.map((t) => t.head)], labelIds, language, lang });
  }
  return { examples, dropped };
}

export interface ParseBatch {
  readonly inputIds: number[][];
  readonly attentionMask: number[][];
  readonly wordIndex: number[][];
  readonly heads: number[][];
  readonly labelIds: number[][];
  /** 1 for words 1..n (what the loss and the scores count). */
  readonly wordMask: number[][];
  /** 1 for ROOT and words: the heads a word may take. */
  readonly candidates: number[][];
  readonly language: Float32Array[];
}

export function makeParseBatch(examples: readonly ParseExample[], padId: number): ParseBatch {
  if (examples.length === 0) throw new ConfigError('batch', 'empty batch');
  const t = Math.max(...examples.map((e) => e.ids.length));
  const w = Math.max(...examples.map((e) => e.wordStarts.length));
  const pad = (xs: readonly number[], n: number, v: number): number[] => [...xs, ...new Array<number>(n - xs.length).fill(v)];
  return {
    inputIds: examples.map((e) => pad(e.ids, t, padId)),
    attentionMask: examples.map((e) => pad(e.ids.map(() => 1), t, 0)),
    wordIndex: examples.map((e) => pad(e.wordStarts, w, 0)),
    heads: examples.map((e) => pad(e.heads, w, 0)),
    labelIds: examples.map((e) => pad(e.labelIds, w, 0)),
    wordMask: examples.map((e) => pad(e.wordStarts.map((_v, i) => (i === 0 ? 0 : 1)), w, 0)),
    candidates: examples.map((e) => pad(e.wordStarts.map(() => 1), w, 0)),
    language: examples.map((e) => e.language),
  };
}

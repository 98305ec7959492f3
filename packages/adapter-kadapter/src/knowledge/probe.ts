// LAMA-style cloze probe (Petroni et al. 2019): the masked-LM's ranking of the vocabulary at `[MASK]`; an item counts
// as a hit at k when one of its single-word-piece answers is among the top k. Multi-piece answers cannot be a single
// prediction, so items without any single-piece answer are skipped (counted).
import * as tf from '@tensorflow/tfjs';
import type { Executor, TextTokenizer } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';
import type { ClozeItem } from './corpus';

export interface EncodedCloze {
  readonly inputIds: readonly number[];
  readonly maskPosition: number;
  readonly answerIds: readonly number[];
}

/** Encodes items for the probe; `skipped` counts those with no single-piece answer or no [MASK] within maxLength. */
export function encodeCloze(items: readonly ClozeItem[], tokenizer: TextTokenizer, maxLength = 64): { encoded: EncodedCloze[]; skipped: number } {
  const encoded: EncodedCloze[] = [];
  let skipped = 0;
  for (const item of items) {
    const answerIds = [...new Set(item.answers.flatMap((a) => {
      const pieces = tokenizer.tokenize(a);
      const id = pieces.length === 1 ? tokenizer.tokenToId(pieces[0] as string) : undefined;
      return id === undefined || id === tokenizer.unkId ? [] : [id];
    }))];
    const inputIds = tokenizer.encode(item.text, undefined, { maxLength }).inputIds;
    const maskPosition = inputIds.indexOf(tokenizer.maskId);
    if (answerIds.length === 0 || maskPosition < 0) {
      skipped += 1;
      continue;
    }
    encoded.push({ inputIds, maskPosition, answerIds });
  }
  return { encoded, skipped };
}

/** 0-based rank of each row's best answer: how many ids score strictly higher (or equal with a lower id). */
export function answerRanks(scores: readonly (ArrayLike<number>)[], answers: readonly (readonly number[])[]): number[] {
  if (scores.length !== answers.length) throw new ConfigError('answers', `${answers.length} answer lists for ${scores.length} score rows`);
  return scores.map((row, r) => {
    let best = Infinity;
    for (const a of new Set(answers[r])) {
      const s = row[a] as number;
      let rank = 0;
      for (let i = 0; i < row.length; i++) {
        const v = row[i] as number;
        if (v > s || (v === s && i < a)) rank += 1;
      }
      best = Math.min(best, rank);
    }
    return best;
  });
}

/** Precision at each k: the share of rows whose top-k ids (by score, ties to the lower id) include an answer. */
export function precisionAtK(scores: readonly (ArrayLike<number>)[], answers: readonly (readonly number[])[], ks: readonly number[]): number[] {
  return precisionOfRanks(answerRanks(scores, answers), ks);
}

const precisionOfRanks = (ranks: readonly number[], ks: readonly number[]): number[] =>
  ks.map((k) => (ranks.length === 0 ? 0 : ranks.filter((r) => r < k).length / ranks.length));

/** Mean reciprocal rank (1-based ranks) and the median 1-based rank: graded where P@k is 0 everywhere. */
export function rankSummary(ranks: readonly number[]): { mrr: number; medianRank: number } {
  if (ranks.length === 0) return { mrr: 0, medianRank: 0 };
  const sorted = [...ranks].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { mrr: ranks.reduce((t, r) => t + 1 / (r + 1), 0) / ranks.length, medianRank: median + 1 };
}

/** Runs the masked LM (`output` = `[batch, seq, vocab]` logits) on the items and returns P@k for each k. */
export function runClozeProbe(
  executor: Executor, output: string, items: readonly EncodedCloze[], options: { ks?: readonly number[]; batchSize?: number; padId?: number; skipAdapters?: readonly string[] } = {},
): { ks: number[]; precision: number[]; count: number; mrr: number; medianRank: number } {
  const ks = [...(options.ks ?? [1, 10])];
  const batchSize = options.batchSize ?? 32;
  const rows: Float32Array[] = [];
  for (let i = 0; i < items.length; i += batchSize) {
    const slice = items.slice(i, i + batchSize);
    const seq = Math.max(...slice.map((x) => x.inputIds.length));
    const ids = slice.map((x) => [...x.inputIds, ...new Array<number>(seq - x.inputIds.length).fill(options.padId ?? 0)]);
    const mask = slice.map((x) => x.inputIds.map(() => 1).concat(new Array<number>(seq - x.inputIds.length).fill(0)));
    const got = executor.run({ input_ids: ids, attention_mask: mask }, { outputs: [output], ...(options.skipAdapters?.length ? { skipAdapters: options.skipAdapters } : {}) });
    const logits = got[output] as tf.Tensor;
    const vocab = logits.shape[2] as number;
    const data = logits.dataSync() as Float32Array;
    slice.forEach((x, b) => rows.push(Float32Array.from(data.subarray((b * seq + x.maskPosition) * vocab, (b * seq + x.maskPosition + 1) * vocab))));
    tf.dispose([...new Set(Object.values(got))]);
  }
  const ranks = answerRanks(rows, items.map((x) => x.answerIds));
  return { ks, precision: precisionOfRanks(ranks, ks), count: items.length, ...rankSummary(ranks) };
}

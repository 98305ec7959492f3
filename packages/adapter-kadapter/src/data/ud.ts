// Universal Dependencies (CoNLL-U) for linguistic-adapter pre-training: per token, the position of its
// syntactic head. Words are split into word pieces; the label sits on a word's first piece and points at
// the first piece of its head word ([CLS], position 0, for the root). Other positions are ignored (-100).
import type { Sentence, TextTokenizer, TrainExample } from '@adapters/core-graph';
import { IGNORE_LABEL } from '@adapters/core-graph';

export interface DependencyExampleOptions {
  /** Total length with [CLS] and [SEP]; words that don't fit are cut, and labels pointing at them ignored. */
  readonly maxLength?: number;
}

/** One example per sentence: ids `[CLS] pieces… [SEP]`, labels = head position per word's first piece. */
export function dependencyExample(tokenizer: TextTokenizer, sentence: Sentence, options: DependencyExampleOptions = {}): TrainExample {
  const budget = Math.max(1, (options.maxLength ?? 128) - 2);
  const ids: number[] = [tokenizer.clsId];
  const firstPiece: number[] = []; // word index (0-based) → position in ids
  for (const token of sentence.tokens) {
    const pieces = tokenizer.tokenize(token.form).map((p) => tokenizer.tokenToId(p) ?? tokenizer.unkId);
    const use = pieces.length > 0 ? pieces : [tokenizer.unkId];
    if (ids.length - 1 + use.length > budget) break;
    firstPiece.push(ids.length);
    ids.push(...use);
  }
  ids.push(tokenizer.sepId);
  const labels = ids.map(() => IGNORE_LABEL);
  firstPiece.forEach((position, w) => {
    const head = (sentence.tokens[w] as Sentence['tokens'][number]).head;
    if (head === 0) labels[position] = 0;
    else if (head - 1 < firstPiece.length) labels[position] = firstPiece[head - 1] as number;
  });
  return { inputIds: ids, label: labels };
}

export function dependencyExamples(tokenizer: TextTokenizer, sentences: readonly Sentence[], options: DependencyExampleOptions = {}): TrainExample[] {
  return sentences.map((s) => dependencyExample(tokenizer, s, options));
}

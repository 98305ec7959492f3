// Universal Dependencies data for MAD-X: unlabelled sentences for language adapters, UPOS tagging for task adapters.
import type { Sentence, TextTokenizer, TrainExample } from '@adapters/core-graph';
import { IGNORE_LABEL } from '@adapters/core-graph';

/** The 17 universal POS tags (UD v2), in a fixed order shared by every language. */
export const UPOS_TAGS = ['ADJ', 'ADP', 'ADV', 'AUX', 'CCONJ', 'DET', 'INTJ', 'NOUN', 'NUM', 'PART', 'PRON', 'PROPN', 'PUNCT', 'SCONJ', 'SYM', 'VERB', 'X'] as const;

const sentenceText = (s: Sentence): string => s.text ?? s.tokens.map((t) => t.form).join(' ');

/** Token ids ([CLS] … [SEP], at most `maxLength`) of each sentence's raw text, for masked-LM training. */
export function sentenceIds(sentences: readonly Sentence[], tokenizer: TextTokenizer, maxLength = 64): number[][] {
  return sentences.map((s) => tokenizer.encode(sentenceText(s), undefined, { maxLength }).inputIds);
}

/**
 * UPOS tagging examples: each word is tokenised on its own; its first sub-word carries the tag, the other
 * sub-words and [CLS]/[SEP] carry IGNORE_LABEL. Words past `maxLength` are dropped (not evaluated).
 * Unknown tags are errors.
 */
export function uposExamples(sentences: readonly Sentence[], tokenizer: TextTokenizer, maxLength = 64): TrainExample[] {
  const tagId = new Map<string, number>(UPOS_TAGS.map((t, i) => [t, i]));
  return sentences.map((s) => {
    const ids = [tokenizer.clsId];
    const labels = [IGNORE_LABEL];
    for (const token of s.tokens) {
      const tag = tagId.get(token.upos);
      if (tag === undefined) throw new Error(`unknown UPOS tag '${token.upos}' (word '${token.form}')`);
      const pieces = tokenizer.tokenize(token.form).map((p) => tokenizer.tokenToId(p) ?? tokenizer.unkId);
      const word = pieces.length > 0 ? pieces : [tokenizer.unkId];
      if (ids.length + word.length > maxLength - 1) break;
      word.forEach((id, i) => {
        ids.push(id);
        labels.push(i === 0 ? tag : IGNORE_LABEL);
      });
    }
    ids.push(tokenizer.sepId);
    labels.push(IGNORE_LABEL);
    return { inputIds: ids, label: labels };
  });
}

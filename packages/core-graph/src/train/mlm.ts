import { mulberry32 } from '../exec/random';
import type { TrainExample } from './batches';
import { IGNORE_LABEL } from './batches';

export interface MaskingOptions {
  readonly maskId: number;
  readonly vocabSize: number;
  /** Token ids never masked ([CLS], [SEP], padding). */
  readonly specialIds: readonly number[];
  /** Share of tokens selected for prediction (BERT: 0.15). */
  readonly probability?: number;
  readonly seed: number;
}

/**
 * BERT's masked-LM collator: selects ~15% of non-special tokens; of those, 80% become [MASK], 10% a random
 * token and 10% stay; labels hold the original id at selected positions and IGNORE_LABEL elsewhere.
 */
export function maskTokens(inputIds: readonly number[], options: MaskingOptions): TrainExample {
  const rand = mulberry32(options.seed);
  const p = options.probability ?? 0.15;
  const special = new Set(options.specialIds);
  const ids = [...inputIds];
  const labels = ids.map(() => IGNORE_LABEL);
  ids.forEach((id, i) => {
    if (special.has(id) || rand() >= p) return;
    labels[i] = id;
    const r = rand();
    if (r < 0.8) ids[i] = options.maskId;
    else if (r < 0.9) ids[i] = Math.floor(rand() * options.vocabSize);
  });
  return { inputIds: ids, label: labels };
}

/** Masks every example with its own seed (seed + index), so an epoch's masking is reproducible. */
export function maskExamples(examples: readonly (readonly number[])[], options: MaskingOptions): TrainExample[] {
  return examples.map((ids, i) => maskTokens(ids, { ...options, seed: options.seed * 1_000_003 + i }));
}

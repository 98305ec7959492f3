// Argument checks every classification-training command shares (`adapters train`, fusion-stage1/2, pals-train,
// kadapter-train), so a mistake reads the same in each.
import { LabelVocab } from '@adapters/core-graph';
import type { ParsedArgs } from './args';
import { UsageError } from './args';

export type SequencePooling = 'mean' | 'cls' | 'pooler';

/** `--pooling mean|cls|pooler` (default mean); anything else is a UsageError for the command. */
export function poolingArg(args: ParsedArgs): SequencePooling {
  const p = args.string('pooling') ?? 'mean';
  if (p !== 'mean' && p !== 'cls' && p !== 'pooler') throw new UsageError(`--pooling must be mean, cls or pooler, got '${p}'`, args.command);
  return p;
}

/** The labels of a classifier's training examples; a bad label or a single label is one UsageError naming `file`. */
export function trainingLabels(examples: Parameters<typeof LabelVocab.fromExamples>[0], file: string): LabelVocab {
  let labels: LabelVocab;
  try {
    labels = LabelVocab.fromExamples(examples);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  if (labels.size < 2) throw new UsageError(`${file}: the training data has only one label ('${labels.labels[0]}'); a classifier needs at least two`);
  return labels;
}

// Argument checks every classification-training command shares (`adapters train`, fusion-stage1/2, pals-train,
// kadapter-train), so a mistake reads the same in each.
import type { TrainOptions } from '@adapters/core-graph';
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

/** What `checkpointLayers` takes: true, false or 'auto'. */
export type GradientCheckpointing = NonNullable<TrainOptions['checkpointLayers']>;

/**
 * `--gradient-checkpointing auto|on|off` (default auto) as a training loop's `checkpointLayers`: on recomputes each
 * layer in the backward pass instead of keeping its activations (less memory, about a third more compute), auto does
 * so from the first step that runs out of wasm heap. Anything else is a UsageError for the command.
 */
export function checkpointingArg(args: ParsedArgs): GradientCheckpointing {
  const v = args.string('gradient-checkpointing') ?? 'auto';
  if (v === 'auto') return 'auto';
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new UsageError(`--gradient-checkpointing must be auto, on or off, got '${v}'`, args.command);
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

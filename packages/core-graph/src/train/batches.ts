import * as tf from '@tensorflow/tfjs';
import { mulberry32, shuffled } from '../exec/random';

/** One tokenised example; `label` is a class id, or one id per token (-100 = ignored) for tagging. */
export interface TrainExample {
  readonly inputIds: readonly number[];
  readonly tokenTypeIds?: readonly number[];
  readonly label: number | readonly number[];
}

export const IGNORE_LABEL = -100;

export interface Batch {
  readonly feeds: Record<string, tf.Tensor>;
  /** [batch] class ids, or [batch, seq] token labels with IGNORE_LABEL on padding. */
  readonly labels: tf.Tensor;
  readonly size: number;
}

/** Pads a batch to its longest example; the attention mask marks real tokens. Caller disposes. */
export function makeBatch(examples: readonly TrainExample[], padId: number): Batch {
  const seq = Math.max(...examples.map((e) => e.inputIds.length));
  const ids: number[][] = [];
  const types: number[][] = [];
  const mask: number[][] = [];
  const tokenLabels: number[][] = [];
  const classLabels: number[] = [];
  for (const e of examples) {
    const pad = seq - e.inputIds.length;
    ids.push([...e.inputIds, ...Array<number>(pad).fill(padId)]);
    types.push([...(e.tokenTypeIds ?? Array<number>(e.inputIds.length).fill(0)), ...Array<number>(pad).fill(0)]);
    mask.push([...Array<number>(e.inputIds.length).fill(1), ...Array<number>(pad).fill(0)]);
    if (typeof e.label === 'number') classLabels.push(e.label);
    else tokenLabels.push([...e.label, ...Array<number>(seq - e.label.length).fill(IGNORE_LABEL)]);
  }
  const labels = tokenLabels.length > 0 ? tf.tensor2d(tokenLabels, undefined, 'int32') : tf.tensor1d(classLabels, 'int32');
  return {
    feeds: {
      input_ids: tf.tensor2d(ids, undefined, 'int32'),
      token_type_ids: tf.tensor2d(types, undefined, 'int32'),
      attention_mask: tf.tensor2d(mask, undefined, 'float32'),
    },
    labels,
    size: examples.length,
  };
}

export function disposeBatch(b: Batch): void {
  for (const t of Object.values(b.feeds)) t.dispose();
  b.labels.dispose();
}

/** Example indices for one epoch, shuffled by a seeded PRNG (Fisher-Yates), cut into batches. */
export function epochBatches(count: number, batchSize: number, seed: number): number[][] {
  const order = shuffled(Array.from({ length: count }, (_v, i) => i), mulberry32(seed));
  const batches: number[][] = [];
  for (let i = 0; i < count; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}

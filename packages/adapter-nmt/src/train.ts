import * as tf from '@tensorflow/tfjs';
import type { Executor, RunOptions } from '@adapters/core-graph';
import { ConfigError, crossEntropy, IGNORE_LABEL } from '@adapters/core-graph';
import type { Seq2SeqConfig } from './config';
import { configOf, seq2seqForward } from './run';

/** A teacher-forcing batch: padded sources, decoder inputs (start token + target shifted right) and labels (target + EOS). */
export interface Seq2SeqBatch {
  readonly inputIds: tf.Tensor2D;
  readonly attentionMask: tf.Tensor2D;
  readonly decoderInputIds: tf.Tensor2D;
  /** [batch, tgtLen]; IGNORE_LABEL where the target is padding (no loss there). */
  readonly labels: tf.Tensor2D;
}

/**
 * Builds a batch from token ids as Hugging Face's seq2seq collators do: sources get EOS appended and are padded at the
 * end; labels are target + EOS padded with IGNORE_LABEL; decoder inputs are the labels shifted right after the decoder
 * start token, padding as the pad token. Lengths are bounded by the position table.
 */
export function makeSeq2SeqBatch(config: Seq2SeqConfig, sources: readonly (readonly number[])[], targets: readonly (readonly number[])[]): Seq2SeqBatch {
  if (sources.length === 0 || sources.length !== targets.length) throw new ConfigError('batch', `needs as many targets as sources (≥ 1), got ${sources.length} and ${targets.length}`);
  const src = sources.map((s) => [...s, config.eosTokenId]);
  const lab = targets.map((t) => [...t, config.eosTokenId]);
  const srcLen = Math.max(...src.map((s) => s.length));
  const tgtLen = Math.max(...lab.map((t) => t.length));
  for (const [what, len] of [['source', srcLen], ['target', tgtLen]] as const) {
    if (len > config.maxPositions) throw new ConfigError(`batch.${what}`, `${len} tokens (EOS included) exceed the model's ${config.maxPositions} positions`);
  }
  const pad = <T>(rows: number[][], len: number, fill: T) => rows.map((r) => [...r, ...new Array<T>(len - r.length).fill(fill)]);
  const ids = pad(src, srcLen, config.padTokenId);
  const mask = src.map((s) => [...s.map(() => 1), ...new Array<number>(srcLen - s.length).fill(0)]);
  const labels = pad(lab, tgtLen, IGNORE_LABEL);
  const decoder = labels.map((r) => [config.decoderStartTokenId, ...r.slice(0, -1).map((t) => (t === IGNORE_LABEL ? config.padTokenId : t))]);
  return {
    inputIds: tf.tensor2d(ids, [ids.length, srcLen], 'int32'),
    attentionMask: tf.tensor2d(mask, [mask.length, srcLen], 'float32'),
    decoderInputIds: tf.tensor2d(decoder, [decoder.length, tgtLen], 'int32'),
    labels: tf.tensor2d(labels as number[][], [labels.length, tgtLen], 'int32'),
  };
}

export function disposeSeq2SeqBatch(batch: Seq2SeqBatch): void {
  tf.dispose([batch.inputIds, batch.attentionMask, batch.decoderInputIds, batch.labels]);
}

/**
 * Mean token cross-entropy of the labels under teacher forcing (for a trainer's `step(() => seq2seqLoss(...))`);
 * `checkpoint` as in seq2seqForward.
 */
export function seq2seqLoss(executor: Executor, batch: Seq2SeqBatch, options: RunOptions = {}, checkpoint?: (key: string) => boolean): tf.Scalar {
  configOf(executor);
  return tf.tidy(() => crossEntropy(seq2seqForward(executor, batch, options, checkpoint)['logits'] as tf.Tensor, batch.labels));
}

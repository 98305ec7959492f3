import * as tf from '@tensorflow/tfjs';
import { accuracy, f1Binary, f1Macro, matthewsCorrelation } from '../data/metrics';
import type { Executor, Feeds } from '../exec/executor';
import type { TrainExample } from './batches';
import { IGNORE_LABEL, disposeBatch, makeBatch } from './batches';
import { crossEntropy } from './loss';

export interface EvalResult {
  readonly loss: number;
  readonly accuracy: number;
  /** Binary F1 (positive = 1) for two classes, macro F1 otherwise. */
  readonly f1: number;
  readonly mcc: number;
  readonly count: number;
}

/** Node values fed to an evaluation batch's forward pass (as `RunOptions.constants`; disposed after the batch). */
export type EvalConstants = (args: { readonly executor: Executor; readonly feeds: Feeds; readonly examples: readonly TrainExample[] }) => ReadonlyMap<string, tf.Tensor>;

export interface EvaluateOptions {
  readonly batchSize?: number;
  readonly padId?: number;
  readonly skipLayers?: number;
  /** Adapters bypassed (e.g. the model's other adapters while one is evaluated). */
  readonly skipAdapters?: readonly string[];
  /** Precomputed node values per batch, e.g. cached features of a frozen base. */
  readonly constants?: EvalConstants;
}

/** Loss and metrics of `output` over labelled examples, in batches, without dropout. */
export function evaluate(executor: Executor, output: string, examples: readonly TrainExample[], options: EvaluateOptions = {}): EvalResult {
  const batchSize = options.batchSize ?? 32;
  const preds: number[] = [];
  const golds: number[] = [];
  let lossSum = 0;
  let classes = 2;
  for (let i = 0; i < examples.length; i += batchSize) {
    const slice = examples.slice(i, i + batchSize);
    const batch = makeBatch(slice, options.padId ?? 0);
    const constants = options.constants?.({ executor, feeds: batch.feeds, examples: slice });
    const [loss, p, g] = tf.tidy(() => {
      // run(), not forward(): inference frees each activation after its last reader and uses the fused
      // inference kernels (add+LayerNorm, bottleneck adapters) when the backend has them.
      const logits = executor.run(batch.feeds, { outputs: [output], ...(options.skipLayers ? { skipLayers: options.skipLayers } : {}), ...(constants ? { constants } : {}), ...(options.skipAdapters?.length ? { skipAdapters: options.skipAdapters } : {}) })[output] as tf.Tensor;
      classes = logits.shape[logits.shape.length - 1] as number;
      return [crossEntropy(logits, batch.labels).dataSync()[0] as number, tf.argMax(logits, -1).dataSync(), batch.labels.dataSync()];
    });
    if (constants) tf.dispose([...constants.values()]);
    lossSum += loss * batch.size;
    for (let j = 0; j < g.length; j++) {
      if (g[j] === IGNORE_LABEL) continue;
      preds.push(p[j] as number);
      golds.push(g[j] as number);
    }
    disposeBatch(batch);
  }
  return {
    loss: lossSum / Math.max(1, examples.length),
    accuracy: accuracy(preds, golds),
    f1: classes === 2 ? f1Binary(preds, golds, 1) : f1Macro(preds, golds),
    mcc: matthewsCorrelation(preds, golds),
    count: golds.length,
  };
}

// The MAD-X recipe as functions a CLI (or a script) calls:
//   1. trainLanguageAdapter: masked-LM on unlabelled text of one language; only the language adapter (its
//      bottleneck adapters and its invertible block) trains.
//   2. trainTaskAdapter: the task adapter, stacked on the source language's adapter, on labelled data; base,
//      language adapter (and the masked-LM head) stay frozen; the task head trains.
//   3. swapLanguageAdapter / loadLanguageAdapter (hub.ts) + evaluateTask: zero-shot transfer with the target
//      language's adapter in place of the source language's.
import type { EvalResult, MaskingOptions, TrainExample, TrainOptions, TrainPolicy, TrainResult, WeightStore } from '@adapters/core-graph';
import { ConfigError, evaluate, Executor, maskExamples, ownersPolicy, train } from '@adapters/core-graph';
import type { MadxModel } from './madx';
import { hasMaskedLmHead } from './madx';

/** Trainer options a recipe step passes through (everything except what the step decides). */
export type StepTrainOptions = Omit<TrainOptions, 'graph' | 'store' | 'output' | 'train' | 'eval' | 'policy'>;

export interface LanguageAdapterTraining extends StepTrainOptions {
  readonly model: MadxModel;
  readonly store: WeightStore;
  /** The masked-LM head's name (its output is `${head}.logits`). */
  readonly head: string;
  /**
   * Tokenised unlabelled sentences (with [CLS]/[SEP]); masked with BERT's 15% / 80-10-10 collator, freshly for every
   * pass over them (`epochs` passes, or as many as `maxSteps` needs).
   */
  readonly texts: readonly (readonly number[])[];
  readonly evalTexts?: readonly (readonly number[])[];
  readonly masking: Omit<MaskingOptions, 'seed'>;
  /**
   * Also train the masked-LM head's transform (default false: MAD-X keeps the pre-trained head frozen). Only for
   * checkpoints that ship without an MLM head (e.g. sentence-transformers models).
   */
  readonly trainHead?: boolean;
}

/** The policy of step 1: the language adapter (bottleneck + invertible), and optionally the MLM head. */
export function languagePolicy(model: MadxModel, head?: string): TrainPolicy {
  return ownersPolicy([`adapter:${model.spec.language}`, ...(head === undefined ? [] : [`head:${head}`])]);
}

/** The policy of step 2: the task adapter and the task head; base, language adapter and other heads frozen. */
export function taskPolicy(model: MadxModel, head: string): TrainPolicy {
  if (model.spec.task === undefined) throw new ConfigError('model.spec.task', 'the model has no task adapter (build it with buildMadx(base, { language, task }))');
  return ownersPolicy([`adapter:${model.spec.task}`, `head:${head}`]);
}

/** MAD-X step 1: masked-LM training of the language adapter on unlabelled text. */
export function trainLanguageAdapter(options: LanguageAdapterTraining): TrainResult {
  const { model, store, head, texts, evalTexts, masking, trainHead, ...rest } = options;
  if (model.spec.task !== undefined) {
    throw new ConfigError('model.spec.task', `step 1 trains the language adapter alone; build the model without the task adapter '${model.spec.task}'`);
  }
  if (!(`${head}.logits` in model.graph.outputs)) throw new ConfigError('head', `the model has no head '${head}'`);
  if ((model.spec.invertible ?? true) && !hasMaskedLmHead(model.base)) throw new ConfigError('head', 'the base graph has no masked-LM head: the invertible adapter\'s inverse has nowhere to go');
  if (texts.length === 0) throw new ConfigError('texts', 'no training sentences');
  const seed = rest.seed ?? 0;
  // Dynamic masking: every pass over the texts gets its own masks (round r uses seed + 1000·r), and the trainer
  // runs once over all rounds; `epochs` (or enough passes for `maxSteps`) sets the number of rounds.
  const batchSize = rest.batchSize ?? 16;
  const needed = rest.maxSteps === undefined ? 1 : Math.ceil((rest.maxSteps * batchSize) / texts.length);
  const rounds = Math.max(1, rest.epochs ?? (rest.maxSteps === undefined ? 1 : needed));
  const train_ = Array.from({ length: rounds }, (_v, r) => maskExamples(texts, { ...masking, seed: seed + 1000 * r })).flat();
  const eval_ = evalTexts ? maskExamples(evalTexts, { ...masking, seed: seed + 1 }) : undefined;
  return train({
    selectMetric: 'loss',
    ...rest,
    epochs: 1,
    graph: model.graph,
    store,
    output: `${head}.logits`,
    train: train_,
    ...(eval_ ? { eval: eval_ } : {}),
    policy: languagePolicy(model, trainHead ? head : undefined),
  });
}

export interface TaskAdapterTraining extends StepTrainOptions {
  readonly model: MadxModel;
  readonly store: WeightStore;
  /** The task head's name. */
  readonly head: string;
  readonly train: readonly TrainExample[];
  readonly eval?: readonly TrainExample[];
}

/** MAD-X step 2: the task adapter, stacked on the (frozen) source-language adapter, with the task head. */
export function trainTaskAdapter(options: TaskAdapterTraining): TrainResult {
  const { model, store, head, train: examples, eval: evalExamples, ...rest } = options;
  const policy = taskPolicy(model, head);
  // With maxSteps and no epochs, run as many epochs as the steps need.
  const perEpoch = Math.ceil(examples.length / (rest.batchSize ?? 16));
  const epochs = rest.epochs ?? (rest.maxSteps === undefined ? 1 : Math.max(1, Math.ceil(rest.maxSteps / Math.max(1, perEpoch))));
  return train({ ...rest, epochs, graph: model.graph, store, output: `${head}.logits`, train: examples, ...(evalExamples ? { eval: evalExamples } : {}), policy });
}

/** Loss and metrics of the task head on labelled examples (token tasks: accuracy over labelled tokens). */
export function evaluateTask(model: MadxModel, store: WeightStore, head: string, examples: readonly TrainExample[], options: { batchSize?: number; padId?: number } = {}): EvalResult {
  return evaluate(new Executor(model.graph, store), `${head}.logits`, examples, options);
}

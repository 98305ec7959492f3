import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import type { Feeds } from '../exec/executor';
import { Executor } from '../exec/executor';
import type { TrainPolicy } from '../exec/policy';
import { adapterPolicy } from '../exec/policy';
import { checkSeed, hashSeed } from '../exec/random';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { linearSchedule } from './adamw';
import type { TrainExample } from './batches';
import type { DivergenceOptions } from './divergence';
import { DivergenceMonitor } from './divergence';
import { disposeBatch, epochBatches, makeBatch } from './batches';
import type { LoopSettings, StepResult, TrainerSnapshot } from './create-trainer';
import { createTrainer } from './create-trainer';
import type { EvalConstants, EvalResult } from './evaluate';
import { evaluate } from './evaluate';
import type { CheckpointLayers } from './auto-checkpoint';
import { checkpointSwitch } from './auto-checkpoint';
import { canCheckpoint, checkpointedForward } from './checkpoint';
import { crossEntropy } from './loss';

export type SelectMetric = 'accuracy' | 'f1' | 'mcc' | 'loss';

export interface TrainOptions extends LoopSettings {
  readonly graph: Graph;
  readonly store: WeightStore;
  /** Graph output holding the logits, e.g. `sst2.logits`. */
  readonly output: string;
  readonly train: readonly TrainExample[];
  readonly eval?: readonly TrainExample[];
  /** Which parameters train; Houlsby's policy (adapters, LayerNorms, heads) by default. */
  readonly policy?: TrainPolicy;
  readonly epochs?: number;
  /** Stops after this many steps even mid-epoch. */
  readonly maxSteps?: number;
  /** Evaluate every N steps (and at the end) when `eval` is given. */
  readonly evalEvery?: number;
  /** Stop after this many evaluations without improvement. */
  readonly patience?: number;
  readonly selectMetric?: SelectMetric;
  /** Restore the best evaluated weights at the end (default true). */
  readonly restoreBest?: boolean;
  /** AdapterDrop: layers below n(step) run without adapters in that step. */
  readonly skipLayers?: (step: number) => number;
  /** Adapters bypassed in every step (e.g. the model's other adapters while one trains). */
  readonly skipAdapters?: readonly string[];
  /**
   * Node values computed before each step, outside the gradient tape, and fed to the step's forward pass as
   * `RunOptions.constants` (disposed after the step): e.g. AdapterDrop's frozen lower layers
   * (adapter-bottleneck's `frozenPrefixConstants`). Nothing below them gets a gradient, so they must not read a
   * trainable tensor.
   */
  readonly constants?: (args: StepConstantsArgs) => ReadonlyMap<string, tf.Tensor>;
  /** The same for evaluations (no dropout, no skipped layers): e.g. K-Adapter's cached frozen features. */
  readonly evalConstants?: EvalConstants;
  /** Extra loss terms (e.g. fusion's value regularisation), computed inside the gradient tape. */
  readonly extraLoss?: () => tf.Scalar;
  /** Stop with TrainingDivergedError when the loss or gradient norm runs away (see DivergenceMonitor); false: only at NaN. */
  readonly divergence?: DivergenceOptions | false;
  /** Called after every step and evaluation with a JSON-able record (metrics JSONL, progress). */
  readonly onRecord?: (record: TrainRecord) => void;
  /**
   * Gradient checkpointing: keep only each layer's input for the backward pass and recompute the layer's forward
   * there (train/checkpoint.ts). Less activation memory for about one more forward pass per step; same gradients.
   * 'auto' (the default): without it until a step runs out of wasm heap, then that step again and the rest of the
   * run with it (`TrainResult.checkpointedFrom`). false: never (the heap error goes to the caller).
   */
  readonly checkpointLayers?: CheckpointLayers;
}

/** What a `constants` hook gets: the step's executor, inputs and the options its forward pass will use. */
export interface StepConstantsArgs {
  readonly executor: Executor;
  readonly feeds: Feeds;
  /** The examples of the batch, in the batch's order. */
  readonly examples: readonly TrainExample[];
  readonly step: number;
  /** The step's dropout seed (masks derive from it and the node id, inside or outside the tape alike). */
  readonly seed: number;
  readonly skipLayers: number;
}

export type TrainRecord =
  | { readonly type: 'step'; readonly step: number; readonly totalSteps: number; readonly epoch: number; readonly loss: number; readonly lr: number; readonly gradNorm: number; readonly seconds: number }
  | ({ readonly type: 'eval'; readonly step: number; readonly seconds: number } & EvalResult);

export interface TrainResult {
  readonly steps: number;
  readonly seconds: number;
  readonly trainableKeys: readonly string[];
  readonly best?: { readonly step: number; readonly metric: number; readonly eval: EvalResult };
  readonly history: readonly TrainRecord[];
  /** With checkpointLayers 'auto': the step (1-based) from which layers were checkpointed after the heap ran out. */
  readonly checkpointedFrom?: number;
}

const better = (metric: SelectMetric, a: number, b: number) => (metric === 'loss' ? a < b : a > b);

/**
 * The standard loop on `createTrainer`: trains the policy's parameters with AdamW (no decay on biases and LayerNorms), linear warm-up and
 * decay, global-norm clipping, periodic evaluation, best-checkpoint keeping and early stopping.
 * Same seed, data and backend → bit-identical weights.
 */
export function train(options: TrainOptions): TrainResult {
  const { graph, store, output } = options;
  if (!(output in graph.outputs)) throw new ConfigError('output', `graph has no output '${output}' (outputs: ${Object.keys(graph.outputs).join(', ')})`);
  if (options.train.length === 0) throw new ConfigError('train', 'no training examples');
  const batchSize = options.batchSize ?? 16;
  const epochs = options.epochs ?? 1;
  const seed = checkSeed(options.seed ?? 0);
  const padId = options.padId ?? 0;
  const metric = options.selectMetric ?? 'accuracy';
  const stepsPerEpoch = Math.ceil(options.train.length / batchSize);
  const totalSteps = Math.min(options.maxSteps ?? Infinity, epochs * stepsPerEpoch);
  const executor = new Executor(graph, store);
  // The trainer is created next; the switch reads its steps only when a step runs out of heap.
  const checkpoint = checkpointSwitch(options.checkpointLayers, () => trainer.steps, canCheckpoint(graph));
  const trainer = createTrainer({
    store, graph, policy: options.policy ?? adapterPolicy, optimizer: { weightDecay: options.weightDecay ?? 0.01 },
    schedule: linearSchedule(options.learningRate ?? 1e-4, Math.round((options.warmupRatio ?? 0.1) * totalSteps), totalSteps),
    ...(options.clipNorm === undefined ? {} : { clipNorm: options.clipNorm }),
    ...(options.lrScale === undefined ? {} : { lrScale: options.lrScale }),
  });
  const trainable = new Set(trainer.trainableKeys);
  const history: TrainRecord[] = [];
  const record = (r: TrainRecord) => {
    history.push(r);
    options.onRecord?.(r);
  };
  const started = Date.now();
  let best: TrainResult['best'];
  let bestWeights: TrainerSnapshot | undefined;
  let sinceBest = 0;
  let step = 0;
  const divergence = new DivergenceMonitor(options.divergence === false ? { lossFactor: Infinity, gradFactor: Infinity } : options.divergence);

  const runEval = (): boolean => {
    if (!options.eval || options.eval.length === 0) return false;
    const result = evaluate(executor, output, options.eval, { batchSize: Math.max(batchSize, 32), padId, ...(options.evalConstants ? { constants: options.evalConstants } : {}), ...(options.skipAdapters ? { skipAdapters: options.skipAdapters } : {}) });
    record({ type: 'eval', step, seconds: (Date.now() - started) / 1000, ...result });
    const value = result[metric];
    if (!best || better(metric, value, best.metric)) {
      best = { step, metric: value, eval: result };
      // Weights only: the optimizer state is not needed to restore the best model at the end.
      bestWeights = trainer.snapshot({ optimizer: false });
      sinceBest = 0;
    } else sinceBest += 1;
    return options.patience !== undefined && sinceBest >= options.patience;
  };

  try {
    outer: for (let epoch = 0; epoch < epochs; epoch++) {
      for (const indices of epochBatches(options.train.length, batchSize, hashSeed(seed, `epoch${epoch}`))) {
        if (step >= totalSteps) break outer;
        const examples = indices.map((i) => options.train[i] as TrainExample);
        const batch = makeBatch(examples, padId);
        const skip = options.skipLayers?.(step) ?? 0;
        const stepSeed = hashSeed(seed, `step${step}`);
        const constants = options.constants?.({ executor, feeds: batch.feeds, examples, step, seed: stepSeed, skipLayers: skip });
        let done: StepResult;
        try {
          done = trainer.step(() => {
            const runOptions = { outputs: [output], training: true, seed: stepSeed, ...(skip > 0 ? { skipLayers: skip } : {}), ...(options.skipAdapters?.length ? { skipAdapters: options.skipAdapters } : {}), ...(constants ? { constants } : {}) };
            const logits = (checkpoint.on
              ? checkpointedForward(executor, batch.feeds, runOptions, (key) => trainable.has(key))
              : executor.forward(batch.feeds, runOptions))[output] as tf.Tensor;
            const loss = crossEntropy(logits, batch.labels);
            return options.extraLoss ? tf.add(loss, options.extraLoss()) : loss;
          }, checkpoint.stepOptions);
        } finally {
          if (constants) tf.dispose([...constants.values()]);
          disposeBatch(batch);
        }
        step = done.step;
        const { loss, lr: rate, gradNorm } = done;
        record({ type: 'step', step, totalSteps, epoch, loss, lr: rate, gradNorm, seconds: (Date.now() - started) / 1000 });
        divergence.observe(step, loss, gradNorm);
        if (options.evalEvery && step % options.evalEvery === 0 && step < totalSteps && runEval()) break outer;
      }
    }
    if (!history.some((r) => r.type === 'eval' && r.step === step)) runEval();
    if (bestWeights && options.restoreBest !== false) trainer.restore(bestWeights);
  } finally {
    trainer.dispose();
  }
  return { steps: step, seconds: (Date.now() - started) / 1000, trainableKeys: trainer.trainableKeys, ...(best ? { best } : {}), history, ...(checkpoint.from !== undefined ? { checkpointedFrom: checkpoint.from } : {}) };
}

// The two-stage AdapterFusion recipe (Pfeiffer et al. 2021) on core-graph's trainer:
//   stage 1  ST-A: one adapter per task, base frozen (trainSingleTaskAdapters)
//            MT-A: the task adapters trained jointly with a multi-task loss (trainMultiTaskAdapters)
//   stage 2  base and adapters frozen; only the fusion layers and the target head train (trainFusion),
//            with the value regularisation 0.01·Σ(I − V)² added through the trainer's `extraLoss`.
// All stage-1 graphs and the stage-2 graph share one WeightStore: adapter weights are keyed by site and adapter
// name, so the same keys serve a single-adapter graph and a fusion graph.
import * as tf from '@tensorflow/tfjs';
import type {
  AdapterRegistry, AdapterUse, EvalResult, Graph, HeadSpec, LoopSettings, MultiTaskTrainOptions, TrainExample, TrainOptions, TrainRecord, TrainResult, WeightStore,
} from '@adapters/core-graph';
import { addHead, applyPlacements, ConfigError, evaluate, Executor, ownersPolicy, train, trainMultiTask } from '@adapters/core-graph';
import { TEMPERATURE_END, TEMPERATURE_START, TEMPERATURE_STEP } from './config';
import { fusionCatalog } from './plugin';
import type { FusionSpec } from './model';
import { applyFusion, fusionNameOf } from './model';
import { setFusionTemperature } from './temperature';

/** One task: its adapter (stage 1), its head and its data. */
export interface FusionTask {
  /** Task name: the head is `head:NAME`, the logits output `NAME.logits`. */
  readonly name: string;
  readonly numLabels: number;
  readonly train: readonly TrainExample[];
  readonly eval?: readonly TrainExample[];
  /** The task's adapter (default: a `bottleneck` `seq_bn` adapter named like the task). */
  readonly adapter?: AdapterUse;
  /** The task's head (default: classification with the model's default pooling). */
  readonly head?: HeadSpec;
}

/** Trainer settings shared by the stages (see core-graph's TrainOptions). */
export type StageTrainSettings = Partial<Pick<TrainOptions,
  'epochs' | 'maxSteps' | 'batchSize' | 'learningRate' | 'warmupRatio' | 'weightDecay' | 'clipNorm' | 'evalEvery' | 'patience' | 'selectMetric' | 'restoreBest' | 'seed' | 'padId' | 'onRecord' | 'checkpointLayers'>>;

export const headOf = (task: FusionTask): HeadSpec => task.head ?? { type: 'classification', name: task.name, numLabels: task.numLabels };
export const adapterOf = (task: FusionTask): AdapterUse => task.adapter ?? { kind: 'adapter', plugin: 'bottleneck', name: task.name, config: { config: 'seq_bn' } };

/** `base` + the task's head + the task's adapter (its default placement). */
export function taskGraph(base: Graph, task: FusionTask, registry: AdapterRegistry): Graph {
  return applyPlacements(addHead(base, headOf(task)), [{ adapter: adapterOf(task) }], registry).graph;
}

export interface StageOneResult {
  /** One graph per task (base + adapter + head), all reading the shared store. */
  readonly graphs: Readonly<Record<string, Graph>>;
  readonly results: Readonly<Record<string, TrainResult>>;
  /** The trained adapters, ready for a FusionSpec. */
  readonly adapters: readonly AdapterUse[];
}

/**
 * Stage 1, ST-A: trains each task's adapter and head on its own data with the base frozen (only `adapter:TASK`
 * and `head:TASK` train; the base LayerNorms stay frozen so that every adapter sees the same base model).
 */
export function trainSingleTaskAdapters(options: { base: Graph; store: WeightStore; registry: AdapterRegistry; tasks: readonly FusionTask[]; settings?: StageTrainSettings; onTask?: (task: string, result: TrainResult) => void }): StageOneResult {
  const graphs: Record<string, Graph> = {};
  const results: Record<string, TrainResult> = {};
  const seed = options.settings?.seed ?? 0;
  for (const task of options.tasks) {
    const graph = taskGraph(options.base, task, options.registry);
    options.store.sync(graph, seed);
    const use = adapterOf(task);
    const result = train({
      ...options.settings,
      graph,
      store: options.store,
      output: `${headOf(task).name}.logits`,
      train: task.train,
      ...(task.eval ? { eval: task.eval } : {}),
      policy: ownersPolicy([`adapter:${use.name}`, `head:${headOf(task).name}`]),
    });
    graphs[task.name] = graph;
    results[task.name] = result;
    options.onTask?.(task.name, result);
  }
  return { graphs, results, adapters: options.tasks.map(adapterOf) };
}

export interface MultiTaskOptions extends LoopSettings, Pick<MultiTaskTrainOptions, 'sampling' | 'epochs' | 'onRecord' | 'checkpointLayers'> {
  readonly base: Graph;
  readonly store: WeightStore;
  readonly registry: AdapterRegistry;
  readonly tasks: readonly FusionTask[];
  /** `sum`: every step adds one batch of each task's loss; `alternate`: step i trains task i mod T. Default `sum`. `sampling` overrides it. */
  readonly mix?: 'sum' | 'alternate';
  /** Optimiser steps (default: one epoch of the largest task). */
  readonly steps?: number;
}

export interface MultiTaskResult extends StageOneResult {
  readonly steps: number;
  /** Final evaluation per task (tasks with eval data). */
  readonly evals: Readonly<Record<string, EvalResult>>;
  /** With checkpointLayers 'auto': the step (1-based) from which layers were checkpointed after the heap ran out. */
  readonly checkpointedFrom?: number;
}

/**
 * Stage 1, MT-A: all task adapters and heads train together under one AdamW, with a multi-task loss
 * (the sum of per-task batch losses, or tasks in turn, or sampled), on core-graph's `trainMultiTask`. Each task's
 * batch runs through its own graph (its adapter, its head); the base stays frozen.
 */
export function trainMultiTaskAdapters(o: MultiTaskOptions): MultiTaskResult {
  if (o.tasks.length === 0) throw new ConfigError('tasks', 'no tasks');
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? 16;
  const graphs: Record<string, Graph> = {};
  const owners: string[] = [];
  for (const task of o.tasks) {
    if (task.train.length === 0) throw new ConfigError(`tasks.${task.name}.train`, 'no training examples');
    const graph = taskGraph(o.base, task, o.registry);
    o.store.sync(graph, seed);
    graphs[task.name] = graph;
    owners.push(`adapter:${adapterOf(task).name}`, `head:${headOf(task).name}`);
  }
  const steps = o.steps ?? Math.max(...o.tasks.map((t) => Math.ceil(t.train.length / batchSize)));
  const { base: _base, registry: _registry, tasks, mix, sampling, ...settings } = o;
  const { evals, checkpointedFrom } = trainMultiTask({
    ...settings,
    tasks: tasks.map((t) => ({ name: t.name, graph: graphs[t.name] as Graph, output: `${headOf(t).name}.logits`, train: t.train, ...(t.eval ? { eval: t.eval } : {}) })),
    policy: ownersPolicy(owners),
    sampling: sampling ?? ((mix ?? 'sum') === 'sum' ? 'all' : 'roundRobin'),
    steps,
  });
  return { graphs, results: {}, adapters: o.tasks.map(adapterOf), steps, evals, ...(checkpointedFrom !== undefined ? { checkpointedFrom } : {}) };
}

/** The keys of the value matrices V of a fusion, one per site. */
export function fusionValueKeys(graph: Graph, name: string): string[] {
  const record = fusionCatalog(graph)[name];
  if (!record) throw new ConfigError('fusion', `the graph has no fusion '${name}' (fusions: ${Object.keys(fusionCatalog(graph)).join(', ') || 'none'})`);
  return Object.values(record.sites).map((s) => s.params['value.weight']).filter((k): k is string => k !== undefined);
}

/**
 * AdapterHub's fusion regularisation: Σ over fusion layers of 0.01·Σ(I − V)², for the V matrices that currently
 * train (as AdapterHub checks `requires_grad`). A function for the trainer's `extraLoss`; returns 0 when none trains.
 */
export function fusionRegularization(graph: Graph, store: WeightStore, name: string, weight = 0.01): () => tf.Scalar {
  const keys = fusionValueKeys(graph, name);
  return () =>
    tf.tidy(() => {
      const terms = keys.filter((k) => store.get(k).trainable).map((k) => {
        const v = store.get(k);
        const eye = tf.eye(v.shape[0] as number);
        return tf.sum(tf.square(tf.sub(eye, v)));
      });
      return (terms.length === 0 ? tf.scalar(0) : tf.mul(tf.addN(terms), weight)) as tf.Scalar;
    });
}

/** Stage-2 model: `base` + the target head + the fusion of the stage-1 adapters. */
export function fusionGraph(base: Graph, spec: FusionSpec, head: HeadSpec, registry: AdapterRegistry): Graph {
  return applyFusion(addHead(base, head), spec, registry).graph;
}

/**
 * `graph`: a graph with the fusion (and the target head), e.g. from `fusionGraph`; `output`: the target head's logits,
 * e.g. `rte.logits`.
 */
export interface FusionTrainOptions extends StageTrainSettings, Pick<TrainOptions, 'graph' | 'store' | 'output' | 'train' | 'eval'> {
  /** The fusion to train. */
  readonly name: string;
  /** Train the head as well (default true). */
  readonly trainHead?: boolean;
}

/**
 * Stage 2: freezes the base model and every adapter and trains only `fusion:NAME` (and the target head), adding
 * the value regularisation when the config asks for it. With `temperature: true` the softmax temperature starts
 * at 50 and falls by 0.05 per step to 1.
 */
export function trainFusion(o: FusionTrainOptions): TrainResult {
  const record = fusionCatalog(o.graph)[o.name];
  if (!record) throw new ConfigError('name', `the graph has no fusion '${o.name}' (fusions: ${Object.keys(fusionCatalog(o.graph)).join(', ') || 'none'})`);
  const head = o.output.endsWith('.logits') ? o.output.slice(0, -'.logits'.length) : o.output;
  const owners = [`fusion:${o.name}`, ...(o.trainHead === false ? [] : [`head:${head}`])];
  const config = record.config;
  const regularize = config.regularization && config.value;
  if (config.temperature) setFusionTemperature(o.store, o.name, TEMPERATURE_START);
  const onRecord = (r: TrainRecord): void => {
    if (config.temperature && r.type === 'step') setFusionTemperature(o.store, o.name, Math.max(TEMPERATURE_START - TEMPERATURE_STEP * r.step, TEMPERATURE_END));
    o.onRecord?.(r);
  };
  const { graph, store, name: _name, trainHead: _trainHead, ...settings } = o;
  return train({
    ...settings,
    graph,
    store,
    policy: ownersPolicy(owners),
    ...(regularize ? { extraLoss: fusionRegularization(graph, store, o.name) } : {}),
    onRecord,
  });
}

/** Convenience for scripts: evaluate one output of a graph on examples. */
export function evaluateOutput(graph: Graph, store: WeightStore, output: string, examples: readonly TrainExample[], batchSize = 32): EvalResult {
  return evaluate(new Executor(graph, store), output, examples, { batchSize });
}

export { fusionNameOf };

import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { Executor } from '../exec/executor';
import type { TrainPolicy } from '../exec/policy';
import { adaptersOnlyPolicy } from '../exec/policy';
import { hashSeed } from '../exec/random';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { linearSchedule } from './adamw';
import type { Batch, TrainExample } from './batches';
import { disposeBatch, epochBatches, makeBatch } from './batches';
import type { CheckpointLayers } from './auto-checkpoint';
import { checkpointSwitch } from './auto-checkpoint';
import { canCheckpoint, checkpointedForward } from './checkpoint';
import type { LoopSettings } from './create-trainer';
import { createTrainer } from './create-trainer';
import type { EvalResult } from './evaluate';
import { evaluate } from './evaluate';
import { crossEntropy } from './loss';
import type { TaskSampling } from './task-sampling';
import { taskSchedule } from './task-sampling';

/** One task of a multi-task run: its graph (shared body + its own head and adapters), output and data. */
export interface TrainTask {
  readonly name: string;
  /** A graph over the shared store; parameters shared between tasks have the same keys in every task's graph. */
  readonly graph: Graph;
  /** The task head's logits output, e.g. `rte.logits`. */
  readonly output: string;
  readonly train: readonly TrainExample[];
  readonly eval?: readonly TrainExample[];
}

export interface MultiTaskRecord {
  readonly type: 'step';
  readonly step: number;
  readonly totalSteps: number;
  /** 0-based epoch of the schedule (the annealed sampling's e − 1). */
  readonly epoch: number;
  /** Tasks trained in this step and their batch losses. */
  readonly tasks: readonly string[];
  readonly losses: readonly number[];
  /** The optimized loss (the sum of `losses`). */
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly seconds: number;
}

export interface MultiTaskTrainOptions extends LoopSettings {
  readonly store: WeightStore;
  readonly tasks: readonly TrainTask[];
  /** Which parameters train, applied to every task's graph (default: everything but the base). */
  readonly policy?: TrainPolicy;
  /** How tasks are chosen per step (default `proportional`). */
  readonly sampling?: TaskSampling;
  /** Optimizer steps; default `epochs` × (all tasks' examples / batch size). */
  readonly steps?: number;
  /** Epochs the steps span (the annealed schedule's E); default 1. */
  readonly epochs?: number;
  readonly onRecord?: (record: MultiTaskRecord) => void;
  /**
   * Gradient checkpointing of each task's layers, as `train`'s option: 'auto' (the default) turns it on from the
   * first step that runs out of wasm heap (that step is computed again), true always, false never.
   */
  readonly checkpointLayers?: CheckpointLayers;
}

export interface MultiTaskTrainResult {
  readonly steps: number;
  readonly trainableKeys: readonly string[];
  /** Final evaluation per task (tasks with eval data). */
  readonly evals: Readonly<Record<string, EvalResult>>;
  readonly history: readonly MultiTaskRecord[];
  /** With checkpointLayers 'auto': the step (1-based) from which layers were checkpointed after the heap ran out. */
  readonly checkpointedFrom?: number;
}

/**
 * Multi-task training on one shared store: each step draws its task(s) (`sampling`), runs a batch of each through
 * the task's own graph, and takes one AdamW step on the summed loss w.r.t. the trainable parameters of the tasks
 * drawn only, so a head (or task adapter) gets gradients and optimizer updates only in steps of its task.
 * Per-task batches are reshuffled (seeded) each time a task runs out of data. Same seed → same weights.
 */
export function trainMultiTask(o: MultiTaskTrainOptions): MultiTaskTrainResult {
  if (o.tasks.length === 0) throw new ConfigError('tasks', 'no tasks');
  const names = new Set<string>();
  for (const task of o.tasks) {
    if (names.has(task.name)) throw new ConfigError('tasks', `task '${task.name}' is listed twice`);
    names.add(task.name);
    if (task.train.length === 0) throw new ConfigError(`tasks.${task.name}.train`, 'no training examples');
    if (!(task.output in task.graph.outputs)) throw new ConfigError(`tasks.${task.name}.output`, `graph has no output '${task.output}'`);
  }
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? 16;
  const padId = o.padId ?? 0;
  const epochs = o.epochs ?? 1;
  const sizes = o.tasks.map((t) => t.train.length);
  const steps = o.steps ?? epochs * Math.ceil(sizes.reduce((a, b) => a + b, 0) / batchSize);
  const schedule = taskSchedule({ sizes, sampling: o.sampling ?? 'proportional', steps, epochs, seed });
  const policy = o.policy ?? adaptersOnlyPolicy;
  const checkpoint = checkpointSwitch(o.checkpointLayers, () => trainer.steps, o.tasks.some((t) => canCheckpoint(t.graph)));
  const trainer = createTrainer({
    store: o.store, graph: o.tasks.map((t) => t.graph), policy, optimizer: { weightDecay: o.weightDecay ?? 0.01 },
    schedule: linearSchedule(o.learningRate ?? 1e-4, Math.round((o.warmupRatio ?? 0.1) * steps), steps),
    ...(o.clipNorm === undefined ? {} : { clipNorm: o.clipNorm }),
  });
  const trainable = new Set(trainer.trainableKeys);
  const keysOf = o.tasks.map((t) => [...t.graph.params.values()].filter((p) => trainable.has(p.key) && policy(p)).map((p) => p.key));
  const executors = o.tasks.map((t) => new Executor(t.graph, o.store));
  const streams = o.tasks.map(() => ({ epoch: 0, queue: [] as number[][] }));
  const nextBatch = (i: number): Batch => {
    const task = o.tasks[i] as TrainTask;
    const s = streams[i] as { epoch: number; queue: number[][] };
    if (s.queue.length === 0) s.queue = epochBatches(task.train.length, batchSize, hashSeed(seed, `${task.name}#${s.epoch++}`));
    return makeBatch((s.queue.shift() as number[]).map((j) => task.train[j] as TrainExample), padId);
  };
  const stepsPerEpoch = Math.max(1, Math.ceil(steps / epochs));
  const history: MultiTaskRecord[] = [];
  const started = Date.now();
  try {
    for (let step = 0; step < steps; step++) {
      const active = schedule[step] as number[];
      const batches = active.map(nextBatch);
      const losses: number[] = [];
      const keys = [...new Set(active.flatMap((t) => keysOf[t] as string[]))];
      const stepKeys = new Set(keys);
      let done;
      try {
        done = trainer.step(() => {
          // A step retried after running out of heap computes its losses anew.
          losses.length = 0;
          const parts = active.map((t, k) => {
            const task = o.tasks[t] as TrainTask;
            const b = batches[k] as Batch;
            const executor = executors[t] as Executor;
            const runOptions = { outputs: [task.output], training: true, seed: hashSeed(seed, `${task.name}@${step}`) };
            const out = checkpoint.on ? checkpointedForward(executor, b.feeds, runOptions, (key) => stepKeys.has(key)) : executor.forward(b.feeds, runOptions);
            return crossEntropy(out[task.output] as tf.Tensor, b.labels);
          });
          parts.forEach((p) => losses.push(p.dataSync()[0] as number));
          return (parts.length === 1 ? parts[0] : tf.addN(parts)) as tf.Scalar;
        }, { keys, ...checkpoint.stepOptions });
      } finally {
        batches.forEach(disposeBatch);
      }
      const r: MultiTaskRecord = {
        type: 'step', step: done.step, totalSteps: steps, epoch: Math.min(epochs - 1, Math.floor(step / stepsPerEpoch)), tasks: active.map((t) => (o.tasks[t] as TrainTask).name),
        losses, loss: done.loss, lr: done.lr, gradNorm: done.gradNorm, seconds: (Date.now() - started) / 1000,
      };
      history.push(r);
      o.onRecord?.(r);
      if (!Number.isFinite(done.loss)) throw new Error(`multi-task training diverged at step ${done.step}: losses ${losses.join(', ')}`);
    }
  } finally {
    trainer.dispose();
  }
  const evals: Record<string, EvalResult> = {};
  o.tasks.forEach((t, i) => {
    if (t.eval && t.eval.length > 0) evals[t.name] = evaluate(executors[i] as Executor, t.output, t.eval, { batchSize: Math.max(batchSize, 32), padId });
  });
  return { steps, trainableKeys: trainer.trainableKeys, evals, history, ...(checkpoint.from !== undefined ? { checkpointedFrom: checkpoint.from } : {}) };
}

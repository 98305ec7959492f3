import type { CheckpointLayers, Graph, Trainer, TrainerSnapshot, TrainPolicy, WeightStore } from '@adapters/core-graph';
import { canCheckpoint, checkpointSwitch, ConfigError, createTrainer, Executor, hashSeed, linearSchedule, mulberry32 } from '@adapters/core-graph';
import { disposeSeq2SeqBatch, makeSeq2SeqBatch, seq2seqLoss } from './train';
import { configOf } from './run';

/** One direction's training data as token ids (the source already carries its target tag, if any). */
export interface TranslationTask {
  readonly name: string;
  /** The graph this task trains (base + its adapters); tasks share the store. */
  readonly graph: Graph;
  readonly sources: readonly (readonly number[])[];
  readonly targets: readonly (readonly number[])[];
}

export interface TrainTranslationOptions {
  readonly store: WeightStore;
  readonly tasks: readonly TranslationTask[];
  readonly policy: TrainPolicy;
  readonly steps: number;
  readonly batchSize: number;
  /** Peak learning rate: linear warm-up over `warmup` steps (default 5% of steps), then linear decay. */
  readonly learningRate: number;
  readonly warmup?: number;
  readonly seed: number;
  readonly clipNorm?: number;
  readonly weightDecay?: number;
  readonly onStep?: (r: StepRecord) => void;
  /** Continue an interrupted run from its last checkpoint (written by `onCheckpoint` with the same options). */
  readonly resumeFrom?: TranslationCheckpoint;
  /** Call `onCheckpoint` after every this many steps (not after the last: the caller saves the result then). */
  readonly checkpointEvery?: number;
  readonly onCheckpoint?: (checkpoint: TranslationCheckpoint) => void;
  /**
   * Gradient checkpointing of the encoder and decoder layers, as core-graph's `train`: 'auto' (the default) from the
   * first step that runs out of wasm heap (that step is computed again), true always, false never. A resumed run
   * starts without it again. Graphs without layer sites (T5) cannot checkpoint: 'auto' lets the error through.
   */
  readonly checkpointLayers?: CheckpointLayers;
}

/** What a translation run did: the per-step losses (resumed ones included) and which keys trained. */
export interface TranslationResult {
  readonly losses: number[];
  readonly trainableKeys: readonly string[];
  /** With checkpointLayers 'auto': the step (1-based) from which layers were checkpointed after the heap ran out. */
  readonly checkpointedFrom?: number;
}

/** One optimizer step as `onStep` reports it (and metrics.jsonl records it). */
export interface StepRecord {
  readonly step: number;
  readonly task: string;
  readonly loss: number;
  readonly gradNorm: number;
  readonly lr: number;
}

/**
 * Everything a run needs to continue exactly where it stopped: the trainable weights and AdamW's moments and step
 * (the trainer's snapshot) and the steps' records. Batches and dropout masks are functions of (seed, step), so a
 * resumed run takes the same steps as an uninterrupted one.
 */
export interface TranslationCheckpoint {
  readonly snapshot: TrainerSnapshot;
  readonly records: readonly StepRecord[];
}

/**
 * Trains translation tasks on one store, round-robin over the tasks (one task per step, so each step touches only that
 * task's trainable keys: a language adapter never gets gradients from a pair it is not in). Each task's examples are
 * drawn without replacement in an order reshuffled per epoch from `seed`. Returns the per-step losses.
 */
export function trainTranslation(options: TrainTranslationOptions): TranslationResult {
  const { store, tasks, steps, batchSize } = options;
  if (tasks.length === 0) throw new ConfigError('tasks', 'needs at least one translation task');
  for (const t of tasks) if (t.sources.length === 0 || t.sources.length !== t.targets.length) throw new ConfigError(`tasks.${t.name}`, `needs as many targets as sources (≥ 1), got ${t.sources.length} and ${t.targets.length}`);
  if (!(Number.isInteger(steps) && steps >= 0)) throw new ConfigError('steps', `must be a non-negative integer, got ${steps}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new ConfigError('batchSize', `must be a positive integer, got ${batchSize}`);
  const every = options.checkpointEvery;
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) throw new ConfigError('checkpointEvery', `must be a positive integer, got ${every}`);
  const warmup = options.warmup ?? Math.max(1, Math.round(steps * 0.05));
  const checkpoint = checkpointSwitch(options.checkpointLayers, () => trainer.steps, tasks.some((t) => canCheckpoint(t.graph)));
  const trainer = createTrainer({
    store, graph: tasks.map((t) => t.graph), policy: options.policy, schedule: linearSchedule(options.learningRate, warmup, Math.max(steps, 1)),
    clipNorm: options.clipNorm ?? 1, optimizer: { weightDecay: options.weightDecay ?? 0 },
  });
  try {
    const executors = tasks.map((t) => new Executor(t.graph, store));
    const keys = tasks.map((t) => trainer.trainableKeys.filter((k) => t.graph.params.has(k)));
    const trainsIn = keys.map((ks) => new Set(ks)).map((set) => (key: string) => set.has(key));
    const records: StepRecord[] = options.resumeFrom ? resume(trainer, options.resumeFrom, steps) : [];
    for (let s = records.length; s < steps; s++) {
      const ti = s % tasks.length;
      const task = tasks[ti] as TranslationTask;
      const rows = batchRows(task.sources.length, batchSize, options.seed, ti, Math.floor(s / tasks.length));
      const batch = makeSeq2SeqBatch(configOf(executors[ti] as Executor), rows.map((r) => task.sources[r] as number[]), rows.map((r) => task.targets[r] as number[]));
      try {
        const run = { training: true, seed: hashSeed(options.seed, `step ${s}`) };
        const r = trainer.step(() => seq2seqLoss(executors[ti] as Executor, batch, run, checkpoint.on ? trainsIn[ti] : undefined), { keys: keys[ti] as string[], ...checkpoint.stepOptions });
        const record = { step: r.step, task: task.name, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr };
        records.push(record);
        options.onStep?.(record);
      } finally {
        disposeSeq2SeqBatch(batch);
      }
      if (every !== undefined && (s + 1) % every === 0 && s + 1 < steps) options.onCheckpoint?.({ snapshot: trainer.snapshot(), records: [...records] });
    }
    return { losses: records.map((r) => r.loss), trainableKeys: trainer.trainableKeys, ...(checkpoint.from !== undefined ? { checkpointedFrom: checkpoint.from } : {}) };
  } finally {
    trainer.dispose();
  }
}

/** Puts a checkpoint's weights and optimizer state back after checking that it fits this trainer; returns its records. */
function resume(trainer: Trainer, checkpoint: TranslationCheckpoint, steps: number): StepRecord[] {
  const { snapshot, records } = checkpoint;
  const field = 'resumeFrom';
  if (!snapshot.optimizer) throw new ConfigError(field, 'has no optimizer state (take the snapshot with the optimizer)');
  if (!(snapshot.step === records.length && snapshot.step <= steps)) throw new ConfigError(field, `is at step ${snapshot.step} with ${records.length} step records; expected equal counts ≤ steps (${steps})`);
  const have = [...snapshot.weights.keys()].sort();
  const want = [...trainer.trainableKeys].sort();
  if (have.join('\n') !== want.join('\n')) {
    const odd = have.find((k) => !want.includes(k)) ?? want.find((k) => !have.includes(k));
    throw new ConfigError(field, `holds other trainable weights than this run (first difference: '${odd}')`);
  }
  trainer.restore(snapshot);
  return [...records];
}

/** Rows of a task's k-th batch: epochs of a seeded permutation (the same rows for the same seed, task and k). */
export function batchRows(n: number, batchSize: number, seed: number, task: number, k: number): number[] {
  const perEpoch = Math.max(1, Math.ceil(n / batchSize));
  const epoch = Math.floor(k / perEpoch);
  const order = permutation(n, hashSeed(seed, `task ${task} epoch ${epoch}`));
  const start = (k % perEpoch) * batchSize;
  return order.slice(start, Math.min(n, start + batchSize));
}

function permutation(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const p = Array.from({ length: n }, (_v, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j] as number, p[i] as number];
  }
  return p;
}


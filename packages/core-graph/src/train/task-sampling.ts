import { ConfigError } from '../errors';
import { hashSeed, mulberry32 } from '../exec/random';

/**
 * Which task(s) a multi-task step trains:
 * - `proportional`: one task, p_i ∝ N_i (dataset sizes);
 * - `{ temperature: T }`: one task, p_i ∝ N_i^(1/T) (T = 1 proportional, T → ∞ uniform);
 * - `annealed`: one task, p_i ∝ N_i^α with α = 1 − 0.8·(e − 1)/(E − 1) in epoch e of E (Stickland & Murray 2019,
 *   BERT and PALs): proportional at first, closer to uniform towards the end;
 * - `uniform`: one task, p_i = 1/T;
 * - `roundRobin`: step s trains task s mod T;
 * - `all`: every task every step, the losses summed.
 */
export type TaskSampling = 'proportional' | 'annealed' | 'uniform' | 'roundRobin' | 'all' | { readonly temperature: number };

/** Exponent α of the annealed schedule in epoch `epoch` (1-based) of `epochs`. */
export function annealedAlpha(epoch: number, epochs: number): number {
  return epochs <= 1 ? 1 : 1 - (0.8 * (epoch - 1)) / (epochs - 1);
}

/** Probability of each task in a step of epoch `epoch` (1-based) of `epochs`, for the one-task samplings. */
export function taskProbabilities(sizes: readonly number[], sampling: TaskSampling, epoch = 1, epochs = 1): number[] {
  if (sizes.length === 0) throw new ConfigError('tasks', 'no tasks');
  sizes.forEach((n, i) => {
    if (!(Number.isFinite(n) && n > 0)) throw new ConfigError(`tasks.${i}`, `dataset size must be positive, got ${n}`);
  });
  let exponent: number;
  if (sampling === 'proportional') exponent = 1;
  else if (sampling === 'uniform') exponent = 0;
  else if (sampling === 'annealed') exponent = annealedAlpha(epoch, epochs);
  else if (typeof sampling === 'object') {
    const t = sampling.temperature;
    if (!(Number.isFinite(t) && t > 0)) throw new ConfigError('sampling.temperature', `must be a positive number, got ${t}`);
    exponent = 1 / t;
  } else throw new ConfigError('sampling', `'${sampling}' does not draw tasks at random`);
  // Powers relative to the largest size: no overflow for large N and small T.
  const largest = Math.max(...sizes);
  const weights = sizes.map((n) => (n / largest) ** exponent);
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

export interface TaskScheduleOptions {
  /** Training examples per task. */
  readonly sizes: readonly number[];
  readonly sampling: TaskSampling;
  readonly steps: number;
  /** Epochs the steps span (the annealed schedule's E); default 1. */
  readonly epochs?: number;
  readonly seed: number;
}

/**
 * The task indices trained at each step: a deterministic function of the options (the seed drives one mulberry32
 * stream of uniform draws, inverted through the cumulative probabilities).
 */
export function taskSchedule(o: TaskScheduleOptions): number[][] {
  const epochs = o.epochs ?? 1;
  if (!(Number.isInteger(o.steps) && o.steps >= 0)) throw new ConfigError('steps', `must be a non-negative integer, got ${o.steps}`);
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new ConfigError('epochs', `must be a positive integer, got ${epochs}`);
  const count = o.sizes.length;
  if (o.sampling === 'all') return Array.from({ length: o.steps }, () => Array.from({ length: count }, (_v, i) => i));
  if (o.sampling === 'roundRobin') return Array.from({ length: o.steps }, (_v, s) => [s % count]);
  const rand = mulberry32(hashSeed(o.seed, 'task-sampling'));
  const stepsPerEpoch = Math.max(1, Math.ceil(o.steps / epochs));
  const cumulative = new Map<number, number[]>();
  const cumulativeOf = (epoch: number): number[] => {
    let c = cumulative.get(epoch);
    if (!c) {
      let sum = 0;
      c = taskProbabilities(o.sizes, o.sampling, epoch, epochs).map((p) => (sum += p));
      cumulative.set(epoch, c);
    }
    return c;
  };
  return Array.from({ length: o.steps }, (_v, s) => {
    const c = cumulativeOf(Math.min(epochs, Math.floor(s / stepsPerEpoch) + 1));
    const u = rand();
    const i = c.findIndex((x) => u < x);
    return [i < 0 ? count - 1 : i];
  });
}

import * as tf from '@tensorflow/tfjs';
import { WasmHeapExhaustedError } from '../backend/wasm-heap-guard';
import { ConfigError } from '../errors';
import type { TrainPolicy } from '../exec/policy';
import { adapterPolicy, decays } from '../exec/policy';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { ParamSpec } from '../graph/types';
import type { AdamWOptions, AdamWState } from './adamw';
import { AdamW, clipByGlobalNorm } from './adamw';

/** Settings the training loops on createTrainer share (train(), trainMultiTask(), plugin loops). */
export interface LoopSettings {
  readonly batchSize?: number;
  /** Peak learning rate of the linear warm-up and decay. */
  readonly learningRate?: number;
  readonly warmupRatio?: number;
  readonly weightDecay?: number;
  /** Global gradient-norm clip; 0 or Infinity disables. */
  readonly clipNorm?: number;
  readonly seed?: number;
  readonly padId?: number;
  /**
   * Per-parameter multiplier of the schedule's learning rate (default 1 for all), e.g. a smaller rate for fine-tuned
   * base weights beside adapters and heads. Must be finite and ≥ 0.
   */
  readonly lrScale?: (param: ParamSpec) => number;
}

export interface TrainerOptions {
  readonly store: WeightStore;
  /** The graph whose parameters the policy selects; several (one per task) for multi-task training. */
  readonly graph: Graph | readonly Graph[];
  /** Which parameters train; Houlsby's policy (adapters, LayerNorms, heads) by default. */
  readonly policy?: TrainPolicy;
  /** AdamW settings (decay applies to kernels and embeddings only, never to biases or LayerNorms). */
  readonly optimizer?: AdamWOptions;
  /** Learning rate of step `step` (0-based), e.g. `linearSchedule`. */
  readonly schedule: (step: number) => number;
  /** Global gradient-norm clip; 0 or Infinity disables. Default 1. */
  readonly clipNorm?: number;
  /** Per-parameter multiplier of the schedule's learning rate (see LoopSettings.lrScale). */
  readonly lrScale?: (param: ParamSpec) => number;
}

export interface StepOptions {
  /** Only these trainable keys take part in the step (e.g. the sampled task's adapter and head). Default: all. */
  readonly keys?: readonly string[];
  /**
   * Called when computing the step's gradients ran out of wasm heap (WasmHeapExhaustedError), before anything was
   * updated and after the attempt's tensors were freed: return true to compute them once more (the caller has
   * switched `lossFn` to something lighter, e.g. gradient checkpointing), false to let the error through.
   */
  readonly onHeapExhausted?: () => boolean;
}

/** What one optimizer step did: everything a divergence monitor or a progress line needs. */
export interface StepResult {
  /** Steps taken so far, this one included. */
  readonly step: number;
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  readonly lr: number;
}

/** Trainable weights and, unless taken with `optimizer: false`, the optimizer's state at one step. */
export interface TrainerSnapshot {
  readonly step: number;
  readonly weights: ReadonlyMap<string, Float32Array | Int32Array>;
  readonly optimizer?: AdamWState;
}

export interface Trainer {
  /** Keys the policy marks trainable, in the graphs' parameter order (first graph first). */
  readonly trainableKeys: readonly string[];
  /** Steps taken so far. */
  readonly steps: number;
  /** One AdamW step on the gradient of `lossFn` (evaluated under the gradient tape) w.r.t. the trainable weights. */
  step(lossFn: () => tf.Scalar, options?: StepOptions): StepResult;
  /** Copies of the trainable weights and the optimizer state (best-checkpoint keeping, resume). */
  snapshot(options?: { readonly optimizer?: boolean }): TrainerSnapshot;
  /** Puts the weights (and the optimizer state, when the snapshot has it) back. */
  restore(snapshot: TrainerSnapshot): void;
  /** Frees the optimizer's slots; the weights stay in the store. */
  dispose(): void;
}

/**
 * An optimizer bound to a store and a policy: the building block of `train()`, multi-task training and any
 * plugin loop. Marks the policy's parameters trainable (and every other parameter of the graphs frozen).
 */
export function createTrainer(options: TrainerOptions): Trainer {
  const { store } = options;
  const graphs = Array.isArray(options.graph) ? (options.graph as readonly Graph[]) : [options.graph as Graph];
  const policy = options.policy ?? adapterPolicy;
  const keys: string[] = [];
  const decaying = new Set<string>();
  const scales = new Map<string, number>();
  for (const graph of graphs) {
    for (const key of store.applyPolicy(graph, policy)) {
      if (keys.includes(key)) continue;
      keys.push(key);
      if (decays(graph.param(key))) decaying.add(key);
      if (options.lrScale) {
        const scale = options.lrScale(graph.param(key));
        if (!(Number.isFinite(scale) && scale >= 0)) throw new ConfigError('lrScale', `must be finite and >= 0, got ${scale} for '${key}'`);
        if (scale !== 1) scales.set(key, scale);
      }
    }
  }
  if (keys.length === 0) throw new ConfigError('policy', 'no parameter is trainable under this policy');
  const all = new Map(keys.map((k) => [k, store.get(k)]));
  const keyByVarName = new Map(keys.map((k) => [store.get(k).name, k]));
  const optimizer = new AdamW(decaying, options.optimizer ?? {});
  const clipNorm = options.clipNorm ?? 1.0;
  let steps = 0;

  /** tf.variableGrads, retried once when the heap ran out and onHeapExhausted says the loss is lighter now. */
  const gradientsOf = (lossFn: () => tf.Scalar, vars: tf.Variable[], onHeapExhausted: StepOptions['onHeapExhausted']) => {
    if (!onHeapExhausted) return tf.variableGrads(lossFn, vars);
    try {
      return disposingKeptOnThrow(() => tf.variableGrads(lossFn, vars));
    } catch (e) {
      if (!(e instanceof WasmHeapExhaustedError) || !onHeapExhausted()) throw e;
      return tf.variableGrads(lossFn, vars);
    }
  };

  const step = (lossFn: () => tf.Scalar, stepOptions: StepOptions = {}): StepResult => {
    let params = all;
    if (stepOptions.keys) {
      const unknown = stepOptions.keys.find((k) => !all.has(k));
      if (unknown !== undefined) throw new ConfigError('keys', `'${unknown}' is not trainable in this trainer`);
      params = new Map(stepOptions.keys.map((k) => [k, all.get(k) as tf.Variable]));
    }
    const { value, grads } = gradientsOf(lossFn, [...params.values()], stepOptions.onHeapExhausted);
    const byKey: Record<string, tf.Tensor> = {};
    for (const [name, g] of Object.entries(grads)) {
      const key = keyByVarName.get(name);
      if (key && g) byKey[key] = g;
    }
    const gradNorm = clipByGlobalNorm(byKey, clipNorm);
    const lr = options.schedule(steps);
    optimizer.apply(params, byKey, lr, scales.size > 0 ? scales : undefined);
    const loss = value.dataSync()[0] as number;
    tf.dispose([value, ...Object.values(byKey), ...Object.values(grads)]);
    steps += 1;
    return { step: steps, loss, gradNorm, lr };
  };

  return {
    trainableKeys: keys,
    get steps() {
      return steps;
    },
    step,
    snapshot: (o = {}) => ({ step: steps, weights: store.snapshot(keys), ...(o.optimizer === false ? {} : { optimizer: optimizer.state() }) }),
    restore: (snapshot) => {
      for (const [key, values] of snapshot.weights) {
        const v = store.get(key);
        const t = tf.tensor(values, v.shape, v.dtype);
        store.assign(key, t);
        t.dispose();
      }
      if (snapshot.optimizer) {
        optimizer.loadState(snapshot.optimizer);
        steps = snapshot.step;
      }
    },
    dispose: () => optimizer.dispose(),
  };
}

/**
 * Runs `f`; if it throws, disposes every tensor tf.keep()-ed meanwhile. tfjs keeps the activations a gradient tape
 * saves (and customGrad's saved tensors) out of every tidy scope and frees them only after a finished backward
 * pass, so an attempt that fails halfway would otherwise leak them all.
 */
function disposingKeptOnThrow<T>(f: () => T): T {
  const engine = tf.engine() as unknown as { keep: <S extends tf.Tensor>(t: S) => S };
  const keep = engine.keep;
  const kept: tf.Tensor[] = [];
  engine.keep = function <S extends tf.Tensor>(this: unknown, t: S): S {
    kept.push(t);
    return keep.call(this, t) as S;
  };
  try {
    return f();
  } catch (e) {
    for (const t of kept) if (!t.isDisposed) t.dispose();
    throw e;
  } finally {
    engine.keep = keep;
  }
}

// AdapterDrop (Rücklé et al., 2021): drop the adapters of the lowest n layers. Per call this is the
// executor's `RunOptions.skipLayers`; this module adds the training schedules and the frozen-prefix
// shortcut (layers without an active adapter are computed once, outside the gradient tape).
import * as tf from '@tensorflow/tfjs';
import type { Feeds, RunOptions, StepConstantsArgs } from '@adapters/core-graph';
import { ConfigError, Executor, Graph, numLayersOf, PlacementError } from '@adapters/core-graph';

export type AdapterDropMode = 'specialized' | 'robust';

export interface AdapterDropScheduleOptions {
  /** specialized: the same n in every training step and at inference; robust: n drawn per step. */
  readonly mode: AdapterDropMode;
  /** specialized: the number of lowest layers whose adapters are dropped. */
  readonly n?: number;
  /** robust: n is drawn uniformly from [min, max] (inclusive); defaults to [0, numLayers - 1]. */
  readonly range?: readonly [number, number];
  /** robust: the model's layer count, for the default range. */
  readonly numLayers?: number;
  /** robust: seeds the draws; equal seeds give equal schedules. */
  readonly seed?: number;
}

export interface AdapterDropSchedule {
  readonly mode: AdapterDropMode;
  /** Smallest and largest n the schedule returns. */
  readonly range: readonly [number, number];
  /** n for training step `step` (an integer >= 0); a pure function of (seed, step). */
  at(step: number): number;
  /** `{ skipLayers: at(step) }`, to spread into RunOptions. */
  runOptions(step: number): { readonly skipLayers: number };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** A 32-bit integer hash of (seed, step) mapped to [0, 1): random access into a reproducible stream. */
function unitHash(seed: number, step: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(step | 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 4294967296;
}

/**
 * Specialized AdapterDrop: a fixed n (train and infer with `skipLayers: n`). Robust AdapterDrop: n drawn
 * uniformly per training step from `range` (default 0..numLayers-1), so any n works at inference.
 */
export function adapterDropSchedule(options: AdapterDropScheduleOptions): AdapterDropSchedule {
  let range: [number, number];
  if (options.mode === 'specialized') {
    if (!isCount(options.n)) throw new ConfigError('adapterDrop.n', `specialized AdapterDrop needs n, an integer >= 0, got ${JSON.stringify(options.n)}`);
    range = [options.n, options.n];
  } else if (options.mode === 'robust') {
    if (options.range !== undefined) {
      const [lo, hi] = options.range;
      if (!isCount(lo) || !isCount(hi) || lo > hi) throw new ConfigError('adapterDrop.range', `must be integers 0 <= min <= max, got ${JSON.stringify(options.range)}`);
      range = [lo, hi];
    } else {
      const L = options.numLayers;
      if (!isCount(L) || L < 1) throw new ConfigError('adapterDrop.numLayers', `robust AdapterDrop needs range or numLayers >= 1, got ${JSON.stringify(L)}`);
      range = [0, L - 1];
    }
  } else {
    throw new ConfigError('adapterDrop.mode', `must be 'specialized' or 'robust', got ${JSON.stringify(options.mode)}`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new ConfigError('adapterDrop.seed', `must be an integer, got ${seed}`);
  const [lo, hi] = range;
  const at = (step: number): number => {
    if (!isCount(step)) throw new ConfigError('adapterDrop.step', `must be an integer >= 0, got ${step}`);
    return lo === hi ? lo : lo + Math.floor(unitHash(seed, step) * (hi - lo + 1));
  };
  return { mode: options.mode, range: [lo, hi], at, runOptions: (step) => ({ skipLayers: at(step) }) };
}

/** The node the first n layers hand on to layer n (the output of layer n-1, after any splice on it). */
export function frozenBoundary(graph: Graph, n: number): string {
  const L = numLayersOf(graph);
  if (!Number.isInteger(n) || n < 1 || n > L) throw new PlacementError(`frozen prefix n must be an integer in 1..${L}, got ${n}`);
  return graph.site(`layer.${n - 1}.output`).exit;
}

const FROZEN_OUTPUT = '__frozen_prefix__';
const boundaryGraphs = new WeakMap<Graph, Map<string, Graph>>();

/** The graph with one extra output reading `node`, so the executor evaluates just the prefix (memoised). */
function withProbe(graph: Graph, node: string): Graph {
  let byNode = boundaryGraphs.get(graph);
  if (!byNode) boundaryGraphs.set(graph, (byNode = new Map()));
  let probe = byNode.get(node);
  if (!probe) {
    probe = new Graph({
      nodes: graph.nodes,
      params: graph.params,
      sites: graph.sites,
      inputs: graph.inputs,
      outputs: { ...graph.outputs, [FROZEN_OUTPUT]: node },
      splices: graph.splices,
      meta: graph.meta,
      ...(graph.runtime ? { runtime: graph.runtime } : {}),
    });
    byNode.set(node, probe);
  }
  return probe;
}

const probeExecutors = new WeakMap<Executor, Map<string, Executor>>();

/** An executor of the probe graph on the same weights (memoised: building one merges common nodes). */
function probeExecutor(executor: Executor, node: string): Executor {
  let byNode = probeExecutors.get(executor);
  if (!byNode) probeExecutors.set(executor, (byNode = new Map()));
  let probe = byNode.get(node);
  if (!probe) byNode.set(node, (probe = new Executor(withProbe(executor.graph, node), executor.weights)));
  return probe;
}

/**
 * AdapterDrop's training shortcut: when the lowest n layers have no active adapter (they are dropped with
 * `skipLayers: n`), compute them outside any gradient function (Executor.run: activations freed as soon as they
 * are read, fused inference kernels where the backend has them) and hand the result to the training step as
 * `RunOptions.constants`. Returns node id of layer n-1's output → its value (n = 0: an empty map). The caller
 * owns the tensors (see disposeConstants).
 *
 * `options` should match the training step's (training, seed): dropout masks derive from the seed and the node
 * id, so the prefix gets the masks the step itself would draw. Nothing below the constants gets a gradient: the
 * caller differentiates only tensors above n (frozenPrefixConstants checks this for train()).
 */
export function computeFrozenPrefix(executor: Executor, feeds: Feeds, n: number, options: Omit<RunOptions, 'outputs' | 'constants' | 'skipLayers'> = {}): Map<string, tf.Tensor> {
  if (n === 0) return new Map();
  const graph = executor.graph;
  const node = frozenBoundary(graph, n);
  const skipped = new Set(options.skipAdapters ?? []);
  const unlayered = graph.splices.filter((s) => s.layer === undefined && !s.adapters.some((a) => skipped.has(a)));
  if (unlayered.length > 0) {
    throw new PlacementError(
      `cannot freeze the first ${n} layers: adapter splices outside any layer (${unlayered.map((s) => `${s.composition} at ${s.site}`).join(', ')}) would be frozen with them; skip them with skipAdapters`,
    );
  }
  const probe = probeExecutor(executor, node);
  return new Map([[node, probe.run(feeds, { ...options, skipLayers: n, outputs: [FROZEN_OUTPUT] })[FROZEN_OUTPUT] as tf.Tensor]]);
}

/** Throws when the first n layers (adapters below n skipped) read a tensor the store marks trainable. */
function assertPrefixFrozen(executor: Executor, n: number, options: Omit<RunOptions, 'outputs' | 'constants' | 'skipLayers'>): void {
  const node = frozenBoundary(executor.graph, n);
  const trainable = [...probeExecutor(executor, node).paramsRead([node], { ...options, skipLayers: n })].filter((key) => {
    const t = executor.weights.get(key);
    return t instanceof tf.Variable && t.trainable;
  });
  if (trainable.length > 0) {
    const shown = trainable.slice(0, 3).map((k) => `'${k}'`).join(', ');
    throw new PlacementError(
      `cannot compute the first ${n} layers outside the gradient tape: they read trainable ${shown}${trainable.length > 3 ? ` and ${trainable.length - 3} more` : ''} (freeze them, e.g. with adaptersOnlyPolicy, or train without the frozen prefix)`,
    );
  }
}

/**
 * A `train()` constants hook: each step whose skipLayers n is > 0 gets its lowest n layers from
 * computeFrozenPrefix (with the step's dropout seed); the trainer disposes them after the step. train()
 * differentiates every tensor its policy marks trainable, so a prefix that reads one (e.g. base LayerNorms under
 * adapterPolicy) is refused with a PlacementError naming it: its gradient would silently be lost.
 */
export function frozenPrefixConstants(): (args: StepConstantsArgs) => ReadonlyMap<string, tf.Tensor> {
  return ({ executor, feeds, seed, skipLayers }) => {
    if (skipLayers === 0) return new Map();
    assertPrefixFrozen(executor, skipLayers, { training: true, seed });
    return computeFrozenPrefix(executor, feeds, skipLayers, { training: true, seed });
  };
}

/** Disposes the tensors of a constants map from computeFrozenPrefix. */
export function disposeConstants(constants: ReadonlyMap<string, tf.Tensor>): void {
  for (const t of constants.values()) t.dispose();
}

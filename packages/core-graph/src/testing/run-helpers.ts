// Internal helpers shared by core-graph's own tests (not exported: they use tfjs and jest-free logic only).
import * as tf from '@tensorflow/tfjs';
import { PlacementError } from '../errors';
import type { Feeds, RunOptions } from '../exec/executor';
import { Executor } from '../exec/executor';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { PlacementResult, PlacementRule } from '../rewrite/apply-placements';
import { applyPlacements } from '../rewrite/apply-placements';
import type { AdapterRegistry } from '../plugin/registry';
import { createRegistry } from '../plugin/registry';
import { toyAdapter, toyZeroAdapter } from './toy-adapter';

export { maxAbsDiff } from './compare';

export const toyRegistry = (): AdapterRegistry => createRegistry([toyAdapter, toyZeroAdapter]);

/**
 * applyPlacements, or undefined when a random rule selects no site (e.g. everything excluded): such
 * rule sets are skipped with fc.pre. Every other error propagates so the property fails on it.
 */
export function tryApply(graph: Graph, rules: readonly PlacementRule[], registry: AdapterRegistry): PlacementResult | undefined {
  try {
    return applyPlacements(graph, rules, registry);
  } catch (e) {
    if (e instanceof PlacementError && /matches no site/.test(e.message)) return undefined;
    throw e;
  }
}

/** Runs the graph and copies every output to a plain Float32Array/Int32Array; no tensors survive. */
export function runValues(graph: Graph, store: WeightStore, feeds: Feeds, options: RunOptions = {}): Record<string, Float32Array | Int32Array> {
  const out = new Executor(graph, store).run(feeds, options);
  const values: Record<string, Float32Array | Int32Array> = {};
  for (const [k, t] of Object.entries(out)) {
    values[k] = t.dataSync() as Float32Array | Int32Array;
    t.dispose();
  }
  return values;
}

/** Feeds as int32 tensors owned by the caller (dispose them). */
export function idsTensor(ids: number[][]): tf.Tensor2D {
  return tf.tensor2d(ids, undefined, 'int32');
}

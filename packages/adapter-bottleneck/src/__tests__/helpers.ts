// Shared fixtures for this package's tests (excluded from the build).
import * as tf from '@tensorflow/tfjs';
import type { EncoderConfig, Graph, PlacementRule, WeightStore } from '@adapters/core-graph';
import { applyPlacements, buildEncoder, createRegistry, Executor } from '@adapters/core-graph';
import { createRefRng, refConfigOf, storeWithReferenceBase } from '@adapters/core-graph/testing';

/** Base weights from the float64 reference generator (core-graph's shared fixture). */
export const baseStore = storeWithReferenceBase;
export { refConfigOf };
import { bottleneck } from '../plugin';

export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 32, numLayers: 3, numHeads: 4, intermediateSize: 64, maxPositions: 16 };

export const registry = createRegistry([bottleneck]);


export const IDS = [
  [2, 7, 11, 5, 19, 3],
  [2, 31, 8, 3, 0, 0],
];
export const MASK = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];
export const FEEDS = { input_ids: IDS, attention_mask: MASK };


/** Random, clearly non-zero values for every parameter owned by `adapter:NAME` (so up-projections are not zero). */
export function randomizeAdapter(graph: Graph, store: WeightStore, name: string, seed: number): void {
  const rng = createRefRng(seed);
  for (const p of graph.params.values()) {
    if (p.owner !== `adapter:${name}`) continue;
    const size = p.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      if (p.kind === 'kernel') v[i] = 0.3 * rng.normal();
      else if (p.kind === 'bias') v[i] = 0.1 * rng.normal();
      else if (p.kind === 'norm') v[i] = p.key.endsWith('.weight') ? 1 + 0.2 * (2 * rng.uniform() - 1) : 0.2 * (2 * rng.uniform() - 1);
      else v[i] = 0.5 + rng.uniform();
    }
    const t = tf.tensor(v, [...p.shape]);
    store.assign(p.key, t);
    t.dispose();
  }
}

export function adapted(base: Graph, rules: readonly PlacementRule[]): Graph {
  return applyPlacements(base, rules, registry).graph;
}

export function run(graph: Graph, store: WeightStore, feeds: Record<string, number[][]> = FEEDS, options: Parameters<Executor['run']>[1] = {}): Float32Array {
  const out = new Executor(graph, store).run(feeds, options);
  const t = out['last_hidden_state'] as tf.Tensor;
  const v = t.dataSync() as Float32Array;
  for (const x of Object.values(out)) x.dispose();
  return Float32Array.from(v);
}

/** Reads a weight as float64 (kernels stay in the store's [in, out] layout). */
export function weight64(store: WeightStore, key: string): Float64Array {
  return Float64Array.from(store.get(key).dataSync());
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** max_i |got_i - ref_i| / max(1, |ref_i|): relative error, absolute near zero. */
export function maxRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} != ${ref.length}`);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs((got[i] as number) - (ref[i] as number)) / Math.max(1, Math.abs(ref[i] as number)));
  return m;
}

export const bitEqual = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

export const tinyBase = (partial: Partial<EncoderConfig> = {}): Graph => buildEncoder({ ...TINY, ...partial });

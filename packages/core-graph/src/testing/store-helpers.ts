// Weight-store and run helpers for tests of plugins: fixed token feeds, randomised adapter weights, outputs
// copied out of tfjs so no tensor survives a call.
import * as tf from '@tensorflow/tfjs';
import type { Feeds, RunOptions } from '../exec/executor';
import { Executor } from '../exec/executor';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { ParamSpec } from '../graph/types';
import type { RefRng } from './ref-rng';
import { createRefRng } from './ref-rng';

/** Two sequences of six tokens, the second padded after four (ids < 40, so any test vocabulary of 40 fits). */
export const TOY_IDS: number[][] = [
  [2, 7, 11, 5, 19, 3],
  [2, 31, 8, 3, 0, 0],
];
export const TOY_MASK: number[][] = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];
export const TOY_FEEDS = { input_ids: TOY_IDS, attention_mask: TOY_MASK };

export interface RandomizeOptions {
  /** Standard deviation of kernels and every other kind not named below (default 0.3). */
  readonly scale?: number;
  /** Standard deviation of biases (default 0.1). */
  readonly biasScale?: number;
  /** A value for one element, or undefined for the default rule (called once per element, in order). */
  readonly valueFor?: (p: ParamSpec, rng: RefRng) => number | undefined;
}

/**
 * Random, clearly non-zero values for every parameter with this owner (`adapter:NAME`, `head:NAME`, ...), so that
 * zero-initialised up-projections do not hide a wrong forward. Norm weights 1 ± 0.2, norm biases ± 0.2 (uniform),
 * scalars 0.5 + U(0, 1), biases biasScale·N(0, 1), everything else scale·N(0, 1).
 */
export function randomizeOwned(graph: Graph, store: WeightStore, owner: string, seed: number, options: RandomizeOptions = {}): void {
  const { scale = 0.3, biasScale = 0.1, valueFor } = options;
  const rng = createRefRng(seed);
  for (const p of graph.params.values()) {
    if (p.owner !== owner) continue;
    const size = p.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    for (let i = 0; i < size; i++) v[i] = valueFor?.(p, rng) ?? defaultValue(p, rng, scale, biasScale);
    setWeight(store, p.key, v, p.shape);
  }
}

function defaultValue(p: ParamSpec, rng: RefRng, scale: number, biasScale: number): number {
  if (p.kind === 'norm') return p.key.endsWith('.weight') ? 1 + 0.2 * (2 * rng.uniform() - 1) : 0.2 * (2 * rng.uniform() - 1);
  if (p.kind === 'bias') return biasScale * rng.normal();
  if (p.kind === 'scalar') return 0.5 + rng.uniform();
  return scale * rng.normal();
}

/** Assigns float32 values of this shape to a store key. */
export function setWeight(store: WeightStore, key: string, values: ArrayLike<number>, shape: readonly number[]): void {
  const t = tf.tensor(Float32Array.from(values), [...shape]);
  store.assign(key, t);
  t.dispose();
}

/** A copy of a weight as float32 / float64. */
export const readWeight = (store: WeightStore, key: string): Float32Array => Float32Array.from(store.get(key).dataSync());
export const weight64 = (store: WeightStore, key: string): Float64Array => Float64Array.from(store.get(key).dataSync());

/** Runs the graph and copies every output to a Float32Array; no tensors survive. */
export function runOutputs(graph: Graph, store: WeightStore, feeds: Feeds = TOY_FEEDS, options: RunOptions = {}): Record<string, Float32Array> {
  const out = new Executor(graph, store).run(feeds, options);
  const values: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(out)) {
    values[k] = Float32Array.from(t.dataSync());
    t.dispose();
  }
  return values;
}

/** One output of a run (default `last_hidden_state`) as a Float32Array. */
export function runOutput(graph: Graph, store: WeightStore, feeds: Feeds = TOY_FEEDS, output = 'last_hidden_state', options: RunOptions = {}): Float32Array {
  const values = runOutputs(graph, store, feeds, options);
  const v = values[output];
  if (v === undefined) throw new Error(`runOutput: the graph has no output '${output}' (outputs: ${Object.keys(values).join(', ')})`);
  return v;
}

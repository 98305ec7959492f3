// Shared fixtures for this package's tests (excluded from the build).
import * as tf from '@tensorflow/tfjs';
import type { EncoderConfig, Graph, PlacementRule, RunOptions, WeightStore } from '@adapters/core-graph';
import { applyPlacements, buildEncoder, createRegistry, Executor } from '@adapters/core-graph';
import { createRefRng } from '@adapters/core-graph/testing';
import { lora } from '../plugin';

export const registry = createRegistry([lora]);

/** Hidden 12 (3 heads), FFN 20: the FFN layers are not square, so in/out mix-ups fail. */
export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 12, numLayers: 2, numHeads: 3, intermediateSize: 20, maxPositions: 16 };

export const IDS = [
  [2, 7, 11, 5, 19, 3],
  [2, 31, 8, 3, 0, 0],
];
export const MASK = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];
export const FEEDS = { input_ids: IDS, attention_mask: MASK };

export const tinyBase = (partial: Partial<EncoderConfig> = {}): Graph => buildEncoder({ ...TINY, ...partial });

export const adapted = (base: Graph, rules: readonly PlacementRule[]): Graph => applyPlacements(base, rules, registry).graph;

/** Clearly non-zero values for every parameter of `adapter:NAME` (vectors around 1, so (IA)³ scales stay away from 0). */
export function randomizeAdapter(graph: Graph, store: WeightStore, name: string, seed: number, scale = 0.3): void {
  const rng = createRefRng(seed);
  for (const p of graph.params.values()) {
    if (p.owner !== `adapter:${name}`) continue;
    const size = p.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    const vector = p.key.endsWith('.lora_B.scale');
    for (let i = 0; i < size; i++) v[i] = vector ? 1 + scale * (2 * rng.uniform() - 1) : scale * rng.normal();
    setWeight(store, p.key, v, p.shape);
  }
}

export function setWeight(store: WeightStore, key: string, values: ArrayLike<number>, shape: readonly number[]): void {
  const t = tf.tensor(Float32Array.from(values), [...shape]);
  store.assign(key, t);
  t.dispose();
}

export function run(graph: Graph, store: WeightStore, feeds: Record<string, number[][]> = FEEDS, output = 'last_hidden_state', options: RunOptions = {}): Float32Array {
  const out = new Executor(graph, store).run(feeds, options);
  const v = Float32Array.from((out[output] as tf.Tensor).dataSync());
  for (const x of Object.values(out)) x.dispose();
  return v;
}

export const read = (store: WeightStore, key: string): Float32Array => Float32Array.from(store.get(key).dataSync());

/** max_i |got_i - ref_i| / max(1, |ref_i|): relative error, absolute near zero. */
export function maxRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} != ${ref.length}`);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs((got[i] as number) - (ref[i] as number)) / Math.max(1, Math.abs(ref[i] as number)));
  return m;
}

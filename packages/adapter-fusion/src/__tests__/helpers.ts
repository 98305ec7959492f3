// Shared fixtures for this package's tests (excluded from the build).
import * as tf from '@tensorflow/tfjs';
import type { AdapterUse, EncoderConfig, Feeds, Graph, RunOptions, TrainExample, WeightStore } from '@adapters/core-graph';
import { adapter, addHead, buildEncoder, createRegistry, Executor } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { toyAdapter } from '@adapters/core-graph/testing';
import type { FusionConfigInput } from '../config';
import { applyFusion } from '../model';

export const registry = createRegistry([bottleneck, toyAdapter]);

export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16 };
export const D = 16;

export const IDS = [
  [2, 7, 11, 5, 19, 3],
  [2, 31, 8, 3, 0, 0],
];
export const MASK = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];
export const FEEDS = { input_ids: IDS, attention_mask: MASK };

/** The tiny encoder with a 2-class target head `tgt` (dropout off unless asked). */
export function baseGraph(dropout = 0): Graph {
  return addHead(buildEncoder({ ...TINY, hiddenDropout: dropout, attentionDropout: dropout }), { type: 'classification', name: 'tgt', numLabels: 2, pooling: 'cls' });
}

export const seqBn = (name: string, overrides: Record<string, unknown> = {}): AdapterUse => adapter('bottleneck', name, { config: 'seq_bn', reduction_factor: 4, ...overrides });

export function fusedGraph(base: Graph, names: readonly string[], config: FusionConfigInput = 'dynamic', name?: string): Graph {
  return applyFusion(base, { adapters: names.map((n) => seqBn(n)), config, ...(name === undefined ? {} : { name }) }, registry).graph;
}

/** Runs and copies outputs (and requested nodes) to Float32Arrays; no tensors survive. */
export function run(graph: Graph, store: WeightStore, feeds: Feeds = FEEDS, options: RunOptions = {}): Record<string, Float32Array> {
  const out = new Executor(graph, store).run(feeds, options);
  const values: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(out)) {
    values[k] = t.dataSync() as Float32Array;
    t.dispose();
  }
  return values;
}

export function assignValues(store: WeightStore, key: string, values: ArrayLike<number>): void {
  const v = store.get(key);
  const t = tf.tensor(Array.from(values), v.shape);
  store.assign(key, t);
  t.dispose();
}

export const identity = (d: number, off = 0): Float32Array => {
  const out = new Float32Array(d * d).fill(off);
  for (let i = 0; i < d; i++) out[i * d + i] = 1;
  return out;
};

/** Deterministic pseudo-random values (mulberry32) for constructed weights. */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** Tiny labelled examples: label = whether token 7 occurs. */
export function toyExamples(count: number, seed: number): TrainExample[] {
  const r = randomValues(count * 6, seed);
  return Array.from({ length: count }, (_v, i) => {
    const len = 3 + Math.floor(Math.abs(r[i * 6] as number) * 4);
    const ids = [2, ...Array.from({ length: len - 2 }, (_w, j) => 4 + Math.floor(Math.abs(r[i * 6 + 1 + j] as number) * 30)), 3];
    return { inputIds: ids, label: ids.includes(7) || i % 3 === 0 ? 1 : 0 };
  });
}

export { maxAbsDiff } from '@adapters/core-graph/testing';

export function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && a[i] !== b[i]) return false;
  return true;
}

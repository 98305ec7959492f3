// Shared fixtures for this package's tests (excluded from the build): a tiny BERT with a masked-LM head and a
// tagging head, base weights from core-graph's float64 reference generator, random adapter weights.
import * as tf from '@tensorflow/tfjs';
import type { EncoderConfig, Feeds, Graph, RunOptions, WeightStore as Store } from '@adapters/core-graph';
import { addHead, buildEncoder, Executor } from '@adapters/core-graph';
import { createRefRng, refConfigOf, storeWithReferenceBase } from '@adapters/core-graph/testing';

/** Base weights from the float64 reference generator (core-graph's shared fixture). */
export const baseStore = storeWithReferenceBase;
export { refConfigOf };

export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16, hiddenDropout: 0, attentionDropout: 0 };

/** Encoder + masked-LM head `mlm` + token tagging head `tag` (3 labels), no adapters. */
export function tinyBase(): Graph {
  const withMlm = addHead(buildEncoder(TINY), { type: 'maskedLM', name: 'mlm' });
  return addHead(withMlm, { type: 'tokenClassification', name: 'tag', numLabels: 3, dropout: 0 });
}


export const IDS = [
  [2, 7, 11, 5, 19, 3],
  [2, 31, 8, 3, 0, 0],
];
export const MASK = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];
export const FEEDS = { input_ids: IDS, attention_mask: MASK };


/** Random, clearly non-zero values for every parameter with this owner (e.g. `adapter:en`, `head:mlm`). */
export function randomize(graph: Graph, store: Store, owner: string, seed: number, scale = 0.3): void {
  const rng = createRefRng(seed);
  for (const p of graph.params.values()) {
    if (p.owner !== owner) continue;
    const size = p.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      if (p.kind === 'norm') v[i] = p.key.endsWith('.weight') ? 1 + 0.2 * (2 * rng.uniform() - 1) : 0.2 * (2 * rng.uniform() - 1);
      else v[i] = (p.kind === 'bias' ? scale / 3 : scale) * rng.normal();
    }
    const t = tf.tensor(v, [...p.shape]);
    store.assign(p.key, t);
    t.dispose();
  }
}

/** Runs and copies the requested outputs (and nodes) to Float32Arrays; no tensors survive. */
export function runValues(graph: Graph, store: Store, feeds: Feeds = FEEDS, options: RunOptions = {}): Record<string, Float32Array> {
  const out = new Executor(graph, store).run(feeds, options);
  const values: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(out)) {
    values[k] = Float32Array.from(t.dataSync());
    t.dispose();
  }
  return values;
}

export const weight64 = (store: Store, key: string): Float64Array => Float64Array.from(store.get(key).dataSync());

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Largest |a − b| / max(|b|, floor) over all entries: relative error, absolute below `floor`. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)) / Math.max(Math.abs(b[i] as number), floor));
  return m;
}

export function bitEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(Float32Array.from(a).buffer);
  const y = new Uint32Array(Float32Array.from(b).buffer);
  return x.every((v, i) => v === y[i]);
}

/** Keys whose values differ (bit-wise) between two snapshots, plus keys present in only one. */
export function changedKeys(before: ReadonlyMap<string, ArrayLike<number>>, after: ReadonlyMap<string, ArrayLike<number>>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => {
    const a = before.get(k);
    const b = after.get(k);
    return a === undefined || b === undefined || !bitEqual(a, b);
  }).sort();
}

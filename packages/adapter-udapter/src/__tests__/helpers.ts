// Tiny fixtures for this package's tests: a 2-layer BERT with the reference base weights, a small UDapter and
// a synthetic treebank whose trees follow a rule the parser can learn.
import * as tf from '@tensorflow/tfjs';
import type { EncoderConfig, Graph, WeightStore } from '@adapters/core-graph';
import { buildEncoder } from '@adapters/core-graph';
import { createRefRng, storeWithReferenceBase } from '@adapters/core-graph/testing';
import type { UdapterConfig } from '../config';
import type { ParseExample } from '../data';
import { buildUdapterGraph, UdapterParser } from '../parser';

export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 24, hiddenDropout: 0, attentionDropout: 0 };
export const CONFIG: Partial<UdapterConfig> = { typology_dim: 5, language_hidden: 4, language_dim: 3, reduction_factor: 4 };
export const LABELS = ['root', 'nsubj', 'obj'];

export function tinyBase(): Graph {
  return buildEncoder(TINY);
}

/** A parser on the tiny base, reference base weights; adapter params random (not the identity) when `randomAdapter`. */
export function tinyParser(config: Partial<UdapterConfig> = CONFIG, options: { randomAdapter?: boolean; seed?: number } = {}): { base: Graph; parser: UdapterParser; store: WeightStore } {
  const base = tinyBase();
  const graph = buildUdapterGraph(base, config);
  const { store } = storeWithReferenceBase(graph);
  const parser = new UdapterParser(graph, store, { config: { ...(graph.meta.adapters?.['udapter']?.config as unknown as UdapterConfig) }, labels: LABELS, arc: 8, label: 4, padId: 0 }, options.seed ?? 0);
  if (options.randomAdapter === true) randomizeAdapter(parser, 11);
  return { base, parser, store };
}

/** Random biaffine tensors (they start at zero, which gives the encoder no gradient). */
export function randomizeHead(parser: UdapterParser, seed: number, scale = 0.3): void {
  const rng = createRefRng(seed);
  for (const v of Object.values(parser.head)) tf.tidy(() => v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => scale * rng.normal()), v.shape)));
}

export function randomizeAdapter(parser: UdapterParser, seed: number, scale = 0.3): void {
  const rng = createRefRng(seed);
  for (const key of parser.adapterKeys()) {
    const v = parser.store.get(key);
    const values = Float32Array.from({ length: v.size }, () => scale * rng.normal());
    tf.tidy(() => parser.store.assign(key, tf.tensor(values, v.shape)));
  }
}

export const typology = (seed: number, n = 5): Float32Array => {
  const rng = createRefRng(seed);
  return Float32Array.from({ length: n }, () => (rng.uniform() < 0.5 ? 0 : 1));
};

/** Sentences of 2–6 single-piece words; every word's head is the next word, the last word is the root (right-branching). */
export function syntheticTreebank(count: number, seed: number, language: Float32Array, lang: string): ParseExample[] {
  const rng = createRefRng(seed);
  return Array.from({ length: count }, () => {
    const n = 2 + Math.floor(rng.uniform() * 5);
    const words = Array.from({ length: n }, () => 4 + Math.floor(rng.uniform() * 36));
    return {
      ids: [2, ...words, 3],
      wordStarts: [0, ...words.map((_w, i) => i + 1)],
      heads: [0, ...words.map((_w, i) => (i === n - 1 ? 0 : i + 2))],
      labelIds: [0, ...words.map((w, i) => (i === n - 1 ? 0 : 1 + (w % 2)))],
      language,
      lang,
    };
  });
}

import * as tf from '@tensorflow/tfjs';
import type { Graph } from '@adapters/core-graph';
import { WeightStore } from '@adapters/core-graph';
import type { Seq2SeqConfig, Seq2SeqFamily } from '../config';
import { buildSeq2Seq } from '../model';

/** A tiny model with weights re-drawn large enough (N(0, 0.3²), LayerNorms around 1) that outputs depend on every input. */
export function tinyModel(family: Seq2SeqFamily, overrides: Partial<Seq2SeqConfig> = {}, seed = 1): { graph: Graph; store: WeightStore } {
  const graph = buildSeq2Seq({
    family, vocabSize: 24, dModel: 8, encoderLayers: 2, decoderLayers: 2, encoderHeads: 2, decoderHeads: 2, encoderFfn: 16, decoderFfn: 16,
    maxPositions: 16, dropout: 0, padTokenId: 1, eosTokenId: 2, decoderStartTokenId: 2, ...overrides,
  });
  const store = WeightStore.create(graph, seed);
  let k = 0;
  for (const spec of graph.params.values()) {
    const isNorm = spec.kind === 'norm' && spec.key.endsWith('.weight');
    const t = tf.tidy(() => tf.add(tf.randomNormal([...spec.shape], 0, isNorm ? 0.2 : 0.3, 'float32', seed * 1000 + k++), isNorm ? 1 : 0));
    store.assign(spec.key, t);
    t.dispose();
  }
  return { graph, store };
}

/** Rows of random token ids in [3, vocab) (no pad/eos/start), from a seeded LCG. */
export function randomIds(rows: number, cols: number, vocab: number, seed: number): number[][] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => 3 + Math.floor(next() * (vocab - 3))));
}

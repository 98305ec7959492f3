// Shared fixtures for this package's tests (excluded from the build).
import * as tf from '@tensorflow/tfjs';
import type { EncoderConfig, Feeds, Graph, RunOptions, TextTokenizer } from '@adapters/core-graph';
import { adapter, applyPlacements, assignFromCheckpoint, buildEncoder, createRegistry, Executor, GraphBuilder, WeightStore } from '@adapters/core-graph';
import type { RefBertConfig, RefWeights } from '@adapters/core-graph/testing';
import { createRefRng, randomRefWeights } from '@adapters/core-graph/testing';
import { kadapter } from '../plugin';

export const registry = createRegistry([kadapter]);

export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 16, numLayers: 3, numHeads: 2, intermediateSize: 32, maxPositions: 16 };

/** A small K-Adapter config for tests (the paper's 768-wide layers are far too big for tiny models). */
export const SMALL = { adapter_size: 8, adapter_heads: 2, adapter_intermediate_size: 12, adapter_transformer_layers: 2 };

export const IDS = [
  [2, 7, 11, 5, 19, 3],
  [2, 31, 8, 3, 0, 0],
];
export const MASK = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];
export const FEEDS = { input_ids: IDS, attention_mask: MASK };

export const refConfigOf = (graph: Graph): RefBertConfig => {
  const c = graph.meta['config'] as EncoderConfig;
  return {
    vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, intermediateSize: c.intermediateSize,
    maxPositions: c.maxPositions, typeVocabSize: c.typeVocabSize, layerNormEps: c.layerNormEps, hiddenAct: c.hiddenAct,
  };
};

/** A store for `graph` with base weights from randomRefWeights(seed), in HF layout through assignFromCheckpoint. */
export function baseStore(graph: Graph, seed = 7): { store: WeightStore; ref: RefWeights } {
  const ref = randomRefWeights(refConfigOf(graph), seed, { pooler: graph.params.has('pooler.dense.weight') });
  const store = WeightStore.create(graph, 1);
  const baseKeys = [...graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
  assignFromCheckpoint(graph, store, (hf) => ref[hf.replace(/^bert\./, '')], { keys: baseKeys });
  return { store, ref };
}

/** Clearly non-zero random values for every parameter with this owner (projections are N(0, 0.0002) at init). */
export function randomizeOwner(graph: Graph, store: WeightStore, owner: string, seed: number): void {
  const rng = createRefRng(seed);
  for (const p of graph.params.values()) {
    if (p.owner !== owner) continue;
    const size = p.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      if (p.kind === 'kernel') v[i] = 0.3 * rng.normal();
      else if (p.kind === 'bias') v[i] = 0.1 * rng.normal();
      else if (p.kind === 'norm') v[i] = p.key.endsWith('.weight') ? 1 + 0.2 * (2 * rng.uniform() - 1) : 0.2 * (2 * rng.uniform() - 1);
      else v[i] = rng.normal();
    }
    const t = tf.tensor(v, [...p.shape]);
    store.assign(p.key, t);
    t.dispose();
  }
}

/** Adds a K-Adapter with its default placement. */
export function withKAdapter(graph: Graph, name: string, config: Record<string, unknown>): Graph {
  return applyPlacements(graph, [{ adapter: adapter('kadapter', name, config) }], registry).graph;
}

/** Publishes every layer's output (site `layer.{i}.output` exit) as `hidden.{i}`, plus the embeddings as `hidden.emb`. */
export function withHiddenOutputs(graph: Graph): Graph {
  const b = GraphBuilder.from(graph);
  for (const s of graph.sites.values()) {
    if (s.kind === 'output' && s.layer !== undefined) b.output(`hidden.${s.layer}`, s.exit);
    if (s.kind === 'embeddings') b.output('hidden.emb', s.exit);
  }
  return b.build();
}

/** Runs and copies the requested outputs out as Float32Arrays (no tensors survive). */
export function runValues(graph: Graph, store: WeightStore, feeds: Feeds, options: RunOptions = {}): Record<string, { shape: number[]; values: Float32Array }> {
  const out = new Executor(graph, store).run(feeds, options);
  const values: Record<string, { shape: number[]; values: Float32Array }> = {};
  for (const [k, t] of Object.entries(out)) values[k] = { shape: t.shape, values: Float32Array.from(t.dataSync()) };
  // Several outputs may name one node (e.g. the last layer and last_hidden_state): dispose each tensor once.
  tf.dispose([...new Set(Object.values(out))]);
  return values;
}

export const bitEqual = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** max_i |got_i - ref_i| / max(1, |ref_i|): relative error, absolute near zero. */
export function maxRelErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} != ${ref.length}`);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs((got[i] as number) - (ref[i] as number)) / Math.max(1, Math.abs(ref[i] as number)));
  return m;
}

/** Reads a weight as float64 ([in, out] layout for kernels). */
export function weight64(store: WeightStore, key: string): Float64Array {
  return Float64Array.from(store.get(key).dataSync());
}

export const tinyBase = (partial: Partial<EncoderConfig> = {}): Graph => buildEncoder({ ...TINY, ...partial });

/** A whitespace word-piece tokenizer over a tiny vocabulary: words longer than 4 letters split in two. */
export function fakeTokenizer(): TextTokenizer {
  const vocab = new Map<string, number>([['[PAD]', 0], ['[UNK]', 1], ['[CLS]', 2], ['[SEP]', 3], ['[MASK]', 4], ['[unused0]', 5], ['[unused1]', 6], ['[unused2]', 7], ['[unused3]', 8]]);
  const id = (t: string): number => {
    if (!vocab.has(t)) vocab.set(t, vocab.size);
    return vocab.get(t) as number;
  };
  const tokenize = (text: string): string[] =>
    text.toLowerCase().split(/\s+/).filter(Boolean).flatMap((w) => (w.length > 4 ? [w.slice(0, 4), `##${w.slice(4)}`] : [w]));
  return {
    kind: 'vocab.txt', vocabSize: 1000, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4, modelMaxLength: 512,
    tokenize,
    tokenToId: (t) => (t.startsWith('[') ? vocab.get(t) : id(t)),
    encode: () => { throw new Error('not used'); },
    encodeBatch: () => { throw new Error('not used'); },
  };
}


/** A made-up WordNet excerpt in the data-file format (offsets, lemmas and glosses invented for tests). */
export const WORDNET_NOUNS = [
  '  1 This excerpt is made up for tests; the header lines start with two spaces.',
  '00000010 03 n 01 animal 0 001 ~ 00000020 n 0000 | a living organism that moves; "animals need food"',
  '00000020 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 003 @ 00000010 n 0000 %p 00000030 n 0000 #m 00000050 n 0000 | a domesticated canine; "the dog barked"',
  '00000030 08 n 01 tail 0 001 #p 00000020 n 0000 | the rear appendage of an animal',
  '00000040 05 n 02 cat 0 true_cat 0 001 @ 00000010 n 0000 | a small feline',
  '00000050 08 n 01 pack 0 001 %m 00000020 n 0000 | a group of hunting animals',
  '00000060 18 n 01 Rex 0 001 @i 00000020 n 0000 | a famous dog',
  '00000070 27 n 01 bone 0 000 | rigid connective tissue',
  '',
].join('\n');
export const WORDNET_ADJS = [
  '00000100 00 a 01 hot 0 001 ! 00000110 a 0101 | of high temperature',
  '00000110 00 a 01 cold 0 001 ! 00000100 a 0101 | of low temperature',
  '00000120 00 s 02 scorching 0 red-hot(a) 0 001 & 00000100 a 0000 | hot enough to burn',
  '',
].join('\n');


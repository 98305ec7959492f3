// Fixtures every plugin package's tests need: base weights from the float64 reference generator loaded
// through the checkpoint path, and a tiny Hugging Face-style model folder for CLI tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assignFromCheckpoint, exportToCheckpoint } from '../checkpoint/hf-keys';
import { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { encodeSafetensors } from '../io/safetensors';
import type { EncoderConfig } from '../model/config';
import { buildEncoder } from '../model/encoder';
import type { RefBertConfig, RefWeights } from './reference-bert';
import { randomRefWeights } from './reference-bert';

/** The float64 reference's view of a graph's encoder config. */
export function refConfigOf(graph: Graph): RefBertConfig {
  const c = graph.meta['config'] as EncoderConfig;
  return {
    vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, intermediateSize: c.intermediateSize,
    maxPositions: c.maxPositions, typeVocabSize: c.typeVocabSize, layerNormEps: c.layerNormEps, hiddenAct: c.hiddenAct,
  };
}

/**
 * A store for `graph` whose base weights come from randomRefWeights(seed) in Hugging Face layout, loaded through
 * assignFromCheckpoint (so the [out, in] → [in, out] path is exercised); everything else gets its own init.
 */
export function storeWithReferenceBase(graph: Graph, seed = 7): { store: WeightStore; ref: RefWeights } {
  const ref = randomRefWeights(refConfigOf(graph), seed, { pooler: graph.params.has('pooler.dense.weight') });
  const store = WeightStore.create(graph, 1);
  const baseKeys = [...graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
  const prefix = `${String(graph.meta['prefix'] ?? 'bert')}.`;
  assignFromCheckpoint(graph, store, (hf) => ref[hf.startsWith(prefix) ? hf.slice(prefix.length) : hf], { keys: baseKeys });
  return { store, ref };
}

/**
 * Writes a tiny random BERT as a Hugging Face folder (config.json, model.safetensors, vocab.txt) so CLI tests
 * load a real directory; `vocab` becomes the WordPiece vocabulary (include [PAD], [UNK], [CLS], [SEP], [MASK]).
 */
export function writeTinyModelDir(dir: string, vocab: readonly string[], sizes: { hiddenSize?: number; numLayers?: number; seed?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const config = { vocabSize: vocab.length, hiddenSize: sizes.hiddenSize ?? 16, numLayers: sizes.numLayers ?? 2, numHeads: 2, intermediateSize: 2 * (sizes.hiddenSize ?? 16), maxPositions: 32 };
  const graph = buildEncoder(config);
  const store = WeightStore.create(graph, sizes.seed ?? 5);
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const [k, t] of exportToCheckpoint(graph, store)) tensors[k] = { dtype: 'F32', shape: t.shape, values: t.values };
  store.dispose();
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'bert', vocab_size: config.vocabSize, hidden_size: config.hiddenSize, num_hidden_layers: config.numLayers, num_attention_heads: config.numHeads,
      intermediate_size: config.intermediateSize, max_position_embeddings: config.maxPositions, type_vocab_size: 2, hidden_act: 'gelu',
    }),
  );
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
}

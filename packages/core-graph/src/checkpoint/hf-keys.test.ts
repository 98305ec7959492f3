// Mapping between graph parameter keys / layouts and Hugging Face checkpoints.
import * as tf from '@tensorflow/tfjs';
import { GraphError } from '../errors';
import { WeightStore } from '../exec/weights';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { toyRegistry } from '../testing/run-helpers';
import type { CheckpointTensor } from './hf-keys';
import { assignFromCheckpoint, exportToCheckpoint, hfKeyOf, isTransposedInCheckpoint } from './hf-keys';

const encoder = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 1, intermediateSize: 12, maxPositions: 16 });
const withHead = addHead(encoder, { type: 'classification', name: 'sst', numLabels: 3 });
const graph = applyPlacements(withHead, [{ adapter: adapter('toy', 'a', { size: 2 }), select: { names: 'layer.0.ffn' }, mode: 'after' }], toyRegistry()).graph;

/** A checkpoint holding, for every parameter, distinct values in HF layout: value = index + 1000·(param #). */
function checkpointFor(keys: readonly string[]): Map<string, CheckpointTensor> {
  const ckpt = new Map<string, CheckpointTensor>();
  keys.forEach((key, n) => {
    const spec = graph.param(key);
    const shape = isTransposedInCheckpoint(spec) ? [...spec.shape].reverse() : [...spec.shape];
    const size = shape.reduce((a, b) => a * b, 1);
    ckpt.set(hfKeyOf(graph, key), { shape, values: Float32Array.from({ length: size }, (_x, i) => i + 1000 * n) });
  });
  return ckpt;
}

describe('hfKeyOf / isTransposedInCheckpoint', () => {
  it('base parameters gain the model prefix, head parameters lose heads.NAME., adapters keep their key', () => {
    expect(hfKeyOf(graph, 'encoder.layer.0.attention.self.query.weight')).toBe('bert.encoder.layer.0.attention.self.query.weight');
    expect(hfKeyOf(graph, 'embeddings.word_embeddings.weight')).toBe('bert.embeddings.word_embeddings.weight');
    expect(hfKeyOf(graph, 'heads.sst.classifier.weight')).toBe('classifier.weight');
    expect(hfKeyOf(graph, 'layer.0.ffn.adapters.a.down.weight')).toBe('layer.0.ffn.adapters.a.down.weight');
    const roberta = buildEncoder({ architecture: 'roberta', vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 1, intermediateSize: 12, maxPositions: 16 });
    expect(hfKeyOf(roberta, 'encoder.layer.0.output.dense.bias')).toBe('roberta.encoder.layer.0.output.dense.bias');
  });

  it('only 2-D kernels are transposed (not embeddings, biases or norms)', () => {
    expect(isTransposedInCheckpoint(graph.param('encoder.layer.0.intermediate.dense.weight'))).toBe(true);
    expect(isTransposedInCheckpoint(graph.param('embeddings.word_embeddings.weight'))).toBe(false);
    expect(isTransposedInCheckpoint(graph.param('encoder.layer.0.intermediate.dense.bias'))).toBe(false);
    expect(isTransposedInCheckpoint(graph.param('embeddings.LayerNorm.weight'))).toBe(false);
  });
});

describe('assignFromCheckpoint / exportToCheckpoint', () => {
  const keys = [...graph.params.keys()];

  it('loads [out, in] kernels as [in, out] and round-trips through export', () => {
    const ckpt = checkpointFor(keys);
    const store = WeightStore.create(graph, 0);
    try {
      assignFromCheckpoint(graph, store, (k) => ckpt.get(k));
      // intermediate.dense: HF [12, 8]; store [8, 12]; store[i][o] = hf[o][i].
      const key = 'encoder.layer.0.intermediate.dense.weight';
      const hf = ckpt.get(hfKeyOf(graph, key)) as CheckpointTensor;
      const w = store.get(key).arraySync() as number[][];
      expect(store.get(key).shape).toEqual([8, 12]);
      const n = keys.indexOf(key) * 1000;
      for (let i = 0; i < 8; i++) for (let o = 0; o < 12; o++) expect(w[i]?.[o]).toBe(hf.values[o * 8 + i]);
      expect((w[1] as number[])[0]).toBe(n + 1); // hf[0][1]
      // Embeddings are not transposed.
      expect((store.get('embeddings.word_embeddings.weight').arraySync() as number[][])[1]?.[0]).toBe(keys.indexOf('embeddings.word_embeddings.weight') * 1000 + 8);
      // Export gives back exactly the checkpoint, keys and layout included.
      const exported = exportToCheckpoint(graph, store);
      expect([...exported.keys()].sort()).toEqual([...ckpt.keys()].sort());
      for (const [k, t] of exported) {
        expect(t.shape).toEqual((ckpt.get(k) as CheckpointTensor).shape);
        expect(Array.from(t.values)).toEqual(Array.from((ckpt.get(k) as CheckpointTensor).values));
      }
    } finally {
      store.dispose();
    }
  });

  it('a missing tensor or a wrong shape is a GraphError and leaves the store unchanged', () => {
    const store = WeightStore.create(graph, 3);
    try {
      const before = store.snapshot();
      const ckpt = checkpointFor(keys);
      ckpt.delete('classifier.bias');
      expect(() => assignFromCheckpoint(graph, store, (k) => ckpt.get(k), { source: 'model.safetensors' })).toThrow(
        new GraphError("model.safetensors: missing tensor 'classifier.bias' for parameter 'heads.sst.classifier.bias' [3]"),
      );
      const bad = checkpointFor(keys);
      // An [in, out] kernel where the checkpoint must hold [out, in].
      bad.set('bert.encoder.layer.0.intermediate.dense.weight', { shape: [8, 12], values: new Float32Array(96) });
      expect(() => assignFromCheckpoint(graph, store, (k) => bad.get(k))).toThrow(/tensor 'bert\.encoder\.layer\.0\.intermediate\.dense\.weight' has shape \[8, 12\], the model expects \[12, 8\]/);
      const after = store.snapshot();
      for (const [k, v] of before) expect(Array.from(after.get(k) as Float32Array)).toEqual(Array.from(v));
    } finally {
      store.dispose();
    }
  });

  it('keys restricts what is loaded and does not leak tensors', () => {
    const store = WeightStore.create(graph, 3);
    try {
      const baseKeys = keys.filter((k) => graph.param(k).owner === 'base');
      const ckpt = checkpointFor(keys);
      const adapterBefore = store.snapshot(['layer.0.ffn.adapters.a.up.weight']);
      const n = tf.memory().numTensors;
      assignFromCheckpoint(graph, store, (k) => (k.startsWith('bert.') ? ckpt.get(k) : undefined), { keys: baseKeys });
      expect(tf.memory().numTensors).toBe(n);
      expect(Array.from(store.get('layer.0.ffn.adapters.a.up.weight').dataSync())).toEqual(Array.from(adapterBefore.get('layer.0.ffn.adapters.a.up.weight') as Float32Array));
    } finally {
      store.dispose();
    }
  });
});

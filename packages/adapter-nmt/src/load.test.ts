import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { checkpointTensor, Executor, selectBackend, weightMapper, writeSafetensorsFile } from '@adapters/core-graph';
import type { Seq2SeqConfig } from './config';
import { loadSeq2Seq, seq2seqCheckpointKey } from './load';
import { seq2seqForward } from './run';
import { randomIds, tinyModel } from './__tests__/helpers';

/** Writes a graph's weights as Hugging Face would (model.…, final_logits_bias [1, vocab], no lm_head.weight). */
async function saveHf(dir: string, graph: Graph, store: WeightStore, config: Record<string, unknown>, drop: string[] = []): Promise<void> {
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const key of graph.params.keys()) {
    const t = checkpointTensor(graph, store, key);
    const name = seq2seqCheckpointKey(key);
    if (!drop.includes(name)) tensors[name] = name === 'final_logits_bias' ? { ...t, shape: [1, t.shape[0] as number] } : t;
  }
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
}

const hfConfig = (c: Seq2SeqConfig): Record<string, unknown> => ({
  model_type: c.family, vocab_size: c.vocabSize, d_model: c.dModel, encoder_layers: c.encoderLayers, decoder_layers: c.decoderLayers,
  encoder_attention_heads: c.encoderHeads, decoder_attention_heads: c.decoderHeads, encoder_ffn_dim: c.encoderFfn, decoder_ffn_dim: c.decoderFfn,
  max_position_embeddings: c.maxPositions, activation_function: c.activation, pad_token_id: c.padTokenId, eos_token_id: c.eosTokenId,
  decoder_start_token_id: c.decoderStartTokenId, scale_embedding: c.scaleEmbedding, dropout: 0,
});

describe('loadSeq2Seq', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nmt-load-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it.each(['marian', 'bart', 'mbart'] as const)('%s: save in Hugging Face layout → load gives the same logits bit for bit', async (family) => {
    const { graph, store } = tinyModel(family);
    const config = graph.meta.seq2seq!;
    await saveHf(dir, graph, store, hfConfig(config));
    const loaded = await loadSeq2Seq(dir);
    const inputs = { inputIds: tf.tensor2d(randomIds(2, 4, 24, 1), [2, 4], 'int32'), attentionMask: tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]]) as tf.Tensor2D, decoderInputIds: tf.tensor2d(randomIds(2, 3, 24, 2), [2, 3], 'int32') };
    const run = (g: Graph, s: WeightStore) => tf.tidy(() => seq2seqForward(new Executor(g, s), inputs)['logits'] as tf.Tensor).dataSync();
    expect(Array.from(run(loaded.graph, loaded.store))).toEqual(Array.from(run(graph, store)));
    tf.dispose(Object.values(inputs));
    store.dispose();
    loaded.store.dispose();
  });

  it('refuses a config.json whose sizes the checkpoint does not hold, naming the field, before building anything', async () => {
    const { graph, store } = tinyModel('bart');
    const config = graph.meta.seq2seq!;
    await saveHf(dir, graph, store, { ...hfConfig(config), decoder_layers: 5 });
    await expect(loadSeq2Seq(dir)).rejects.toThrow(/config\.json: decoder_layers.*holds 2 decoder layers/);
    await saveHf(dir, graph, store, { ...hfConfig(config), vocab_size: 30 });
    await expect(loadSeq2Seq(dir)).rejects.toThrow(/config\.json: vocab_size/);
    store.dispose();
  });

  it('names a missing tensor; a checkpoint without final_logits_bias (a bare model) gets zeros', async () => {
    const { graph, store } = tinyModel('bart');
    const config = graph.meta.seq2seq!;
    await saveHf(dir, graph, store, hfConfig(config), ['model.decoder.layers.1.fc1.bias']);
    await expect(loadSeq2Seq(dir)).rejects.toThrow(/missing tensor 'model\.decoder\.layers\.1\.fc1\.bias'/);
    await saveHf(dir, graph, store, hfConfig(config), ['final_logits_bias']);
    const loaded = await loadSeq2Seq(dir);
    expect(Array.from(loaded.store.get('lm_head.bias').dataSync()).every((v) => v === 0)).toBe(true);
    store.dispose();
    loaded.store.dispose();
  });
});

describe('loadSeq2Seq with mapped weights (the native kernels read the file in place)', () => {
  it.each(['marian', 'mbart'] as const)('%s: the mapped model gives the copied model\'s logits within float32 reordering', async (family) => {
    await selectBackend({ prefer: 'wasm', env: {} });
    if (weightMapper() === undefined) return console.log('skipping: @adapters/backend-native kernels are not enabled here');
    const dir = await mkdtemp(join(tmpdir(), 'nmt-mapped-'));
    // Sizes where the embeddings (300 × 64) and FFN matrices (64 × 256) reach the 64 KiB mapping threshold.
    const { graph, store } = tinyModel(family, { vocabSize: 300, dModel: 64, encoderFfn: 256, decoderFfn: 256, encoderHeads: 4, decoderHeads: 4 });
    await saveHf(dir, graph, store, hfConfig(graph.meta.seq2seq!));
    const copied = await loadSeq2Seq(dir, { mapWeights: false });
    const mapped = await loadSeq2Seq(dir, { mapWeights: true });
    expect(copied.mapped).toBeUndefined();
    expect(mapped.mapped?.tensors).toBeGreaterThanOrEqual(1 + 2 * 2 + 2 * 2); // shared embeddings, fc1/fc2 per layer
    const inputs = { inputIds: tf.tensor2d(randomIds(2, 5, 300, 3), [2, 5], 'int32'), attentionMask: tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]) as tf.Tensor2D, decoderInputIds: tf.tensor2d(randomIds(2, 4, 300, 4), [2, 4], 'int32') };
    const run = (g: Graph, s: WeightStore) => tf.tidy(() => seq2seqForward(new Executor(g, s), inputs)['logits'] as tf.Tensor).dataSync();
    const a = run(copied.graph, copied.store);
    const b = run(mapped.graph, mapped.store);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeLessThan(1e-4); // |logits| ~ 10: float32 reordering of sums over 64–256 terms
    tf.dispose(Object.values(inputs));
    for (const s of [store, copied.store, mapped.store]) s.dispose();
    await rm(dir, { recursive: true, force: true });
  });
});

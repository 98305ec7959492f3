import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { checkpointTensor, Executor, writeSafetensorsFile } from '@adapters/core-graph';
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

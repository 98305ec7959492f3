import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { checkpointTensor, ConfigError, writeSafetensorsFile } from '@adapters/core-graph';
import type { Seq2SeqConfig } from './config';
import { seq2seqCheckpointKey } from './load';

/** A Seq2SeqConfig as Hugging Face's config.json fields (what `parseSeq2SeqConfig` reads back). */
export function hfSeq2SeqConfig(c: Seq2SeqConfig): Record<string, unknown> {
  return {
    model_type: c.family, vocab_size: c.vocabSize, d_model: c.dModel, encoder_layers: c.encoderLayers, decoder_layers: c.decoderLayers,
    encoder_attention_heads: c.encoderHeads, decoder_attention_heads: c.decoderHeads, encoder_ffn_dim: c.encoderFfn, decoder_ffn_dim: c.decoderFfn,
    max_position_embeddings: c.maxPositions, activation_function: c.activation, dropout: c.dropout, attention_dropout: c.attentionDropout,
    activation_dropout: c.activationDropout, scale_embedding: c.scaleEmbedding, normalize_before: c.normalizeBefore, pad_token_id: c.padTokenId,
    eos_token_id: c.eosTokenId, decoder_start_token_id: c.decoderStartTokenId,
    ...(c.forcedBosTokenId !== undefined ? { forced_bos_token_id: c.forcedBosTokenId } : {}),
    ...(c.forcedEosTokenId !== undefined ? { forced_eos_token_id: c.forcedEosTokenId } : {}),
  };
}

/**
 * Writes the base model (parameters owned by `base`; adapters are saved with `saveAdapter`) in Hugging Face's layout:
 * config.json + model.safetensors with `model.…` keys and `final_logits_bias` [1, vocab], as `loadSeq2Seq` reads.
 */
export async function saveSeq2Seq(dir: string, graph: Graph, store: WeightStore): Promise<void> {
  const config = graph.meta.seq2seq;
  if (!config) throw new ConfigError('graph', 'not an encoder-decoder graph (build it with buildSeq2Seq)');
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const spec of graph.params.values()) {
    if (spec.owner !== 'base') continue;
    const t = checkpointTensor(graph, store, spec.key) as { dtype: 'F32'; shape: number[]; values: Float32Array };
    const name = seq2seqCheckpointKey(spec.key);
    tensors[name] = name === 'final_logits_bias' ? { ...t, shape: [1, t.shape[0] as number] } : t;
  }
  await mkdir(dir, { recursive: true });
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(hfSeq2SeqConfig(config), null, 2)}\n`);
}

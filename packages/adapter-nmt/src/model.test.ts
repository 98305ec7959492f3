import * as tf from '@tensorflow/tfjs';
import { ConfigError, Executor } from '@adapters/core-graph';
import { parseSeq2SeqConfig, seq2seqConfig } from './config';
import { buildSeq2Seq } from './model';
import { sinusoidalPositionsOp } from './ops';
import { seq2seqForward } from './run';
import { randomIds, tinyModel } from './__tests__/helpers';

describe('buildSeq2Seq', () => {
  it('declares AdapterHub seq2seq sites, numbering decoder layers after the encoder', () => {
    const g = buildSeq2Seq({ family: 'bart', encoderLayers: 2, decoderLayers: 3 });
    const sites = [...g.sites.values()].map((s) => `${s.name}|${s.kind}|${String(s.layer)}|${String(s.module)}|${s.residual ? 'wrap' : '-'}`);
    expect(sites).toContain('encoder.layers.1.attention|attention|1|encoder.layers.1.attention_adapters|wrap');
    expect(sites).toContain('encoder.layers.0.ffn|ffn|0|encoder.layers.0.output_adapters|wrap');
    expect(sites).toContain('decoder.layers.0.attention|attention|2|decoder.layers.0.attention_adapters|wrap');
    expect(sites).toContain('decoder.layers.2.cross_attention|cross_attention|4|decoder.layers.2.cross_attention_adapters|wrap');
    expect(sites).toContain('decoder.layers.2.ffn|ffn|4|decoder.layers.2.output_adapters|wrap');
    // Plus the whole layer (kind `output`, no residual: mode `after`) where Bapna & Firat's adapters go.
    expect(sites).toContain('decoder.layers.1.output|output|3|decoder.layers.1.layer_adapters|-');
    expect(g.sites.size).toBe(2 * 3 + 3 * 4);
  });

  it('names parameters as Hugging Face does (under model.), with one shared embedding and no lm_head weight of its own', () => {
    const keys = [...buildSeq2Seq({ family: 'bart' }).params.keys()];
    expect(keys).toEqual(expect.arrayContaining([
      'shared.weight', 'encoder.embed_positions.weight', 'encoder.layernorm_embedding.weight', 'encoder.layers.0.self_attn.q_proj.weight',
      'decoder.layers.1.encoder_attn.v_proj.bias', 'decoder.layers.1.encoder_attn_layer_norm.weight', 'decoder.layers.0.fc2.weight', 'lm_head.bias',
    ]));
    expect(keys.filter((k) => k.includes('embed_tokens') || k === 'lm_head.weight')).toEqual([]);
    // Marian: sinusoidal positions (no table), no embedding LayerNorm; mBART: a final LayerNorm per stack.
    const marian = [...buildSeq2Seq({ family: 'marian' }).params.keys()];
    expect(marian.filter((k) => k.includes('embed_positions') || k.includes('layernorm_embedding'))).toEqual([]);
    expect([...buildSeq2Seq({ family: 'mbart' }).params.keys()]).toEqual(expect.arrayContaining(['encoder.layer_norm.weight', 'decoder.layer_norm.bias']));
  });

  it('is causal: changing target token j leaves the logits before j unchanged and changes those from j on', () => {
    const { graph, store } = tinyModel('bart');
    const exec = new Executor(graph, store);
    const src = tf.tensor2d(randomIds(1, 5, 24, 3), [1, 5], 'int32');
    const mask = tf.ones([1, 5]) as tf.Tensor2D;
    const tgt = randomIds(1, 6, 24, 4);
    const changed = tgt.map((r) => r.map((v, j) => (j === 3 ? (v === 5 ? 6 : 5) : v)));
    const logits = (t: number[][]) => tf.tidy(() => seq2seqForward(exec, { inputIds: src, attentionMask: mask, decoderInputIds: tf.tensor2d(t, [1, 6], 'int32') })['logits'] as tf.Tensor).arraySync() as number[][][];
    const [a, b] = [logits(tgt), logits(changed)];
    const rows = (x: number[][][]) => (x[0] as number[][]).map((r) => r.join());
    expect(rows(a).slice(0, 3)).toEqual(rows(b).slice(0, 3));
    expect(rows(a)[3]).not.toEqual(rows(b)[3]);
    tf.dispose([src, mask]);
    store.dispose();
  });
});

describe('sinusoidalPositions', () => {
  it("equals Marian's table (sin of even features in the first half, cos of odd ones in the second), float64 closed form", () => {
    for (const dim of [6, 7]) {
      const ids = tf.tensor2d([[0, 1, 5, 13]], [1, 4], 'int32');
      const out = sinusoidalPositionsOp.run([ids], {}, { dim, maxPositions: 16 }, { training: false, nextSeed: () => 0 });
      const got = out.arraySync() as number[][][];
      const half = Math.ceil(dim / 2);
      [0, 1, 5, 13].forEach((p, r) => {
        for (let c = 0; c < dim; c++) {
          const j = c < half ? 2 * c : 2 * (c - half) + 1;
          const angle = p / 10000 ** ((2 * Math.floor(j / 2)) / dim);
          expect((got[0] as number[][])[r]?.[c]).toBeCloseTo(c < half ? Math.sin(angle) : Math.cos(angle), 6);
        }
      });
      tf.dispose([ids, out]);
    }
  });

  it('refuses a position past max_position_embeddings, naming it', () => {
    const ids = tf.tensor2d([[16]], [1, 1], 'int32');
    expect(() => sinusoidalPositionsOp.run([ids], {}, { dim: 4, maxPositions: 16 }, { training: false, nextSeed: () => 0 })).toThrow(/max_position_embeddings/);
    ids.dispose();
  });
});

describe('configs', () => {
  it('rejects impossible sizes and token ids naming the field', () => {
    expect(() => seq2seqConfig({ dModel: 10, encoderHeads: 4 })).toThrow(/config\.encoderHeads/);
    expect(() => seq2seqConfig({ eosTokenId: 99, vocabSize: 48 })).toThrow(/config\.eosTokenId/);
    expect(() => seq2seqConfig({ dropout: 1 })).toThrow(ConfigError);
  });

  it('reads Hugging Face config.json fields, and names the file and field when one is wrong', () => {
    const json = {
      model_type: 'bart', vocab_size: 48, d_model: 16, encoder_layers: 2, decoder_layers: 1, encoder_attention_heads: 4, decoder_attention_heads: 2,
      encoder_ffn_dim: 32, decoder_ffn_dim: 24, max_position_embeddings: 32, activation_function: 'gelu', pad_token_id: 1, eos_token_id: 2,
      decoder_start_token_id: 2, forced_bos_token_id: 0, scale_embedding: false,
    };
    const c = parseSeq2SeqConfig(json, 'x/config.json');
    expect(c).toMatchObject({ family: 'bart', decoderLayers: 1, decoderHeads: 2, decoderFfn: 24, positions: 'learned', normalizeBefore: false, forcedBosTokenId: 0 });
    expect(() => parseSeq2SeqConfig({ ...json, model_type: 't5' }, 'x/config.json')).toThrow(/x\/config\.json: model_type/);
    expect(() => parseSeq2SeqConfig({ ...json, d_model: 'big' }, 'x/config.json')).toThrow(/x\/config\.json: d_model/);
    expect(() => parseSeq2SeqConfig({ ...json, activation_function: 'mish' }, 'x/config.json')).toThrow(/activation_function/);
    expect(() => parseSeq2SeqConfig({ ...json, share_encoder_decoder_embeddings: false }, 'x/config.json')).toThrow(/share_encoder_decoder_embeddings/);
    expect(parseSeq2SeqConfig({ ...json, model_type: 'marian' }).positions).toBe('sinusoidal');
  });
});

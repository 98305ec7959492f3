// A Hugging Face-style model folder (config.json + model.safetensors) with random weights, written in pieces so a
// 1.1 GB XLM-R-sized file never sits in memory whole; kept under the system temp dir and reused while complete.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncoderConfig } from '@adapters/core-graph';
import { BERT_BASE, buildEncoder, hfKeyOf, isTransposedInCheckpoint, MINILM_L6 } from '@adapters/core-graph';

/** The model sizes capacity and shared-weights try (random weights: memory and time only). */
export const SIZED_MODELS: Readonly<Record<string, EncoderConfig>> = {
  minilm: MINILM_L6,
  'bert-base': BERT_BASE,
  // XLM-RoBERTa-base's sizes: BERT-base with a 250,002-token vocabulary (278 M parameters, 1.1 GB in float32).
  'xlmr-base': { ...BERT_BASE, architecture: 'roberta', vocabSize: 250002, maxPositions: 514, typeVocabSize: 1, padTokenId: 1, layerNormEps: 1e-5 },
};

/** The value after `--name` in this process's arguments. */
export function argFlag(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** config.json of `config` as Hugging Face writes it. */
function hfConfig(c: EncoderConfig): Record<string, unknown> {
  return {
    model_type: c.architecture, vocab_size: c.vocabSize, hidden_size: c.hiddenSize, num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads, intermediate_size: c.intermediateSize, max_position_embeddings: c.maxPositions,
    type_vocab_size: c.typeVocabSize, layer_norm_eps: c.layerNormEps, hidden_act: c.hiddenAct, pad_token_id: c.padTokenId,
  };
}

/** Writes (once) and returns the folder of a random-weight model of `config` named `name`. */
export function randomModelDir(name: string, config: EncoderConfig): string {
  const dir = join(tmpdir(), 'adapters-capacity', name);
  const file = join(dir, 'model.safetensors');
  if (existsSync(file) && existsSync(join(dir, 'config.json'))) return dir;
  mkdirSync(dir, { recursive: true });
  const graph = buildEncoder(config, { pooler: true });
  const entries: Array<{ key: string; shape: number[]; gamma: boolean; bias: boolean }> = [];
  let offset = 0;
  const header: Record<string, unknown> = {};
  for (const spec of graph.params.values()) {
    if (spec.owner !== 'base') continue;
    const shape = isTransposedInCheckpoint(spec) ? [...spec.shape].reverse() : [...spec.shape];
    const bytes = shape.reduce((p, d) => p * d, 4);
    const key = hfKeyOf(graph, spec.key);
    header[key] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    entries.push({ key, shape, gamma: /LayerNorm\.weight$/.test(key), bias: spec.shape.length === 1 && !/LayerNorm\.weight$/.test(key) });
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // data starts 8-aligned, as the Python writer does
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json, 'utf8'));
    let s = 12345;
    for (const e of entries) {
      const values = new Float32Array(e.shape.reduce((p, d) => p * d, 1));
      if (e.gamma) values.fill(1);
      else if (!e.bias) {
        for (let i = 0; i < values.length; i++) {
          s = (s * 1103515245 + 12345) >>> 0; // LCG: speed matters for 278 M values, quality does not
          values[i] = ((s >>> 8) / 16777216 - 0.5) * 0.08;
        }
      }
      writeSync(fd, new Uint8Array(values.buffer));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig(config)));
  return dir;
}

// Loads a Hugging Face BERT/RoBERTa folder (config.json + model.safetensors) into a graph and store with
// core-graph's public building blocks. core-graph has `loadPretrained(dir)` for this, but its public entry
// point does not export it yet; this is the same procedure restricted to the encoder (no heads).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointTensor, EncoderConfig, Graph } from '@adapters/core-graph';
import { buildEncoder, ConfigError, encoderConfig, GraphError, hfKeyOf, isTransposedInCheckpoint, readSafetensorsFile, WeightStore } from '@adapters/core-graph';

export interface PretrainedEncoder {
  readonly graph: Graph;
  readonly store: WeightStore;
  readonly config: EncoderConfig;
  readonly dir: string;
}

const ACTS: Record<string, EncoderConfig['hiddenAct']> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', relu: 'relu' };

/** Maps a Hugging Face config.json onto EncoderConfig (errors name the file and field). */
export function encoderConfigFromHf(json: unknown, file = 'config.json'): EncoderConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(file, 'must be a JSON object');
  const c = json as Record<string, unknown>;
  const type = c['model_type'];
  if (type !== 'bert' && type !== 'roberta') throw new ConfigError(`${file}: model_type`, `unsupported architecture ${JSON.stringify(type)} (bert, roberta)`);
  const act = ACTS[String(c['hidden_act'] ?? 'gelu')];
  if (!act) throw new ConfigError(`${file}: hidden_act`, `unsupported activation ${JSON.stringify(c['hidden_act'])}`);
  const num = (k: string, fallback?: number): number => {
    const v = c[k] ?? fallback;
    if (typeof v !== 'number') throw new ConfigError(`${file}: ${k}`, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  return encoderConfig({
    architecture: type,
    vocabSize: num('vocab_size'),
    hiddenSize: num('hidden_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: num('num_attention_heads'),
    intermediateSize: num('intermediate_size'),
    maxPositions: num('max_position_embeddings'),
    typeVocabSize: num('type_vocab_size', 2),
    layerNormEps: num('layer_norm_eps', 1e-12),
    hiddenAct: act,
    hiddenDropout: num('hidden_dropout_prob', 0.1),
    attentionDropout: num('attention_probs_dropout_prob', 0.1),
    padTokenId: num('pad_token_id', type === 'roberta' ? 1 : 0),
  });
}

/** Reads config.json and model.safetensors from `dir`; missing tensors or wrong shapes are errors naming the key. */
export async function loadPretrainedEncoder(dir: string, options: { seed?: number } = {}): Promise<PretrainedEncoder> {
  const configFile = join(dir, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (e) {
    throw new ConfigError(configFile, `cannot read: ${(e as Error).message}`);
  }
  const config = encoderConfigFromHf(json, configFile);
  const file = join(dir, 'model.safetensors');
  const { tensors } = await readSafetensorsFile(file);
  const prefix = config.architecture;
  const lookup = (key: string): CheckpointTensor | undefined => {
    const bare = key.startsWith(`${prefix}.`) ? key.slice(prefix.length + 1) : key;
    const t = tensors.get(key) ?? tensors.get(bare) ?? tensors.get(`${prefix}.${bare}`);
    return t ? { shape: t.shape, values: t.values } : undefined;
  };
  const graph = buildEncoder(config, { pooler: lookup(`${prefix}.pooler.dense.weight`) !== undefined });
  // Check and convert every tensor first, then create the store from them (no random init of 20M+ values).
  const staged = new Map<string, Float32Array>();
  for (const spec of graph.params.values()) {
    const hf = hfKeyOf(graph, spec.key);
    const t = lookup(hf);
    if (!t) throw new GraphError(`${file}: missing tensor '${hf}' for parameter '${spec.key}' [${spec.shape.join(', ')}]`);
    const transposed = isTransposedInCheckpoint(spec);
    const expected = transposed ? [...spec.shape].reverse() : [...spec.shape];
    if (t.shape.join() !== expected.join()) throw new GraphError(`${file}: tensor '${hf}' has shape [${t.shape.join(', ')}], the model expects [${expected.join(', ')}]`);
    const values = t.values instanceof Float32Array ? t.values : Float32Array.from(t.values);
    if (!transposed) {
      staged.set(spec.key, values);
      continue;
    }
    const [rows, cols] = t.shape as [number, number];
    const out = new Float32Array(values.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
    staged.set(spec.key, out);
  }
  const store = new WeightStore();
  store.sync(graph, options.seed ?? 0, (spec) => staged.get(spec.key));
  return { graph, store, config, dir };
}

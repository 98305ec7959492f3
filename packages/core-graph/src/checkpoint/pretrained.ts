// Hugging Face model folders (config.json + model.safetensors) from any FileSource; runs in browsers. The
// path-taking loadPretrained / readHfConfig are in load-pretrained.ts (Node).
import { ensureBackend } from '../backend/ensure-backend';
import { ConfigError } from '../errors';
import { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { EncoderConfig } from '../model/config';
import { encoderConfig } from '../model/config';
import { buildEncoder } from '../model/encoder';
import type { HeadSpec } from '../model/heads';
import { addHead } from '../model/heads';
import type { DecodedTensor } from '../io/safetensors';
import type { FileSource } from '../io/file-source';
import { readJsonFrom, readSafetensorsFrom } from '../io/file-source';
import type { CheckpointTensor } from './hf-keys';
import { hfKeyOf, stageFromCheckpoint } from './hf-keys';
import { mappingWanted, openMappedCheckpoint, stageWithMapping } from './mapped-checkpoint';

const ACTIVATIONS: Record<string, EncoderConfig['hiddenAct']> = { gelu: 'gelu', gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', relu: 'relu' };

/** Maps a Hugging Face config.json onto EncoderConfig; unsupported architectures and fields are errors naming the file. */
export function parseHfConfig(json: unknown, file = 'config.json'): EncoderConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(file, 'must be a JSON object');
  const c = json as Record<string, unknown>;
  const type = c['model_type'];
  if (type !== 'bert' && type !== 'roberta') throw new ConfigError(`${file}: model_type`, `unsupported architecture ${JSON.stringify(type)} (supported: bert, roberta)`);
  if (c['position_embedding_type'] !== undefined && c['position_embedding_type'] !== 'absolute') {
    throw new ConfigError(`${file}: position_embedding_type`, `only 'absolute' is supported, got ${JSON.stringify(c['position_embedding_type'])}`);
  }
  const act = ACTIVATIONS[String(c['hidden_act'] ?? 'gelu')];
  if (!act) throw new ConfigError(`${file}: hidden_act`, `unsupported activation ${JSON.stringify(c['hidden_act'])}`);
  const num = (k: string, fallback?: number): number => {
    const v = c[k] ?? fallback;
    if (typeof v !== 'number') throw new ConfigError(`${file}: ${k}`, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  try {
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
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${file}: ${e.path}`, e.message.slice(e.path.length + 2));
    throw e;
  }
}

/** A source's config.json as an EncoderConfig. */
export async function readHfConfigFrom(source: FileSource): Promise<EncoderConfig> {
  return parseHfConfig(await readJsonFrom(source, 'config.json'), source.path('config.json'));
}

export interface Pretrained {
  readonly graph: Graph;
  readonly store: WeightStore;
  readonly config: EncoderConfig;
  readonly dir: string;
  /** When base weights were mapped from the file instead of copied into the heap: how many, and their bytes. */
  readonly mapped?: { readonly file: string; readonly tensors: number; readonly bytes: number };
}

/** A lookup over checkpoint tensors that accepts keys with or without the model prefix. */
export function checkpointLookup(tensors: ReadonlyMap<string, DecodedTensor>, prefix: string): (key: string) => CheckpointTensor | undefined {
  return (key) => {
    const bare = key.startsWith(`${prefix}.`) ? key.slice(prefix.length + 1) : key;
    const t = tensors.get(key) ?? tensors.get(bare) ?? tensors.get(`${prefix}.${bare}`);
    return t ? { shape: t.shape, values: t.values } : undefined;
  };
}

/** `encoder.layer.N.` indexes present in a checkpoint (with or without the model prefix). */
function layerIndexes(names: Iterable<string>): Set<number> {
  const found = new Set<number>();
  for (const name of names) {
    const m = /(?:^|\.)encoder\.layer\.(\d+)\./.exec(name);
    if (m) found.add(Number(m[1]));
  }
  return found;
}

/**
 * Refuses a config.json whose sizes the checkpoint does not hold, before any graph is built: a config claiming a
 * million layers must fail in milliseconds naming the field, not exhaust the heap building layers the file lacks.
 */
export function checkConfigAgainstCheckpoint(config: EncoderConfig, tensors: ReadonlyMap<string, { shape: readonly number[] }>, configFile: string, weightsFile: string): void {
  const lookup = (key: string) => tensors.get(`${config.architecture}.${key}`) ?? tensors.get(key);
  const mismatch = (field: string, value: number, has: string): never => {
    throw new ConfigError(`${configFile}: ${field}`, `is ${value} but ${weightsFile} ${has}`, 'E_CHECKPOINT_MISMATCH');
  };
  const layers = layerIndexes(tensors.keys());
  const expected = Array.from({ length: Math.min(config.numLayers, layers.size + 1) }, (_v, i) => i);
  if (layers.size !== config.numLayers || !expected.every((i) => layers.has(i))) {
    mismatch('num_hidden_layers', config.numLayers, `holds ${layers.size} layers (${[...layers].sort((a, b) => a - b).slice(0, 8).join(', ')}${layers.size > 8 ? ', ...' : ''})`);
  }
  const rows = (key: string, field: string, value: number, width: number, widthField: string): void => {
    const t = lookup(key);
    if (!t) return; // a missing tensor is reported by the loader, naming the key
    if (t.shape.length !== 2) return;
    if (t.shape[0] !== value) mismatch(field, value, `has ${key} with ${t.shape[0]} rows`);
    if (t.shape[1] !== width) mismatch(widthField, width, `has ${key} of width ${t.shape[1]}`);
  };
  rows('embeddings.word_embeddings.weight', 'vocab_size', config.vocabSize, config.hiddenSize, 'hidden_size');
  rows('embeddings.position_embeddings.weight', 'max_position_embeddings', config.maxPositions, config.hiddenSize, 'hidden_size');
  rows('embeddings.token_type_embeddings.weight', 'type_vocab_size', config.typeVocabSize, config.hiddenSize, 'hidden_size');
  rows('encoder.layer.0.intermediate.dense.weight', 'intermediate_size', config.intermediateSize, config.hiddenSize, 'hidden_size');
}

export interface LoadPretrainedOptions {
  readonly heads?: readonly HeadSpec[];
  readonly seed?: number;
  readonly allowNonFinite?: boolean;
  /**
   * Map the base's float32 matrices from model.safetensors instead of copying them into the tensor heap (default
   * true; ADAPTERS_MAP_WEIGHTS=0 turns it off). Takes effect only where a WeightMapper is registered (Node with
   * @adapters/backend-native's kernels) and the model is a local folder; elsewhere weights are copied as before.
   */
  readonly mapWeights?: boolean;
}

/**
 * Loads a Hugging Face model folder (config.json + model.safetensors) from a FileSource (bytes, URLs or a folder)
 * into a new graph and store.
 * Heads are added with fresh weights unless the checkpoint has them. Missing keys or wrong shapes are
 * errors naming the key and both shapes.
 */
export async function loadPretrainedFrom(source: FileSource, options: LoadPretrainedOptions = {}): Promise<Pretrained> {
  await ensureBackend();
  const config = await readHfConfigFrom(source);
  const file = source.path('model.safetensors');
  const mapped = mappingWanted(options.mapWeights) ? openMappedCheckpoint(source, 'model.safetensors') : undefined;
  const { tensors } = mapped ?? (await readSafetensorsFrom(source, 'model.safetensors'));
  checkConfigAgainstCheckpoint(config, tensors, source.path('config.json'), file);
  const lookup = checkpointLookup(tensors, config.architecture);
  // Build the pooler only when the checkpoint has one (MLM-only checkpoints often don't).
  let graph = buildEncoder(config, { pooler: lookup(`${config.architecture}.pooler.dense.weight`) !== undefined });
  for (const h of options.heads ?? []) graph = addHead(graph, h);
  const base = [...graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
  const nonFinite = options.allowNonFinite === true ? { allowNonFinite: true } : {};
  const weights = stageWithMapping(graph, lookup, base, mapped, { source: file, ...nonFinite });
  // Heads come from the checkpoint only when it has all of their tensors (e.g. a fine-tuned classifier).
  const headKeys = [...graph.params.values()].filter((p) => p.owner.startsWith('head:')).map((p) => p.key);
  const heads = headKeys.length > 0 && headKeys.every((k) => lookup(hfKeyOf(graph, k)) !== undefined)
    ? stageFromCheckpoint(graph, lookup, { keys: headKeys, source: file, ...nonFinite })
    : new Map<string, { values: Float32Array }>();
  const store = new WeightStore();
  store.sync(graph, options.seed ?? 0, (spec) => heads.get(spec.key)?.values ?? weights.provided(spec));
  const used = weights.mapped(file);
  const info = used !== undefined ? { mapped: used } : {};
  return { graph, store, config, dir: source.location, ...info };
}

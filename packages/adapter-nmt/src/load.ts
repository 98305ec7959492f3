import { join } from 'node:path';
import type { Graph } from '@adapters/core-graph';
import { ConfigError, dirSource, ensureBackend, mappingWanted, openMappedCheckpoint, readJsonObject, readSafetensorsFile, stageWithMapping, WeightStore } from '@adapters/core-graph';
import type { Seq2SeqConfig } from './config';
import { parseSeq2SeqConfig } from './config';
import { buildSeq2Seq, FINAL_LOGITS_BIAS } from './model';

export interface PretrainedSeq2Seq {
  readonly graph: Graph;
  readonly store: WeightStore;
  readonly config: Seq2SeqConfig;
  readonly dir: string;
  /** When large float32 matrices were mapped from model.safetensors instead of copied into the heap. */
  readonly mapped?: { readonly file: string; readonly tensors: number; readonly bytes: number };
}

interface RawTensor {
  readonly shape: readonly number[];
  readonly values: ArrayLike<number>;
}

/** Checkpoint key of a base parameter: `model.` + key, except the LM head's bias (`final_logits_bias`). */
export function seq2seqCheckpointKey(key: string): string {
  return key === FINAL_LOGITS_BIAS ? 'final_logits_bias' : `model.${key}`;
}

/**
 * Looks a checkpoint key up with or without the `model.` prefix (MarianMTModel / BartForConditionalGeneration save
 * `model.…`, a bare BartModel saves `…`). `final_logits_bias` is [1, vocab] in the file and [vocab] here; a checkpoint
 * without it (a bare model) gets zeros, as Hugging Face does.
 */
export function seq2seqLookup(tensors: ReadonlyMap<string, RawTensor>, vocabSize: number): (key: string) => RawTensor | undefined {
  return (key) => {
    const bare = key.startsWith('model.') ? key.slice(6) : key;
    const t = tensors.get(key) ?? tensors.get(bare);
    if (key === 'final_logits_bias') {
      if (!t) return { shape: [vocabSize], values: new Float32Array(vocabSize) };
      return t.shape.length === 2 && t.shape[0] === 1 ? { shape: [t.shape[1] as number], values: t.values } : t;
    }
    return t;
  };
}

/** Refuses a config.json whose sizes the checkpoint does not hold, before a graph is built (naming the field). */
export function checkSeq2SeqCheckpoint(config: Seq2SeqConfig, tensors: ReadonlyMap<string, { shape: readonly number[] }>, configFile: string, weightsFile: string): void {
  const get = (k: string) => tensors.get(`model.${k}`) ?? tensors.get(k);
  const mismatch = (field: string, value: number, has: string): never => {
    throw new ConfigError(`${configFile}: ${field}`, `is ${value} but ${weightsFile} ${has}`, 'E_CHECKPOINT_MISMATCH');
  };
  const shared = get('shared.weight');
  if (shared) {
    if (shared.shape[0] !== config.vocabSize) mismatch('vocab_size', config.vocabSize, `has shared.weight with ${shared.shape[0]} rows`);
    if (shared.shape[1] !== config.dModel) mismatch('d_model', config.dModel, `has shared.weight of width ${shared.shape[1]}`);
  }
  for (const [side, field, count] of [['encoder', 'encoder_layers', config.encoderLayers], ['decoder', 'decoder_layers', config.decoderLayers]] as const) {
    const found = new Set<number>();
    const re = new RegExp(`(?:^|\\.)${side}\\.layers\\.(\\d+)\\.`);
    for (const name of tensors.keys()) {
      const m = re.exec(name);
      if (m) found.add(Number(m[1]));
    }
    if (found.size !== count || ![...found].every((i) => i < count)) mismatch(field, count, `holds ${found.size} ${side} layers`);
  }
}

/**
 * Loads a Hugging Face Marian/BART/mBART folder (config.json + model.safetensors) into a new graph and store.
 * Every parameter is checked (key present, shape right, finite) before the store is filled.
 */
export async function loadSeq2Seq(dir: string, options: { readonly seed?: number; readonly mapWeights?: boolean } = {}): Promise<PretrainedSeq2Seq> {
  await ensureBackend();
  const configFile = join(dir, 'config.json');
  const config = parseSeq2SeqConfig(await readJsonObject(configFile), configFile);
  const file = join(dir, 'model.safetensors');
  // As core-graph's loadPretrained: with the native kernels the large float32 matrices stay in the mapped file.
  const mapped = mappingWanted(options.mapWeights) ? openMappedCheckpoint(dirSource(dir), 'model.safetensors') : undefined;
  const { tensors } = mapped ?? (await readSafetensorsFile(file));
  checkSeq2SeqCheckpoint(config, tensors, configFile, file);
  const graph = buildSeq2Seq(config);
  const keys = [...graph.params.keys()];
  const weights = stageWithMapping(graph, seq2seqLookup(tensors, config.vocabSize), keys, mapped, { source: file, keyOf: seq2seqCheckpointKey });
  const store = new WeightStore();
  store.sync(graph, options.seed ?? 0, (spec) => weights.provided(spec));
  const used = weights.mapped(file);
  return { graph, store, config, dir, ...(used !== undefined ? { mapped: used } : {}) };
}

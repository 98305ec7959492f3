// model.safetensors opened by mapping it (a local folder, a registered WeightMapper, a little-endian host): the base's
// float32 matrices become zero-copy views, and later tensors over the mapped file, instead of heap copies.
import type * as tf from '@tensorflow/tfjs';
import type { MappedWeights } from '../backend/weight-mapper';
import { MAP_WEIGHTS_ENV, MIN_MAPPED_BYTES, weightMapper } from '../backend/weight-mapper';
import type { FileSource } from '../io/file-source';
import type { DecodedTensor } from '../io/safetensors';
import { decodeSafetensorsRaw, decodeTensorValues, HOST_IS_LITTLE_ENDIAN } from '../io/safetensors';
import type { Graph } from '../graph/graph';
import type { ParamSpec } from '../graph/types';
import type { AssignOptions, CheckpointTensor } from './hf-keys';
import { checkedTensor, checkpointKeyOf, isTransposedInCheckpoint, stageFromCheckpoint } from './hf-keys';

export interface MappedCheckpoint {
  readonly file: MappedWeights;
  /** Every tensor of the file; the mappable ones' values are views over the mapping. */
  readonly tensors: Map<string, DecodedTensor>;
  /** The file byte offset of each view in `tensors` (keyed by the view, so any alias a lookup takes finds it). */
  readonly offsets: Map<Float32Array, number>;
}

/** Mapping is on unless the option or ADAPTERS_MAP_WEIGHTS=0 turns it off. */
export function mappingWanted(option: boolean | undefined): boolean {
  if (option !== undefined) return option;
  const env = typeof process !== 'undefined' ? process.env[MAP_WEIGHTS_ENV] : undefined;
  return env !== '0';
}

/**
 * Maps `file` of `source` and decodes its header; undefined when mapping is not possible here (no mapper, not a local
 * file, big-endian host), so the caller reads the file as before. A corrupt file throws, naming it, as a read would.
 */
export function openMappedCheckpoint(source: FileSource, file: string): MappedCheckpoint | undefined {
  const mapper = weightMapper();
  const local = source.localPath?.(file);
  if (mapper === undefined || local === undefined || !HOST_IS_LITTLE_ENDIAN) return undefined;
  const mapped = mapper.map(local);
  const raw = decodeSafetensorsRaw(mapped.bytes, local);
  const tensors = new Map<string, DecodedTensor>();
  const offsets = new Map<Float32Array, number>();
  for (const [name, t] of raw.tensors) {
    const at = t.data.byteOffset - mapped.bytes.byteOffset;
    if (t.dtype === 'F32' && t.shape.length === 2 && t.data.byteLength >= MIN_MAPPED_BYTES && at % 4 === 0) {
      const view = new Float32Array(mapped.bytes.buffer, mapped.bytes.byteOffset + at, t.data.byteLength / 4);
      tensors.set(name, { name, dtype: t.dtype, shape: [...t.shape], values: view });
      offsets.set(view, at);
    } else {
      tensors.set(name, decodeTensorValues(name, t, local));
    }
  }
  return { file: mapped, tensors, offsets };
}

export interface StagedWeights {
  /** For WeightStore.sync: a tensor over the mapping for mapped keys, staged values for the others. */
  provided(spec: ParamSpec): Float32Array | tf.Tensor | undefined;
  /** What was mapped (after sync), for reporting; undefined when nothing was. */
  mapped(file: string): { file: string; tensors: number; bytes: number } | undefined;
}

/**
 * Checks every key's checkpoint tensor (all of them before anything is made, so a bad file leaves nothing behind);
 * keys whose tensor is a view over `mapped` stay in the file, the rest are staged (copied into our layout).
 */
export function stageWithMapping(graph: Graph, lookup: (hfKey: string) => CheckpointTensor | undefined, keys: readonly string[], mapped: MappedCheckpoint | undefined, options: AssignOptions): StagedWeights {
  const inPlace = new Map<string, number>();
  for (const key of mapped === undefined ? [] : keys) {
    // Only views over the mapping are checked here; stageFromCheckpoint checks (and reports) the rest once.
    const at = mapped!.offsets.get(lookup(checkpointKeyOf(graph, key, options))?.values as Float32Array);
    if (at === undefined) continue;
    checkedTensor(graph, key, lookup, options);
    inPlace.set(key, at);
  }
  const staged = stageFromCheckpoint(graph, lookup, { ...options, keys: keys.filter((k) => !inPlace.has(k)) });
  let bytes = 0;
  return {
    provided(spec) {
      const at = inPlace.get(spec.key);
      if (at === undefined) return staged.get(spec.key)?.values;
      bytes += spec.shape.reduce((p, d) => p * d, 4);
      return mapped!.file.tensor(at, spec.shape, isTransposedInCheckpoint(spec));
    },
    mapped: (file) => (inPlace.size > 0 ? { file, tensors: inPlace.size, bytes } : undefined),
  };
}

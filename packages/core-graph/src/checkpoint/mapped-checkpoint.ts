// model.safetensors opened by mapping it (a local folder, a registered WeightMapper, a little-endian host): the base's
// float32 matrices become zero-copy views, and later tensors over the mapped file, instead of heap copies.
import type { MappedWeights } from '../backend/weight-mapper';
import { MAP_WEIGHTS_ENV, MIN_MAPPED_BYTES, weightMapper } from '../backend/weight-mapper';
import type { FileSource } from '../io/file-source';
import type { DecodedTensor } from '../io/safetensors';
import { decodeSafetensorsRaw, decodeTensorValues, HOST_IS_LITTLE_ENDIAN } from '../io/safetensors';

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

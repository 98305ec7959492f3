// Hugging Face model folders on disk (Node): loadPretrained(dir) and readHfConfig(dir) over pretrained.ts's loaders.
import type { FileSource } from '../io/file-source';
import { sourceOf } from '../io/dir-source';
import type { EncoderConfig } from '../model/config';
import type { LoadPretrainedOptions, Pretrained } from './pretrained';
import { loadPretrainedFrom, readHfConfigFrom } from './pretrained';

export type { LoadPretrainedOptions, Pretrained } from './pretrained';
export { checkConfigAgainstCheckpoint, checkpointLookup, loadPretrainedFrom, parseHfConfig, readHfConfigFrom } from './pretrained';

export async function readHfConfig(dir: string | FileSource): Promise<EncoderConfig> {
  return readHfConfigFrom(sourceOf(dir));
}

/** `loadPretrainedFrom` on a folder (or a FileSource): see there. */
export async function loadPretrained(dir: string | FileSource, options: LoadPretrainedOptions = {}): Promise<Pretrained> {
  return loadPretrainedFrom(sourceOf(dir), options);
}

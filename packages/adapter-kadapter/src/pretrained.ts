// The frozen base for the recipes: a Hugging Face BERT/RoBERTa folder (config.json + model.safetensors)
// loaded with core-graph's `loadPretrained` (encoder only; the K-Adapter heads are added separately).
import type { Pretrained } from '@adapters/core-graph';
import { loadPretrained } from '@adapters/core-graph';

export type PretrainedEncoder = Pretrained;

/** core-graph's `loadPretrained(dir)` without heads: graph, store (checkpoint weights), config and dir. */
export function loadPretrainedEncoder(dir: string, options: { seed?: number } = {}): Promise<PretrainedEncoder> {
  return loadPretrained(dir, options.seed === undefined ? {} : { seed: options.seed });
}

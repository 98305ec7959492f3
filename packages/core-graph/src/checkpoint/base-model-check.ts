// Adapter and head files name the base they were trained on (`hidden_size`, `model_type`); loading them into
// another base would give meaningless weights, so that is refused naming the field.
import { ConfigError } from '../errors';
import type { Graph } from '../graph/graph';
import type { EncoderConfig } from '../model/config';

/** An adapter or head trained on another base (hidden size, architecture) must not load: its weights would be meaningless here. */
export function checkBaseModel(saved: Record<string, unknown>, graph: Graph, file: string): void {
  const base = graph.meta['config'] as EncoderConfig | undefined;
  if (!base) return;
  const hidden = saved['hidden_size'];
  if (hidden !== undefined && hidden !== null && hidden !== base.hiddenSize) {
    throw new ConfigError(`${file}: hidden_size`, `the adapter was trained on a base of hidden size ${JSON.stringify(hidden)}, this model has ${base.hiddenSize}`, 'E_CHECKPOINT_MISMATCH');
  }
  const type = saved['model_type'];
  if (type !== undefined && type !== null && type !== base.architecture) {
    throw new ConfigError(`${file}: model_type`, `the adapter was trained on ${JSON.stringify(type)}, this model is ${base.architecture}`, 'E_CHECKPOINT_MISMATCH');
  }
}

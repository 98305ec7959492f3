// The model side of a server, the same on the main thread and in each worker thread: the frozen base model, its
// weight store (where adapters load), and the batch engine.
import type { AnyAdapterPlugin, HeadRegistry } from '@adapters/core-graph';
import { AdapterModel } from '@adapters/core-graph';
import { BatchEngine } from './engine';
import { ServeError } from './errors';
import type { AdapterHost } from './pool';
import { localHost } from './pool';

export interface ModelHostOptions {
  readonly model: string;
  readonly plugins: readonly AnyAdapterPlugin[];
  readonly heads?: HeadRegistry;
  /** Tokens per text (default: the model's limit, at most 128). */
  readonly maxLength?: number;
  readonly seed?: number;
  readonly onGraph?: (hit: boolean) => void;
}

export interface ModelHost {
  readonly model: AdapterModel;
  readonly engine: BatchEngine;
  readonly adapters: AdapterHost;
  readonly maxLength: number;
}

export async function openModelHost(options: ModelHostOptions): Promise<ModelHost> {
  const model = await AdapterModel.fromPretrained(options.model, { plugins: options.plugins, seed: options.seed ?? 0 });
  try {
    if (model.adapters.length > 0) throw new ServeError('bad_request', 'the base model must have no adapters');
    const modelLimit = model.tokenizer.modelMaxLength ?? 512;
    const maxLength = options.maxLength ?? Math.min(128, modelLimit);
    if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > modelLimit) throw new ServeError('bad_request', `maxLength must be an integer in [2, ${modelLimit}], got ${maxLength}`);
    const base = { baseGraph: model.graph, store: model.store, registry: model.registry, ...(options.heads ? { heads: options.heads } : {}) };
    const engine = new BatchEngine({ ...base, tokenizer: model.tokenizer, maxLength, ...(options.onGraph ? { onGraph: options.onGraph } : {}) });
    return { model, engine, adapters: localHost(base), maxLength };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

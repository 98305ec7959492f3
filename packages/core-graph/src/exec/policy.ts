import type { ParamSpec } from '../graph/types';

/** Decides, structurally from a parameter's owner and kind, whether it trains. */
export type TrainPolicy = (param: ParamSpec) => boolean;

/** Houlsby et al.: the base is frozen; adapters, LayerNorms and heads train. */
export const adapterPolicy: TrainPolicy = (p) => p.owner !== 'base' || p.kind === 'norm';

/** Only what is not part of the base model trains (adapters, fusion layers, heads); base LayerNorms stay frozen. */
export const adaptersOnlyPolicy: TrainPolicy = (p) => p.owner !== 'base';

/** Full fine-tuning: everything trains. */
export const fullFineTunePolicy: TrainPolicy = () => true;

/** Trains only parameters whose owner is in the list (e.g. fusion stage 2: `['fusion:f', 'head:rte']`). */
export function ownersPolicy(owners: readonly string[]): TrainPolicy {
  const set = new Set(owners);
  return (p) => set.has(p.owner);
}

/** No weight decay on biases and LayerNorm parameters (as BERT's AdamW recipe). */
export const decays = (p: ParamSpec): boolean => p.kind === 'kernel' || p.kind === 'embedding' || p.kind === 'other';

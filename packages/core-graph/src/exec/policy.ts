import type { ParamSpec } from '../graph/types';

/** Decides, structurally from a parameter's owner and kind, whether it trains. */
export type TrainPolicy = (param: ParamSpec) => boolean;

/**
 * Owners starting with `state:` hold state kept in the weight store that no gradient step may move (e.g. a fusion's
 * annealed softmax temperature, owner `state:fusion:NAME`): the policies below never train them.
 */
export const STATE_OWNER_PREFIX = 'state:';
export const isStateParam = (p: ParamSpec): boolean => p.owner.startsWith(STATE_OWNER_PREFIX);

/** Houlsby et al.: the base is frozen; adapters, LayerNorms and heads train. */
export const adapterPolicy: TrainPolicy = (p) => !isStateParam(p) && (p.owner !== 'base' || p.kind === 'norm');

/** Only what is not part of the base model trains (adapters, fusion layers, heads); base LayerNorms stay frozen. */
export const adaptersOnlyPolicy: TrainPolicy = (p) => p.owner !== 'base' && !isStateParam(p);

/** Full fine-tuning: every weight trains (state does not). */
export const fullFineTunePolicy: TrainPolicy = (p) => !isStateParam(p);

/** Trains only parameters whose owner is in the list (e.g. fusion stage 2: `['fusion:f', 'head:rte']`). */
export function ownersPolicy(owners: readonly string[]): TrainPolicy {
  const set = new Set(owners);
  return (p) => set.has(p.owner);
}

/** No weight decay on biases and LayerNorm parameters (as BERT's AdamW recipe). */
export const decays = (p: ParamSpec): boolean => p.kind === 'kernel' || p.kind === 'embedding' || p.kind === 'other';

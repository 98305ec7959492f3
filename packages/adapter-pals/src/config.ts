// PALs config (Stickland & Murray 2019, "BERT and PALs"). No AdapterHub / PEFT config exists for PALs, so the field
// names are ours; `d_s` and `heads` are the paper's d_s and number of attention heads of g.
import type { JsonSchema } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';

/** `zero_decoder`: V^D = 0 (the PALs add exactly 0 at init); `bert`: every weight N(0, 0.02²), as the paper's code. */
export type PalsInit = 'zero_decoder' | 'bert';

export interface PalsConfig {
  /** Width of the projected space (d_s); null: the paper's 204 for BERT-base scaled by hidden/768 (see `palsWidth`). */
  readonly d_s: number | null;
  /** Heads of the low-dimensional attention g (paper: 12). d_s must be divisible by it. */
  readonly heads: number;
  /** Dropout on g's attention probabilities (BERT's attention_probs_dropout_prob). */
  readonly attention_dropout: number;
  /** Layers (0-based) that get no PAL. */
  readonly leave_out: readonly number[];
  readonly init_weights: PalsInit;
}

/** The paper's BERT-base sizes: d_s = 204 for hidden 768, 12 heads. */
export const PAPER_WIDTH = 204;
export const PAPER_HIDDEN = 768;

export const PALS_DEFAULTS: PalsConfig = { d_s: null, heads: 12, attention_dropout: 0.1, leave_out: [], init_weights: 'zero_decoder' };

export const PALS_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    d_s: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 1, maximum: 65536 }], description: 'projected width; null = 204·hidden/768 rounded to a multiple of heads' },
    heads: { type: 'integer', minimum: 1, maximum: 1024 },
    attention_dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    leave_out: { type: 'array', items: { type: 'integer', minimum: 0 } },
    init_weights: { type: 'string', enum: ['zero_decoder', 'bert'] },
  },
  additionalProperties: false,
};

export function validatePals(c: PalsConfig, path: string): void {
  if (c.d_s !== null && c.d_s % c.heads !== 0) throw new ConfigError(`${path}.d_s`, `${c.d_s} is not divisible by heads = ${c.heads}`);
  if (new Set(c.leave_out).size !== c.leave_out.length) throw new ConfigError(`${path}.leave_out`, 'lists a layer twice');
}

/**
 * d_s for a model of width `hidden`: the config's, or round(204·hidden/768) moved to the nearest multiple of
 * `heads` (ties upwards, at least `heads`): 204 for BERT-base, 108 for MiniLM (hidden 384).
 */
export function palsWidth(c: Pick<PalsConfig, 'd_s' | 'heads'>, hidden: number): number {
  if (c.d_s !== null) return c.d_s;
  const scaled = Math.round((PAPER_WIDTH * hidden) / PAPER_HIDDEN);
  return Math.max(c.heads, Math.round(scaled / c.heads) * c.heads);
}

/** Parameters of one layer's attention g: query, key and value d_s → d_s with biases. */
export const palsLayerParams = (ds: number): number => 3 * (ds * ds + ds);

/** The model-level projections shared by the layers: V^E (hidden → d_s) and V^D (d_s → hidden) with biases. */
export const palsSharedParams = (ds: number, hidden: number): number => hidden * ds + ds + ds * hidden + hidden;

// Prefix tuning config: AdapterHub's PrefixTuningConfig field names and defaults (adapters 1.3).
import type { JsonSchema } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';

export type PrefixActivation = 'tanh' | 'relu' | 'gelu' | 'swish' | 'sigmoid';

export interface PrefixTuningConfig {
  /** Number of key/value rows prepended in every layer. */
  readonly prefix_length: number;
  /** Width of the reparameterisation MLP (flat = false). */
  readonly bottleneck_size: number;
  readonly non_linearity: PrefixActivation;
  /** Train the per-layer keys/values directly instead of through the MLP. */
  readonly flat: boolean;
  /** Dropout on the generated keys/values (training only). */
  readonly dropout: number;
  /** Layers (0-based) that get no prefix. */
  readonly leave_out: readonly number[];
  /**
   * Encoder-decoder fields of AdapterHub. BERT's self-attention module has the location key `self_prefix`, which
   * AdapterHub matches without them, so on an encoder-only model they change nothing (accepted and kept for files).
   */
  readonly encoder_prefix: boolean;
  readonly cross_prefix: boolean;
  /**
   * AdapterHub's UniPELT gate, per layer: g = mean over positions of sigmoid(x·W_g + b_g) (x the layer input), the
   * prefix keys scaled by g₀ and the values by g₋₁ per example.
   */
  readonly use_gating: boolean;
  /** One gate output for keys and values (true) or one each (false). */
  readonly shared_gating: boolean;
}

export const PREFIX_DEFAULTS: PrefixTuningConfig = {
  prefix_length: 30,
  bottleneck_size: 512,
  non_linearity: 'tanh',
  flat: false,
  dropout: 0,
  leave_out: [],
  encoder_prefix: true,
  cross_prefix: true,
  use_gating: false,
  shared_gating: true,
};

export const PREFIX_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    prefix_length: { type: 'integer', minimum: 1, maximum: 4096 },
    bottleneck_size: { type: 'integer', minimum: 1, maximum: 65536 },
    non_linearity: { type: 'string', enum: ['tanh', 'relu', 'gelu', 'swish', 'sigmoid'] },
    flat: { type: 'boolean' },
    dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    leave_out: { type: 'array', items: { type: 'integer', minimum: 0 } },
    encoder_prefix: { type: 'boolean' },
    cross_prefix: { type: 'boolean' },
    use_gating: { type: 'boolean' },
    shared_gating: { type: 'boolean' },
  },
  additionalProperties: false,
};

export function validatePrefix(c: PrefixTuningConfig, path: string): void {
  if (new Set(c.leave_out).size !== c.leave_out.length) throw new ConfigError(`${path}.leave_out`, 'lists a layer twice');
}

/** Layers that carry a prefix, in order; a layer's prefix index is its position here (AdapterHub's prefix_id). */
export const prefixLayers = (c: PrefixTuningConfig, numLayers: number): number[] =>
  Array.from({ length: numLayers }, (_v, i) => i).filter((i) => !c.leave_out.includes(i));

// AdapterFusion configurations with AdapterHub's field names (adapters 1.x, `AdapterFusionConfig`):
// `dynamic` (the default) and `static`, each overridable field by field.
import { ConfigError } from '@adapters/core-graph';

export interface FusionConfig {
  /** A learned key projection K (d×d, with bias). */
  readonly key: boolean;
  /** A learned query projection Q (d×d, with bias). */
  readonly query: boolean;
  /** A learned value projection V (d×d, no bias). */
  readonly value: boolean;
  /** The query is the sublayer output before the adapter's pre-LayerNorm (`h`) instead of the adapter input. */
  readonly query_before_ln: boolean;
  /** Adds 0.01·Σ(I − V)² per fusion layer to the training loss (only while V trains). */
  readonly regularization: boolean;
  /** Adds the residual to the adapter outputs before fusing (keys and values both; see README) instead of after. */
  readonly residual_before: boolean;
  /** Softmax temperature T starting at 50 and falling by 0.05 per training step down to 1 (AdapterHub: per forward call). */
  readonly temperature: boolean;
  /** V is applied to each adapter output before the weighted sum (true) or to the sum (false). */
  readonly value_before_softmax: boolean;
  /** V starts as the identity with 1e-6 off the diagonal (else N(0, 0.02²)). */
  readonly value_initialized: boolean;
  /** Dropout on the attention scores before the softmax; null = the model's attention dropout. */
  readonly dropout_prob: number | null;
}

export type FusionPresetName = 'dynamic' | 'static';

export const FUSION_PRESETS: Readonly<Record<FusionPresetName, FusionConfig>> = {
  dynamic: {
    key: true, query: true, value: true, query_before_ln: false, regularization: true, residual_before: false,
    temperature: false, value_before_softmax: true, value_initialized: true, dropout_prob: null,
  },
  static: {
    key: true, query: true, value: false, query_before_ln: false, regularization: false, residual_before: false,
    temperature: false, value_before_softmax: true, value_initialized: false, dropout_prob: null,
  },
};

/** AdapterHub's DEFAULT_ADAPTERFUSION_CONFIG. */
export const DEFAULT_FUSION_PRESET: FusionPresetName = 'dynamic';

const BOOLEAN_FIELDS = ['key', 'query', 'value', 'query_before_ln', 'regularization', 'residual_before', 'temperature', 'value_before_softmax', 'value_initialized'] as const;
export const FUSION_FIELDS: readonly (keyof FusionConfig)[] = [...BOOLEAN_FIELDS, 'dropout_prob'];

/** What a caller may give: a preset name, or `{ config?: preset, ...overrides }` (a full AdapterHub config dict also fits). */
export type FusionConfigInput = FusionPresetName | Readonly<Record<string, unknown>>;

/**
 * Resolves a preset name or a (partial) config dict into a full FusionConfig. Unknown fields and wrong types are
 * ConfigErrors naming the field under `path`. AdapterHub writes `value_initialized` as a bool (or, in old files,
 * a string); any JSON truthy value other than `false`/`""`/`"false"` counts as true.
 */
export function resolveFusionConfig(input: FusionConfigInput = DEFAULT_FUSION_PRESET, path = 'fusion.config'): FusionConfig {
  const dict: Readonly<Record<string, unknown>> = typeof input === 'string' ? { config: input } : input;
  const presetName = dict['config'] ?? DEFAULT_FUSION_PRESET;
  if (typeof presetName !== 'string' || !(presetName in FUSION_PRESETS)) {
    throw new ConfigError(`${path}.config`, `unknown fusion preset ${JSON.stringify(presetName)} (presets: ${Object.keys(FUSION_PRESETS).join(', ')})`);
  }
  const out: Record<string, unknown> = { ...FUSION_PRESETS[presetName as FusionPresetName] };
  for (const [k, v] of Object.entries(dict)) {
    if (k === 'config' || k === 'architecture') continue;
    if (!(FUSION_FIELDS as readonly string[]).includes(k)) {
      throw new ConfigError(`${path}.${k}`, `unknown field (fields: ${FUSION_FIELDS.join(', ')})`);
    }
    if (k === 'dropout_prob') {
      if (v !== null && (typeof v !== 'number' || !(v >= 0 && v < 1))) throw new ConfigError(`${path}.dropout_prob`, `must be null or a number in [0, 1), got ${JSON.stringify(v)}`);
      out[k] = v;
    } else if (k === 'value_initialized') {
      if (typeof v !== 'boolean' && typeof v !== 'string') throw new ConfigError(`${path}.value_initialized`, `must be a boolean, got ${JSON.stringify(v)}`);
      out[k] = typeof v === 'boolean' ? v : v !== '' && v.toLowerCase() !== 'false';
    } else {
      if (typeof v !== 'boolean') throw new ConfigError(`${path}.${k}`, `must be a boolean, got ${JSON.stringify(v)}`);
      out[k] = v;
    }
  }
  return out as unknown as FusionConfig;
}

/** The `config` object of adapter_fusion_config.json (AdapterHub's field set and order). */
export function toHubFusionConfig(c: FusionConfig): Record<string, unknown> {
  return Object.fromEntries(FUSION_FIELDS.map((k) => [k, c[k]]));
}

/** Parameters one fusion layer adds at width d: Q and K are d×d + d, V is d×d. */
export function fusionParamCount(c: FusionConfig, d: number): number {
  return (c.query ? d * d + d : 0) + (c.key ? d * d + d : 0) + (c.value ? d * d : 0);
}

/** Initial temperature, per-step decrement and floor of `temperature: true` (AdapterHub: T = 50, T/1000, 1). */
export const TEMPERATURE_START = 50;
export const TEMPERATURE_STEP = TEMPERATURE_START / 1000;
export const TEMPERATURE_END = 1;

// K-Adapter configuration: fields, defaults (Wang et al. 2021, Table/§3 and the reference scripts),
// presets, JSON schema, and the resolution of `adapter_list` against a model's depth.
import type { JsonSchema } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';

export type KAdapterActivation = 'gelu' | 'gelu_new' | 'relu' | 'swish';

export interface KAdapterConfig {
  /** Width of the adapter's own transformer layers (down-projection target). Paper: 768. */
  readonly adapter_size: number;
  /** Transformer layers inside each adapter layer (N). Paper: 2. */
  readonly adapter_transformer_layers: number;
  /** Attention heads of those layers; must divide adapter_size. Paper: 12. */
  readonly adapter_heads: number;
  /** FFN width of those layers. Paper: 3072. */
  readonly adapter_intermediate_size: number;
  /**
   * Model layers whose output (site `layer.{i}.output`) each adapter layer reads, strictly increasing;
   * negative indices count from the end. `null` = three taps spread over the stack: [0, ⌊L/2⌋, L-1]
   * (deduplicated for L < 3). The paper taps RoBERTa-large at 0, 11, 22(23).
   */
  readonly adapter_list: readonly number[] | null;
  /** Every k-th adapter layer adds the output of the adapter layer k before it (0 = no skips). */
  readonly adapter_skip_layers: number;
  /** Std of the N(0, σ²) init of the down/up projections (biases 0). Paper: 0.0002. */
  readonly init_range: number;
  /** Std of the N(0, σ²) init of the adapter's transformer layers and of the 2d → d output projection. */
  readonly layer_init_range: number;
  readonly hidden_act: KAdapterActivation;
  readonly layer_norm_eps: number;
  /** Dropout on the adapter layers' sublayer outputs (training only). Paper: 0.1. */
  readonly dropout: number;
  /** Dropout on the adapter layers' attention probabilities (training only). Paper: 0.1. */
  readonly attention_dropout: number;
  /** Use the model's attention mask inside the adapter (the reference code attends to padding too). */
  readonly mask_padding: boolean;
}

/** The paper's configuration (RoBERTa-large knowledge adapters). */
export const KADAPTER_DEFAULTS: KAdapterConfig = Object.freeze({
  adapter_size: 768,
  adapter_transformer_layers: 2,
  adapter_heads: 12,
  adapter_intermediate_size: 3072,
  adapter_list: null,
  adapter_skip_layers: 0,
  init_range: 0.0002,
  layer_init_range: 0.02,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
  dropout: 0.1,
  attention_dropout: 0.1,
  mask_padding: true,
});

/** Named configurations accepted as `{ config: NAME }`. */
export const KADAPTER_PRESETS: Readonly<Record<string, Partial<KAdapterConfig>>> = Object.freeze({
  /** The paper's sizes. */
  kadapter: {},
  /** A small variant for small models and CPU runs: 128 wide, 4 heads, FFN 512. */
  kadapter_small: { adapter_size: 128, adapter_heads: 4, adapter_intermediate_size: 512 },
});

const positiveInt = (description: string): JsonSchema => ({ type: 'integer', minimum: 1, description });

export const KADAPTER_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    config: { type: 'string', enum: Object.keys(KADAPTER_PRESETS), description: 'preset to start from' },
    adapter_size: positiveInt('width of the adapter transformer layers'),
    adapter_transformer_layers: { type: 'integer', minimum: 0, description: 'transformer layers per adapter layer' },
    adapter_heads: positiveInt('attention heads of the adapter transformer layers'),
    adapter_intermediate_size: positiveInt('FFN width of the adapter transformer layers'),
    adapter_list: { anyOf: [{ type: 'null' }, { type: 'array', minItems: 1, items: { type: 'integer' } }], description: 'tapped model layers' },
    adapter_skip_layers: { type: 'integer', minimum: 0, description: 'skip connection period (0 = none)' },
    init_range: { type: 'number', exclusiveMinimum: 0, description: 'std of the projection init' },
    layer_init_range: { type: 'number', exclusiveMinimum: 0, description: 'std of the inner layer init' },
    hidden_act: { type: 'string', enum: ['gelu', 'gelu_new', 'relu', 'swish'] },
    layer_norm_eps: { type: 'number', exclusiveMinimum: 0 },
    dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    attention_dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    mask_padding: { type: 'boolean' },
  },
  additionalProperties: false,
};

/** Presets and user fields over the defaults; `config: NAME` picks a preset. */
export function resolveKAdapterConfig(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { config: preset, ...rest } = input;
  const base = typeof preset === 'string' ? (KADAPTER_PRESETS[preset] ?? {}) : {};
  return { ...KADAPTER_DEFAULTS, ...base, ...rest };
}

/** Checks beyond the schema (what needs several fields at once). */
export function validateKAdapterConfig(config: KAdapterConfig, path: string): void {
  if (config.adapter_size % config.adapter_heads !== 0) {
    throw new ConfigError(`${path}.adapter_heads`, `adapter_size ${config.adapter_size} is not divisible by ${config.adapter_heads} heads`);
  }
  const list = config.adapter_list;
  if (list !== null) {
    const nonNegative = list.every((l) => l >= 0);
    const negative = list.every((l) => l < 0);
    if (!nonNegative && !negative) throw new ConfigError(`${path}.adapter_list`, `mixes non-negative and negative layer indices: [${list.join(', ')}]`);
    for (let i = 1; i < list.length; i++) {
      if ((list[i] as number) <= (list[i - 1] as number)) throw new ConfigError(`${path}.adapter_list`, `must be strictly increasing (adapter layers read the model bottom-up), got [${list.join(', ')}]`);
    }
  }
}

/** The paper's default spread for a model of `numLayers` layers: first, middle, last. */
export function defaultAdapterList(numLayers: number): number[] {
  return [...new Set([0, Math.floor(numLayers / 2), numLayers - 1])].sort((a, b) => a - b);
}

/**
 * The concrete tapped layers for a model of `numLayers` layers. A layer the model doesn't have is a
 * ConfigError naming `adapter_list` and the layer count.
 */
export function resolveAdapterList(config: Pick<KAdapterConfig, 'adapter_list'>, numLayers: number, path = 'config'): number[] {
  if (numLayers < 1) throw new ConfigError(`${path}.adapter_list`, 'the model has no transformer layers to tap');
  if (config.adapter_list === null) return defaultAdapterList(numLayers);
  const resolved = config.adapter_list.map((l) => (l < 0 ? l + numLayers : l));
  const bad = config.adapter_list.filter((_l, i) => (resolved[i] as number) < 0 || (resolved[i] as number) >= numLayers);
  if (bad.length > 0) {
    throw new ConfigError(
      `${path}.adapter_list`,
      `layer ${bad.join(', ')} does not exist: the model has ${numLayers} layer${numLayers === 1 ? '' : 's'} (valid: 0..${numLayers - 1}, or -${numLayers}..-1 from the end); got [${config.adapter_list.join(', ')}]`,
    );
  }
  return resolved;
}

/** Parameters of one knowledge adapter for a model of width `width` with `taps` adapter layers. */
export function kadapterParamCount(config: KAdapterConfig, width: number, taps: number): number {
  const a = config.adapter_size;
  const inner = config.adapter_intermediate_size;
  const layer = 4 * (a * a + a) + 2 * a + (a * inner + inner) + (inner * a + a) + 2 * a;
  const adapterLayer = width * a + a + config.adapter_transformer_layers * layer + a * width + width;
  return taps * adapterLayer + (2 * width * width + width);
}

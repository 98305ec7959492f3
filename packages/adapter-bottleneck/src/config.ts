// Bottleneck adapter configurations: AdapterHub's field names, presets and defaults
// (adapters/configuration/adapter_config.py: BnConfig, SeqBnConfig, DoubleSeqBnConfig, ParBnConfig),
// plus `bapna_firat`, which AdapterHub does not ship.
import type { JsonSchema } from '@adapters/core-graph';
import { ConfigError, validateSchema } from '@adapters/core-graph';

export const NON_LINEARITIES = ['relu', 'gelu', 'gelu_new', 'swish', 'tanh', 'sigmoid'] as const;
export type NonLinearity = (typeof NON_LINEARITIES)[number];

export const INIT_WEIGHTS = ['bert', 'houlsby', 'mam_adapter'] as const;
export type InitWeights = (typeof INIT_WEIGHTS)[number];

/** A reduction factor for every layer, or per layer: `{ default: 16, "3": 8 }` (keys are layer indices). */
export type ReductionFactor = number | Readonly<Record<string, number>>;

/** A fully resolved bottleneck adapter configuration (AdapterHub's BnConfig fields we support). */
export interface BottleneckConfig {
  /** The preset this config started from. */
  readonly config: BottleneckPresetName;
  /** Adapter after the multi-head attention sublayer (sites of kind `attention`). */
  readonly mh_adapter: boolean;
  /** Adapter after the feed-forward sublayer (sites of kind `ffn`). */
  readonly output_adapter: boolean;
  /**
   * Adapter after an encoder-decoder's cross-attention sublayer (sites of kind `cross_attention`). AdapterHub's field;
   * optional (absent = false) so encoder-only configs and their files are unchanged.
   */
  readonly cross_adapter?: boolean;
  /** Adapter after the whole layer (sites of kind `output`, mode `after`), as Bapna & Firat. Not an AdapterHub field. */
  readonly layer_adapter: boolean;
  /** Bottleneck size m = floor(hidden / reduction_factor), at least 1. */
  readonly reduction_factor: ReductionFactor;
  readonly non_linearity: NonLinearity;
  /** Apply the layer's residual add & LayerNorm before the adapter (input = LN(h + x)). */
  readonly original_ln_before: boolean;
  /** Apply the layer's residual add & LayerNorm after the adapter (y = LN(out + x)). */
  readonly original_ln_after: boolean;
  /** Adapter residual: true = h (before the original LN), false = the adapter input, 'post_add' = h + x. */
  readonly residual_before_ln: boolean | 'post_add';
  /** Add the adapter residual before `ln_after` instead of after it. */
  readonly adapter_residual_before_ln: boolean;
  /** New LayerNorm on the adapter input. */
  readonly ln_before: boolean;
  /** New LayerNorm on the adapter output. */
  readonly ln_after: boolean;
  readonly init_weights: InitWeights;
  /** Parallel adapter (He et al.): reads the sublayer input x, y = LN(s·f(x) + h + x). */
  readonly is_parallel: boolean;
  /** s in s·f(·): a constant, 'learned' (one scalar, starts at 1) or 'channel' (one per feature, starts at 1). */
  readonly scaling: number | 'learned' | 'channel';
  /** Layers (from 0) that get no adapter. */
  readonly leave_out: readonly number[];
  /** Dropout on the scaled up-projection, before the residual. */
  readonly dropout: number;
  /**
   * AdapterHub's gate (UniPELT): out ← out · mean over positions of sigmoid(a·W_g + b_g), a the adapter's input.
   * Absent means false (kept out of resolved configs unless given, so configs without it stay as they were).
   */
  readonly use_gating?: boolean;
}

/** The base values every preset starts from: AdapterHub's BnConfig defaults. */
const BN_BASE = {
  layer_adapter: false,
  original_ln_before: false,
  original_ln_after: true,
  residual_before_ln: true,
  adapter_residual_before_ln: false,
  ln_before: false,
  ln_after: false,
  init_weights: 'bert',
  is_parallel: false,
  scaling: 1,
  leave_out: [],
  dropout: 0,
} as const;

/** Field order of a resolved config (fixed, so equal configs serialise equally). */
const FIELD_ORDER: readonly (keyof BottleneckConfig)[] = [
  'config', 'mh_adapter', 'output_adapter', 'layer_adapter', 'reduction_factor', 'non_linearity',
  'original_ln_before', 'original_ln_after', 'residual_before_ln', 'adapter_residual_before_ln',
  'ln_before', 'ln_after', 'init_weights', 'is_parallel', 'scaling', 'leave_out', 'dropout',
];

/** A preset: its fields in canonical order, frozen (arrays too) so the shared table cannot be changed. */
const ordered = (c: BottleneckConfig): BottleneckConfig =>
  Object.freeze(Object.fromEntries(FIELD_ORDER.map((k) => [k, Array.isArray(c[k]) ? Object.freeze([...(c[k] as number[])]) : c[k]]))) as unknown as BottleneckConfig;

/** The presets, by AdapterHub name (and `bapna_firat`, ours). */
export const BOTTLENECK_PRESETS = {
  /** Houlsby et al. (2019): after attention and FFN, LN(f(h) + h + x). AdapterHub DoubleSeqBnConfig. */
  double_seq_bn: ordered({ ...BN_BASE, config: 'double_seq_bn', mh_adapter: true, output_adapter: true, non_linearity: 'swish', reduction_factor: 16 }),
  /** Pfeiffer et al. (2020): FFN only, LN(f(LN(h + x)) + h + x). AdapterHub SeqBnConfig (its default config). */
  seq_bn: ordered({ ...BN_BASE, config: 'seq_bn', original_ln_before: true, mh_adapter: false, output_adapter: true, non_linearity: 'relu', reduction_factor: 16 }),
  /** He et al. (2021): parallel to the FFN, LN(4·f(x) + h + x), zero-initialised up-projection. AdapterHub ParBnConfig. */
  par_bn: ordered({
    ...BN_BASE, config: 'par_bn', mh_adapter: false, output_adapter: true, non_linearity: 'relu', reduction_factor: 2,
    init_weights: 'mam_adapter', is_parallel: true, scaling: 4,
  }),
  /** As par_bn with a learned scalar scale (starts at 1, as AdapterHub's `torch.ones(1)`). AdapterHub ParBnConfig(scaling="learned"). */
  scaled_par_bn: ordered({
    ...BN_BASE, config: 'scaled_par_bn', mh_adapter: false, output_adapter: true, non_linearity: 'relu', reduction_factor: 2,
    init_weights: 'mam_adapter', is_parallel: true, scaling: 'learned',
  }),
  /** Bapna & Firat (2019): after each layer with its own LayerNorm, z + f(LN_new(z)). Not in AdapterHub. */
  bapna_firat: ordered({
    ...BN_BASE, config: 'bapna_firat', mh_adapter: false, output_adapter: false, layer_adapter: true, non_linearity: 'relu',
    reduction_factor: 16, ln_before: true, original_ln_after: false,
  }),
} as const satisfies Record<string, BottleneckConfig>;

export type BottleneckPresetName = 'double_seq_bn' | 'seq_bn' | 'par_bn' | 'scaled_par_bn' | 'bapna_firat';

/** AdapterHub's deprecated preset strings, accepted and normalised to the current names. */
export const PRESET_ALIASES: Readonly<Record<string, BottleneckPresetName>> = {
  houlsby: 'double_seq_bn',
  pfeiffer: 'seq_bn',
  parallel: 'par_bn',
  scaled_parallel: 'scaled_par_bn',
};

/** AdapterHub's DEFAULT_ADAPTER_CONFIG. */
export const DEFAULT_PRESET: BottleneckPresetName = 'seq_bn';

export const PRESET_NAMES: readonly string[] = [...Object.keys(BOTTLENECK_PRESETS), ...Object.keys(PRESET_ALIASES)];

const positive: JsonSchema = { type: 'number', exclusiveMinimum: 0 };

export const BOTTLENECK_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    config: { type: 'string', enum: PRESET_NAMES, description: 'preset to start from' },
    mh_adapter: { type: 'boolean' },
    output_adapter: { type: 'boolean' },
    cross_adapter: { type: 'boolean' },
    layer_adapter: { type: 'boolean' },
    reduction_factor: { anyOf: [positive, { type: 'object', additionalProperties: positive }] },
    non_linearity: { type: 'string', enum: NON_LINEARITIES },
    original_ln_before: { type: 'boolean' },
    original_ln_after: { type: 'boolean' },
    residual_before_ln: { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['post_add'] }] },
    adapter_residual_before_ln: { type: 'boolean' },
    ln_before: { type: 'boolean' },
    ln_after: { type: 'boolean' },
    init_weights: { type: 'string', enum: INIT_WEIGHTS },
    is_parallel: { type: 'boolean' },
    scaling: { anyOf: [{ type: 'number' }, { type: 'string', enum: ['learned', 'channel'] }] },
    leave_out: { type: 'array', items: { type: 'integer', minimum: 0 } },
    dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
  },
};

/**
 * The `bottleneck` plugin's schema: BOTTLENECK_SCHEMA plus `use_gating` (UniPELT's gate). Plugins built on the
 * bottleneck fields (compacter, bottleneck_inv) keep BOTTLENECK_SCHEMA, where a gate stays unknown.
 */
export const BOTTLENECK_PLUGIN_SCHEMA: JsonSchema = {
  ...BOTTLENECK_SCHEMA,
  properties: { ...BOTTLENECK_SCHEMA.properties, use_gating: { type: 'boolean' } },
};

/** `{ config: 'seq_bn', ...overrides }` → the full config: the preset's values, then the overrides. */
export function resolveBottleneck(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const requested = input['config'] ?? DEFAULT_PRESET;
  const name = typeof requested === 'string' ? (PRESET_ALIASES[requested] ?? requested) : requested;
  const preset = BOTTLENECK_PRESETS[name as BottleneckPresetName] as BottleneckConfig | undefined;
  // An unknown preset is caught by the schema before resolve runs; keep a clear error for direct calls.
  if (!preset) throw new ConfigError('config.config', `unknown preset ${JSON.stringify(requested)} (presets: ${PRESET_NAMES.join(', ')})`);
  const merged: Record<string, unknown> = { ...preset, ...input, config: name };
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) out[k] = merged[k];
  // Unknown fields stay, so the schema check after resolve names them.
  for (const k of Object.keys(merged)) if (!(k in out)) out[k] = merged[k];
  return out;
}

/** The full config of a preset with overrides (throws ConfigError naming a bad field). */
export function bottleneckConfig(preset: string = DEFAULT_PRESET, overrides: Readonly<Record<string, unknown>> = {}, path = 'config'): BottleneckConfig {
  const input = { config: preset, ...overrides };
  validateSchemaLocal(input, path);
  const merged = resolveBottleneck(input);
  validateSchemaLocal(merged, path);
  validateBottleneck(merged as unknown as BottleneckConfig, path);
  return merged as unknown as BottleneckConfig;
}

function validateSchemaLocal(value: unknown, path: string): void {
  validateSchema(BOTTLENECK_PLUGIN_SCHEMA, value, path);
}

/** Checks the schema cannot express; errors name the field under `path`. */
export function validateBottleneck(c: BottleneckConfig, path: string): void {
  const err = (field: string, problem: string): ConfigError => new ConfigError(`${path}.${field}`, problem);
  if (typeof c.reduction_factor === 'object') {
    const keys = Object.keys(c.reduction_factor);
    if (keys.length === 0) throw err('reduction_factor', 'a per-layer map needs at least one entry (e.g. { "default": 16 })');
    for (const k of keys) {
      if (k !== 'default' && !/^(0|[1-9][0-9]*)$/.test(k)) throw err(`reduction_factor.${k}`, `keys must be layer indices or "default"`);
    }
  }
  if (!c.mh_adapter && !c.output_adapter && !c.layer_adapter && c.cross_adapter !== true) {
    throw err('output_adapter', 'no placement: set at least one of mh_adapter, output_adapter, cross_adapter, layer_adapter');
  }
  if (c.layer_adapter && (c.mh_adapter || c.output_adapter || c.cross_adapter === true)) {
    throw err('layer_adapter', 'cannot be combined with mh_adapter/output_adapter/cross_adapter in one adapter (use two adapters)');
  }
  if (c.is_parallel) {
    if (c.layer_adapter) throw err('is_parallel', 'a parallel adapter runs beside a sublayer; it cannot be a layer_adapter');
    if (c.original_ln_before) throw err('original_ln_before', 'is not applicable to parallel adapters (is_parallel: true)');
    if (c.adapter_residual_before_ln) throw err('adapter_residual_before_ln', 'is not applicable to parallel adapters (is_parallel: true)');
    if (c.residual_before_ln === 'post_add') throw err('residual_before_ln', `'post_add' is not applicable to parallel adapters`);
  }
  if (c.residual_before_ln === 'post_add' && !c.original_ln_before) {
    throw err('residual_before_ln', `'post_add' needs original_ln_before: true`);
  }
  if (c.adapter_residual_before_ln && !c.ln_after) throw err('adapter_residual_before_ln', 'only applies with ln_after: true');
  if (typeof c.scaling === 'number' && !Number.isFinite(c.scaling)) throw err('scaling', `must be finite, got ${c.scaling}`);
  if (new Set(c.leave_out).size !== c.leave_out.length) throw err('leave_out', 'lists a layer twice');
}

/** Python's float floor division (`hidden // reduction_factor`), which AdapterHub uses for the bottleneck size. */
export function pyFloorDiv(a: number, b: number): number {
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && (b < 0) !== (mod < 0)) div -= 1;
  if (div === 0) return 0;
  let floor = Math.floor(div);
  if (div - floor > 0.5) floor += 1;
  return floor;
}

/** The reduction factor that applies at `layer` (ConfigError when a map has neither the layer nor "default"). */
export function reductionFactorAt(c: Pick<BottleneckConfig, 'reduction_factor'>, layer: number | undefined, path = 'config'): number {
  const rf = c.reduction_factor;
  if (typeof rf === 'number') return rf;
  const v = (layer === undefined ? undefined : rf[String(layer)]) ?? rf['default'];
  if (v === undefined) {
    throw new ConfigError(`${path}.reduction_factor`, `no entry for layer ${String(layer)} and no "default" (e.g. { "default": 16, "${String(layer)}": 8 })`);
  }
  return v;
}

/** Bottleneck width m = max(1, floor(width / reduction_factor)), as AdapterHub. */
export function bottleneckSize(c: Pick<BottleneckConfig, 'reduction_factor'>, width: number, layer: number | undefined, path = 'config'): number {
  return Math.max(1, pyFloorDiv(width, reductionFactorAt(c, layer, path)));
}

export const isLeftOut = (c: Pick<BottleneckConfig, 'leave_out'>, layer: number | undefined): boolean => layer !== undefined && c.leave_out.includes(layer);

/**
 * Parameters of one adapter at a site of width d in `layer`: 2·m·d + m + d (down and up projections),
 * + 2d per new LayerNorm (ln_before, ln_after), + 1 for a learned scale, + d for a per-channel scale.
 * A layer in `leave_out` gets none.
 */
export function bottleneckParamCount(c: BottleneckConfig, width: number, layer: number | undefined): number {
  if (isLeftOut(c, layer)) return 0;
  const d = width;
  const m = bottleneckSize(c, d, layer);
  let n = 2 * m * d + m + d;
  if (c.ln_before) n += 2 * d;
  if (c.ln_after) n += 2 * d;
  if (c.scaling === 'learned') n += 1;
  if (c.scaling === 'channel') n += d;
  if (c.use_gating === true) n += d + 1;
  return n;
}

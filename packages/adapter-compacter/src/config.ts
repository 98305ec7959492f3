// Compacter configurations: AdapterHub's field names, presets and defaults
// (adapters/configuration/adapter_config.py: BnConfig's phm_* fields, CompacterConfig, CompacterPlusPlusConfig).
import type { BottleneckConfig } from '@adapters/adapter-bottleneck';
import { BOTTLENECK_PRESETS, BOTTLENECK_SCHEMA, bottleneckSize, isLeftOut, validateBottleneck } from '@adapters/adapter-bottleneck';
import type { JsonSchema, ParamCountArgs, ParamCounts } from '@adapters/core-graph';
import { ConfigError, validateSchema } from '@adapters/core-graph';

export const COMPACTER_PRESET_NAMES = ['compacter', 'compacter++'] as const;
export type CompacterPresetName = (typeof COMPACTER_PRESET_NAMES)[number];

/** How the W factors are drawn (AdapterHub's `hypercomplex_nonlinearity`). */
export const HYPERCOMPLEX_INITS = ['glorot-uniform', 'glorot-normal', 'normal', 'phm'] as const;
export type HypercomplexInit = (typeof HYPERCOMPLEX_INITS)[number];

/** How a PHM layer computes x·H (ours, not an AdapterHub field). */
export const PHM_STRATEGIES = ['kron', 'factors'] as const;
export type PhmStrategy = (typeof PHM_STRATEGIES)[number];

/** A fully resolved Compacter config: the bottleneck fields (protocol and placement) plus AdapterHub's `phm_*` fields. */
export interface CompacterConfig extends Omit<BottleneckConfig, 'config'> {
  /** The preset this config started from. */
  readonly config: CompacterPresetName;
  /** Always true: the down and up projections are PHM layers. */
  readonly phm_layer: true;
  /** n: the number of Kronecker summands and the size of each rule matrix A_i (n × n). */
  readonly phm_dim: number;
  /** One set of rule matrices A_i for every layer of the model (a model-level parameter). */
  readonly shared_phm_rule: boolean;
  /** A_i = l_i·r_iᵀ with l_i, r_i ∈ R^n (rank one). */
  readonly factorized_phm_rule: boolean;
  /** Whether the rule matrices train. */
  readonly learn_phm: boolean;
  /** B_i = s_i·t_iᵀ with s_i ∈ R^{k/n × r}, t_i ∈ R^{r × d/n} (r = phm_rank); false: B_i is a full matrix (PHM-Adapter). */
  readonly factorized_phm_W: boolean;
  /** One set of W (B_i or its factors) for every layer of the model (a model-level parameter). */
  readonly shared_W_phm: boolean;
  /** Distribution of the rule matrices: `normal` or `uniform`. */
  readonly phm_c_init: 'normal' | 'uniform';
  /** std of the shared rule matrices (phm_c_init normal) and of W for hypercomplex_nonlinearity `normal`. */
  readonly phm_init_range: number;
  readonly hypercomplex_nonlinearity: HypercomplexInit;
  readonly phm_rank: number;
  /** Bias on each PHM layer. */
  readonly phm_bias: boolean;
  /** Ours: build H and compute x·H (`kron`, default), or contract x with the factors (`factors`). */
  readonly phm_strategy: PhmStrategy;
}

/** AdapterHub's BnConfig defaults for the phm_* fields. */
const PHM_BASE = {
  phm_layer: true,
  phm_dim: 4,
  factorized_phm_W: true,
  shared_W_phm: false,
  shared_phm_rule: true,
  factorized_phm_rule: false,
  phm_c_init: 'normal',
  phm_init_range: 0.0001,
  learn_phm: true,
  hypercomplex_nonlinearity: 'glorot-uniform',
  phm_rank: 1,
  phm_bias: true,
  phm_strategy: 'kron',
} as const;

const BN_FIELDS = Object.keys(BOTTLENECK_PRESETS.seq_bn).filter((k) => k !== 'config');
const PHM_FIELDS = Object.keys(PHM_BASE);
/** Field order of a resolved config (fixed, so equal configs serialise equally). */
const FIELD_ORDER: readonly string[] = ['config', ...BN_FIELDS, ...PHM_FIELDS];

const ordered = (c: Record<string, unknown>): CompacterConfig => {
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) out[k] = Array.isArray(c[k]) ? Object.freeze([...(c[k] as unknown[])]) : c[k];
  return Object.freeze(out) as unknown as CompacterConfig;
};

/** The presets, by AdapterHub name. */
export const COMPACTER_PRESETS: Readonly<Record<CompacterPresetName, CompacterConfig>> = Object.freeze({
  /** CompacterConfig(DoubleSeqBnConfig): Houlsby placement (attention and FFN), reduction 32, gelu. */
  compacter: ordered({ ...BOTTLENECK_PRESETS.double_seq_bn, ...PHM_BASE, config: 'compacter', reduction_factor: 32, non_linearity: 'gelu' }),
  /** CompacterPlusPlusConfig(SeqBnConfig): Pfeiffer placement (FFN only, original_ln_before), reduction 32, gelu. */
  'compacter++': ordered({ ...BOTTLENECK_PRESETS.seq_bn, ...PHM_BASE, config: 'compacter++', reduction_factor: 32, non_linearity: 'gelu' }),
});

export const DEFAULT_COMPACTER_PRESET: CompacterPresetName = 'compacter';

const bnProps = BOTTLENECK_SCHEMA.properties ?? {};

export const COMPACTER_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...bnProps,
    config: { type: 'string', enum: COMPACTER_PRESET_NAMES, description: 'preset to start from' },
    phm_layer: { type: 'boolean', enum: [true], description: 'always true for this plugin (use `bottleneck` for dense projections)' },
    phm_dim: { type: 'integer', minimum: 1 },
    shared_phm_rule: { type: 'boolean' },
    factorized_phm_rule: { type: 'boolean' },
    learn_phm: { type: 'boolean' },
    factorized_phm_W: { type: 'boolean' },
    shared_W_phm: { type: 'boolean' },
    phm_c_init: { type: 'string', enum: ['normal', 'uniform'] },
    phm_init_range: { type: 'number', exclusiveMinimum: 0 },
    hypercomplex_nonlinearity: { type: 'string', enum: HYPERCOMPLEX_INITS },
    phm_rank: { type: 'integer', minimum: 1 },
    phm_bias: { type: 'boolean' },
    phm_strategy: { type: 'string', enum: PHM_STRATEGIES },
  },
};

/** `{ config: 'compacter++', ...overrides }` → the full config: the preset's values, then the overrides. */
export function resolveCompacter(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const requested = input['config'] ?? DEFAULT_COMPACTER_PRESET;
  const preset = COMPACTER_PRESETS[requested as CompacterPresetName] as CompacterConfig | undefined;
  if (!preset) throw new ConfigError('config.config', `unknown preset ${JSON.stringify(requested)} (presets: ${COMPACTER_PRESET_NAMES.join(', ')})`);
  const merged: Record<string, unknown> = { ...preset, ...input, config: requested };
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) out[k] = merged[k];
  // Unknown fields stay, so the schema check after resolve names them.
  for (const k of Object.keys(merged)) if (!(k in out)) out[k] = merged[k];
  return out;
}

/** Checks the schema cannot express; errors name the field under `path`. */
export function validateCompacter(c: CompacterConfig, path: string): void {
  validateBottleneck(c as unknown as BottleneckConfig, path);
  const err = (field: string, problem: string): ConfigError => new ConfigError(`${path}.${field}`, problem);
  if (c.init_weights === 'houlsby') {
    throw err('init_weights', `'houlsby' does not apply to PHM layers (AdapterHub fails on it too); use 'bert' (the PHM inits) or 'mam_adapter' (zero up-projection)`);
  }
  if (c.shared_W_phm && typeof c.reduction_factor !== 'number') {
    throw err('shared_W_phm', 'needs one reduction_factor for every layer (shared W has one shape), not a per-layer map');
  }
}

/** The full config of a preset with overrides (throws ConfigError naming a bad field). */
export function compacterConfig(preset: string = DEFAULT_COMPACTER_PRESET, overrides: Readonly<Record<string, unknown>> = {}, path = 'config'): CompacterConfig {
  const input = { config: preset, ...overrides };
  validateSchema(COMPACTER_SCHEMA, input, path);
  const merged = resolveCompacter(input);
  validateSchema(COMPACTER_SCHEMA, merged, path);
  validateCompacter(merged as unknown as CompacterConfig, path);
  return merged as unknown as CompacterConfig;
}

/** Throws a ConfigError naming `phm_dim` when k or d is not divisible by n. */
export function checkPhmDivisible(n: number, inDim: number, outDim: number, path: string, what = `PHM layer ${inDim} → ${outDim}`): void {
  for (const [name, size] of [['input size', inDim], ['output size', outDim]] as const) {
    if (size % n !== 0) throw new ConfigError(`${path}.phm_dim`, `${what}: ${name} ${size} is not divisible by phm_dim ${n}`);
  }
}

/** Bottleneck width m and a divisibility check of d and m by phm_dim. */
export function compacterSizes(c: CompacterConfig, width: number, layer: number | undefined, path = 'config'): { d: number; m: number; n: number } {
  const m = bottleneckSize(c as unknown as BottleneckConfig, width, layer, path);
  const n = c.phm_dim;
  checkPhmDivisible(n, width, m, path, `the projections ${width} → ${m} → ${width} (m = max(1, ${width} // reduction_factor))`);
  return { d: width, m, n };
}

/** Parameters of one PHM layer k → d, without the shared ones: W (unless shared), rule (unless shared), bias. */
export function phmLayerParamCount(c: Pick<CompacterConfig, 'phm_dim' | 'phm_rank' | 'factorized_phm_W' | 'shared_W_phm' | 'shared_phm_rule' | 'factorized_phm_rule' | 'phm_bias'>, k: number, d: number): number {
  const n = c.phm_dim;
  let count = 0;
  if (!c.shared_W_phm) count += c.factorized_phm_W ? c.phm_rank * (k + d) : (k * d) / n;
  if (!c.shared_phm_rule) count += c.factorized_phm_rule ? 2 * n * n : n * n * n;
  if (c.phm_bias) count += d;
  return count;
}

/**
 * Parameters one placement adds at width d (the shared, model-level parameters are not included; see
 * `compacterSharedParamCount`): two PHM layers d → m → d, + 2d per new LayerNorm, + 1 / d for a learned scale.
 * Default Compacter (factorized W, rank r, shared rule, bias): 2r(d + m) + m + d.
 */
export function compacterParamCount(c: CompacterConfig, width: number, layer: number | undefined): number {
  if (isLeftOut(c, layer)) return 0;
  const { d, m } = compacterSizes(c, width, layer);
  let count = phmLayerParamCount(c, d, m) + phmLayerParamCount(c, m, d);
  if (c.ln_before) count += 2 * d;
  if (c.ln_after) count += 2 * d;
  if (c.scaling === 'learned') count += 1;
  if (c.scaling === 'channel') count += d;
  return count;
}

/**
 * The model-level parameters of one Compacter adapter, counted once however many layers use them:
 * the rule (n³, or 2n² factorized) when shared_phm_rule, and W for both projections when shared_W_phm
 * (2r(d + m) factorized, 2dm/n full).
 */
export function compacterSharedParamCount(c: CompacterConfig, width: number): number {
  const n = c.phm_dim;
  let count = 0;
  if (c.shared_phm_rule) count += c.factorized_phm_rule ? 2 * n * n : n * n * n;
  if (c.shared_W_phm) {
    const { d, m } = compacterSizes(c, width, undefined);
    count += c.factorized_phm_W ? 2 * c.phm_rank * (d + m) : (2 * d * m) / n;
  }
  return count;
}

/** `AdapterPlugin.paramCount`: per-site counts, and the shared parameters once when any site is not left out. */
export function compacterParamCounts({ config, sites, width }: ParamCountArgs<CompacterConfig>): ParamCounts {
  const perSite = sites.map((s) => compacterParamCount(config, s.outWidth, s.layer));
  const live = sites.some((s) => !isLeftOut(config, s.layer));
  return { perSite, shared: live ? compacterSharedParamCount(config, width) : 0 };
}

/** Every parameter one Compacter adapter adds to a model: per-placement counts over `placements`, plus the shared ones once. */
export function compacterTotalParamCount(c: CompacterConfig, width: number, placements: readonly (number | undefined)[]): number {
  const live = placements.filter((l) => !isLeftOut(c, l));
  return live.reduce<number>((s, l) => s + compacterParamCount(c, width, l), 0) + (live.length > 0 ? compacterSharedParamCount(c, width) : 0);
}

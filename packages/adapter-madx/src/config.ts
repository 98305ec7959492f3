// The `bottleneck_inv` config: AdapterHub's SeqBnInvConfig / DoubleSeqBnInvConfig, a BnConfig (delegated to
// @adapters/adapter-bottleneck) plus `inv_adapter` and `inv_adapter_reduction_factor`; presets, schema and resolution.
import type { JsonSchema } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';
import type { BottleneckConfig, BottleneckPresetName } from '@adapters/adapter-bottleneck';
import { BOTTLENECK_SCHEMA, resolveBottleneck } from '@adapters/adapter-bottleneck';
import type { InvAdapterType } from './invertible';
import { INV_ADAPTER_TYPES } from './invertible';

export type InvPresetName = 'seq_bn_inv' | 'double_seq_bn_inv';

/** A bottleneck config (AdapterHub BnConfig fields) with an invertible adapter on the embeddings. */
export interface BottleneckInvConfig extends Omit<BottleneckConfig, 'config'> {
  readonly config: InvPresetName;
  /** The invertible block type (AdapterHub: 'nice' or 'glow'; this package: 'nice'). */
  readonly inv_adapter: InvAdapterType;
  /** Reduction factor inside F and G (hidden = int(n // rf)); AdapterHub's presets use 2. */
  readonly inv_adapter_reduction_factor: number;
}

/** The bottleneck preset each invertible preset extends. */
export const INV_PRESETS: Readonly<Record<InvPresetName, BottleneckPresetName>> = { seq_bn_inv: 'seq_bn', double_seq_bn_inv: 'double_seq_bn' };
/** AdapterHub's older names for the same configs. */
export const INV_PRESET_ALIASES: Readonly<Record<string, InvPresetName>> = { 'pfeiffer+inv': 'seq_bn_inv', 'houlsby+inv': 'double_seq_bn_inv' };
export const INV_PRESET_NAMES: readonly string[] = [...Object.keys(INV_PRESETS), ...Object.keys(INV_PRESET_ALIASES)];
/** AdapterHub's SeqBnInvConfig / DoubleSeqBnInvConfig defaults. */
export const INV_DEFAULTS = { inv_adapter: 'nice', inv_adapter_reduction_factor: 2 } as const;

export const BOTTLENECK_INV_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...BOTTLENECK_SCHEMA.properties,
    config: { type: 'string', enum: INV_PRESET_NAMES, description: 'preset to start from' },
    inv_adapter: { type: 'string', enum: INV_ADAPTER_TYPES, description: "invertible block on the embeddings ('glow' is not implemented)" },
    inv_adapter_reduction_factor: { type: 'number', exclusiveMinimum: 0 },
  },
};

/** `{ config: 'seq_bn_inv', ...overrides }` → full config: the bottleneck preset's values, the overrides, then the inv fields. */
export function resolveBottleneckInv(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const requested = input['config'] ?? 'seq_bn_inv';
  const name = typeof requested === 'string' ? (INV_PRESET_ALIASES[requested] ?? requested) : requested;
  const bnPreset = INV_PRESETS[name as InvPresetName] as BottleneckPresetName | undefined;
  if (!bnPreset) throw new ConfigError('config.config', `unknown preset ${JSON.stringify(requested)} (presets: ${INV_PRESET_NAMES.join(', ')})`);
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (k !== 'config' && k !== 'inv_adapter' && k !== 'inv_adapter_reduction_factor') rest[k] = v;
  return {
    ...resolveBottleneck({ ...rest, config: bnPreset }),
    config: name,
    inv_adapter: input['inv_adapter'] ?? INV_DEFAULTS.inv_adapter,
    inv_adapter_reduction_factor: input['inv_adapter_reduction_factor'] ?? INV_DEFAULTS.inv_adapter_reduction_factor,
  };
}

/** The bottleneck part of the config, as @adapters/adapter-bottleneck reads it. */
export function bottleneckPart(c: BottleneckInvConfig): BottleneckConfig {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) if (k !== 'inv_adapter' && k !== 'inv_adapter_reduction_factor') out[k] = v;
  out['config'] = INV_PRESETS[c.config];
  return out as unknown as BottleneckConfig;
}

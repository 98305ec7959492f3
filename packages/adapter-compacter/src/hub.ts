// AdapterHub mapping of Compacter configs: adapter_config.json's `config` (a BnConfig dict with `phm_layer: true`)
// to and from ours. The key mapping of the shared PHM rules is the plugin's `checkpointKeys` (plugin.ts).
import { ConfigError } from '@adapters/core-graph';
import type { CompacterConfig } from './config';

/** AdapterHub BnConfig fields this package does not implement, with the only value it accepts. */
const UNSUPPORTED_AT_DEFAULT: Readonly<Record<string, unknown>> = {
  init_weights_seed: null,
  use_gating: false,
  inv_adapter: null,
  inv_adapter_reduction_factor: null,
  cross_adapter: false,
  stochastic_depth: 0,
};

/** Our fields AdapterHub does not have; written only when they differ from the default. */
const OURS: Readonly<Record<string, unknown>> = { layer_adapter: false, phm_strategy: 'kron' };

/**
 * AdapterHub's adapter_config.json `config` for a Compacter: its BnConfig dict (`architecture: null`, `phm_layer: true`,
 * our values for every field), so AdapterHub's `AdapterConfig.load` reads it as a CompacterConfig-equivalent BnConfig.
 */
export function compacterToHubConfig(c: CompacterConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { architecture: null };
  for (const [k, v] of Object.entries(c)) {
    if (k === 'config') continue;
    if (k in OURS && OURS[k] === v) continue;
    out[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
  }
  return { ...out, ...UNSUPPORTED_AT_DEFAULT };
}

/** Reads an AdapterHub config with `phm_layer: true` (architecture null or absent) back as input for `compacter`. */
export function compacterFromHubConfig(hub: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  if (hub['phm_layer'] !== true) return undefined;
  if (hub['architecture'] !== undefined && hub['architecture'] !== null && hub['architecture'] !== 'compacter') return undefined;
  for (const [k, accepted] of Object.entries(UNSUPPORTED_AT_DEFAULT)) {
    const v = hub[k];
    if (v !== undefined && v !== accepted && !(accepted === 0 && v === 0)) {
      throw new ConfigError(`config.${k}`, `${JSON.stringify(v)} is not supported by the compacter plugin (only ${JSON.stringify(accepted)})`);
    }
  }
  const input: Record<string, unknown> = { config: hub['mh_adapter'] === true ? 'compacter' : 'compacter++' };
  for (const [k, v] of Object.entries(hub)) {
    if (k === 'architecture' || k === 'config' || k in UNSUPPORTED_AT_DEFAULT) continue;
    // Unknown fields are passed on, so the schema check names them.
    input[k] = v;
  }
  return input;
}

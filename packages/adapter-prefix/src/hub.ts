// AdapterHub's adapter_config.json `config` for prefix tuning (PrefixTuningConfig, adapters 1.3).
import { ConfigError } from '@adapters/core-graph';
import type { PrefixTuningConfig } from './config';
import { PREFIX_DEFAULTS } from './config';

/** Fields that cannot change a loaded adapter's outputs. */
const HUB_IGNORED = new Set(['init_weights_seed']);

/** PrefixTuningConfig's dict, every field as adapters 1.3 writes it. */
export function prefixToHubConfig(c: PrefixTuningConfig): Record<string, unknown> {
  return { architecture: 'prefix_tuning', ...c, leave_out: [...c.leave_out], init_weights_seed: null };
}

/** Reads a PrefixTuningConfig dict as input for `prefix_tuning`, or undefined for other architectures. */
export function prefixFromHubConfig(hub: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  if (hub['architecture'] !== 'prefix_tuning') return undefined;
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hub)) {
    if (k === 'architecture' || HUB_IGNORED.has(k)) continue;
    if (!Object.hasOwn(PREFIX_DEFAULTS, k)) throw new ConfigError(`config.${k}`, 'unknown PrefixTuningConfig field');
    input[k] = v;
  }
  return input;
}

// AdapterHub interoperability of the bottleneck plugin: the `config` object of adapter_config.json (adapters 1.3.0's
// BnConfig dict, which has no `architecture` key) and the tensor names AdapterHub gives parameters that are not
// `${module}.${param}` shaped here.
import { ConfigError } from '@adapters/core-graph';
import type { BottleneckConfig, BottleneckPresetName } from './config';
import { BOTTLENECK_SCHEMA } from './config';

/** BnConfig fields with no counterpart here, at the values that leave the forward pass as ours computes it. */
const HUB_NO_OPS: Readonly<Record<string, unknown>> = {
  cross_adapter: false,
  stochastic_depth: 0,
  phm_layer: false,
  inv_adapter: null,
};

/** BnConfig fields that never change a loaded adapter's outputs, or only matter when a field above is switched on. */
const HUB_IGNORED = new Set([
  // Initialisation only: a loaded adapter's weights come from the file.
  'init_weights_seed',
  // Read by PHMLayer only (phm_layer: true is the compacter plugin's).
  'phm_dim', 'factorized_phm_W', 'shared_W_phm', 'shared_phm_rule', 'factorized_phm_rule', 'phm_c_init', 'phm_init_range',
  'learn_phm', 'hypercomplex_nonlinearity', 'phm_rank', 'phm_bias',
  // Read only with inv_adapter set (the bottleneck_inv plugin's).
  'inv_adapter_reduction_factor',
]);

/** Our fields AdapterHub does not have; kept in the hub config so our own files round-trip exactly. */
const OURS = ['config', 'layer_adapter'] as const;

/** AdapterHub's activation names that are ours under another name (`get_activation` lower-cases them). */
const ACTIVATION_ALIASES: Readonly<Record<string, string>> = { silu: 'swish' };

/** A preset to start from for an AdapterHub config (every field is then set explicitly, so this only names it). */
function presetOf(hub: Readonly<Record<string, unknown>>): BottleneckPresetName {
  if (hub['is_parallel'] === true) return hub['scaling'] === 'learned' ? 'scaled_par_bn' : 'par_bn';
  return hub['mh_adapter'] === true ? 'double_seq_bn' : 'seq_bn';
}

/**
 * Reads adapter_config.json's `config` as input for `bottleneck`: AdapterHub's BnConfig dict (no `architecture`, or
 * `null`/`'bottleneck'`) or our own. Returns undefined for configs another plugin reads (`phm_layer: true`: compacter;
 * `inv_adapter` set: bottleneck_inv; another architecture). BnConfig fields that would change the math and that we do
 * not implement (`use_gating`, `stochastic_depth > 0`) are ConfigErrors (`cross_adapter: true` selects `cross_attention` sites); fields that cannot change a
 * loaded adapter's outputs are dropped (`init_weights_seed`, the `phm_*` fields with `phm_layer: false`, ...).
 * Unknown fields are ConfigErrors naming them.
 */
export function bottleneckFromHubConfig(hub: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  const arch = hub['architecture'];
  if (arch !== undefined && arch !== null && arch !== 'bottleneck') return undefined;
  if (hub['phm_layer'] === true) return undefined;
  if (hub['inv_adapter'] !== undefined && hub['inv_adapter'] !== null) return undefined;
  const known = BOTTLENECK_SCHEMA.properties ?? {};
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hub)) {
    if (k === 'architecture' || HUB_IGNORED.has(k)) continue;
    if (k === 'use_gating') {
      if (typeof v !== 'boolean') throw new ConfigError(`config.${k}`, `must be a boolean, got ${JSON.stringify(v)}`);
      // false is the default and stays implicit, so a config without the field reads back as it was written.
      if (v) input[k] = true;
      continue;
    }
    // Sites of kind `cross_attention` exist only in encoder-decoder graphs; false stays absent (encoder-only configs unchanged).
    if (k === 'cross_adapter' && v === true) {
      input[k] = true;
      continue;
    }
    if (k in HUB_NO_OPS) {
      const ok = HUB_NO_OPS[k];
      if (v !== ok && !(ok === 0 && v === 0)) {
        throw new ConfigError(`config.${k}`, `${JSON.stringify(v)} is not supported by the bottleneck plugin (only ${JSON.stringify(ok)}); it changes the adapter's outputs`);
      }
      continue;
    }
    if (!(k in known)) throw new ConfigError(`config.${k}`, 'is not a BnConfig field the bottleneck plugin knows');
    input[k] = k === 'non_linearity' && typeof v === 'string' ? (ACTIVATION_ALIASES[v.toLowerCase()] ?? v.toLowerCase()) : v;
  }
  if (input['config'] === undefined) input['config'] = presetOf(hub);
  return input;
}

/**
 * adapter_config.json's `config` for a bottleneck adapter: AdapterHub's BnConfig dict (every field, no `architecture`,
 * so `AdapterConfig.load` picks BnConfig), plus our `config` (preset name) and `layer_adapter`, which AdapterHub keeps
 * as extra attributes and ignores.
 */
export function bottleneckToHubConfig(c: BottleneckConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) out[k] = Array.isArray(v) ? [...(v as unknown[])] : typeof v === 'object' && v !== null ? { ...v } : v;
  for (const [k, v] of Object.entries(HUB_NO_OPS)) out[k] = k === 'cross_adapter' ? c.cross_adapter === true : v;
  out['use_gating'] = c.use_gating === true;
  // AdapterHub's defaults for the fields it reads only with phm_layer / inv_adapter, so its loader finds every field.
  Object.assign(out, {
    init_weights_seed: null, phm_dim: 4, factorized_phm_W: true, shared_W_phm: false, shared_phm_rule: true, factorized_phm_rule: false,
    phm_c_init: 'normal', phm_init_range: 0.0001, learn_phm: true, hypercomplex_nonlinearity: 'glorot-uniform', phm_rank: 1, phm_bias: true,
    inv_adapter_reduction_factor: null,
  });
  for (const k of OURS) out[k] = c[k];
  return out;
}

/**
 * AdapterHub's names for a bottleneck parameter, given its local key. The learned scale is the bare `scaling`
 * parameter of AdapterHub's Adapter (ours: node `scaling`, param `scale`). With `ln_before`, AdapterHub's
 * `adapter_down` Sequential holds the same LayerNorm as `adapter_norm_before`, so its state dict lists it under both
 * `adapter_norm_before.*` and `adapter_down.0.*` (the Linear is then `adapter_down.1`).
 */
export function bottleneckHubKeys(local: string): readonly string[] {
  if (local === 'scaling.scale') return ['scaling'];
  const norm = /^adapter_norm_before\.(weight|bias)$/.exec(local);
  if (norm) return [local, `adapter_down.0.${norm[1] as string}`];
  return [local];
}

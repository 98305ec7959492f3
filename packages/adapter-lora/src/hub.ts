// AdapterHub interoperability: the `config` object of adapter_config.json (LoRAConfig / IA3Config dicts, both with
// `architecture: "lora"`), and AdapterHub's tensor names (`...query.loras.NAME.lora_A`, `lora_B`, `gate.weight`).
import { ConfigError } from '@adapters/core-graph';
import type { LoraConfig } from './config';
import type { LinearRole } from './targets';

/** LoRAConfig fields we don't implement, at the values that leave the forward pass as ours computes it. */
const HUB_NO_OPS: Readonly<Record<string, unknown>> = { use_dora: false, vera_d: null, vera_b: null };
/** Fields that cannot change a loaded adapter's outputs (initialisation seed, parameter dtype of float32 weights). */
const HUB_IGNORED = new Set(['init_weights_seed', 'dtype']);
const HUB_FIELDS = ['selfattn_lora', 'intermediate_lora', 'output_lora', 'leave_out', 'r', 'alpha', 'dropout', 'attn_matrices', 'composition_mode', 'init_weights', 'use_gating'] as const;

const ROLE_FLAGS: ReadonlyArray<[LinearRole, string]> = [
  ['attention.self.query', 'q'], ['attention.self.key', 'k'], ['attention.self.value', 'v'], ['intermediate.dense', 'intermediate'], ['output.dense', 'output'],
];
const ALL_ROLES: readonly LinearRole[] = ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense', 'intermediate.dense', 'output.dense'];

/** The AdapterHub flags for a PEFT-style list of target_modules, or a ConfigError when AdapterHub cannot express it. */
function flagsOfTargets(c: LoraConfig): Pick<LoraConfig, 'selfattn_lora' | 'intermediate_lora' | 'output_lora' | 'attn_matrices'> {
  const t = c.target_modules;
  if (typeof t === 'string') throw new ConfigError('config.target_modules', `a regular expression has no AdapterHub LoRAConfig equivalent; save with savePeftLora`);
  if (c.layers_to_transform !== null) throw new ConfigError('config.layers_to_transform', `has no AdapterHub LoRAConfig equivalent (use leave_out); save with savePeftLora`);
  const matchesRole = (x: string, role: LinearRole) => `encoder.layer.0.${role}`.endsWith(`.${x}`) || role === x;
  for (const x of t ?? []) {
    // AdapterHub's flags hold in every layer: a layer-specific name or one for another module (the pooler) has no equivalent.
    if (/\d/.test(x) || !ALL_ROLES.some((role) => matchesRole(x, role))) throw new ConfigError('config.target_modules', `'${x}' has no AdapterHub LoRAConfig equivalent; save with savePeftLora`);
  }
  const roles = ALL_ROLES.filter((role) => (t ?? []).some((x) => matchesRole(x, role)));
  if (roles.includes('attention.output.dense')) throw new ConfigError('config.target_modules', `AdapterHub's LoRA has no module on attention.output.dense; save with savePeftLora`);
  const flags = new Set(ROLE_FLAGS.filter(([role]) => roles.includes(role)).map(([, f]) => f));
  const attn = (['q', 'k', 'v'] as const).filter((m) => flags.has(m));
  return { selfattn_lora: attn.length > 0, attn_matrices: attn.length > 0 ? attn : c.attn_matrices, intermediate_lora: flags.has('intermediate'), output_lora: flags.has('output') };
}

/** adapter_config.json's `config`: AdapterHub's LoRAConfig dict (every field, as adapters 1.3 writes it). */
export function loraToHubConfig(c: LoraConfig): Record<string, unknown> {
  if (c.use_rslora) throw new ConfigError('config.use_rslora', `AdapterHub's LoRAConfig has no rank-stabilised scaling; save with savePeftLora`);
  const flags = c.target_modules === null ? { selfattn_lora: c.selfattn_lora, intermediate_lora: c.intermediate_lora, output_lora: c.output_lora, attn_matrices: c.attn_matrices } : flagsOfTargets(c);
  return {
    architecture: 'lora',
    ...flags,
    leave_out: [...c.leave_out],
    r: c.r,
    alpha: c.alpha,
    dropout: c.dropout,
    attn_matrices: [...flags.attn_matrices],
    composition_mode: c.composition_mode,
    init_weights: c.init_weights,
    init_weights_seed: null,
    use_gating: c.use_gating,
    use_dora: false,
    vera_d: null,
    vera_b: null,
    dtype: null,
  };
}

/**
 * Reads a LoRAConfig / IA3Config dict (`architecture: "lora"`) as input for `lora`, or undefined for other
 * architectures. DoRA and VeRA are ConfigErrors (they change the outputs); unknown fields are ConfigErrors naming them.
 */
export function loraFromHubConfig(hub: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  if (hub['architecture'] !== 'lora') return undefined;
  const input: Record<string, unknown> = { config: hub['composition_mode'] === 'scale' ? 'ia3' : 'lora' };
  for (const [k, v] of Object.entries(hub)) {
    if (k === 'architecture' || HUB_IGNORED.has(k)) continue;
    if (k in HUB_NO_OPS) {
      if (v !== HUB_NO_OPS[k] && v !== undefined) throw new ConfigError(`config.${k}`, `${JSON.stringify(v)} is not supported by the lora plugin (DoRA / VeRA change the outputs)`);
      continue;
    }
    if (!(HUB_FIELDS as readonly string[]).includes(k)) throw new ConfigError(`config.${k}`, `unknown LoRAConfig field`);
    input[k] = v;
  }
  if (input['init_weights'] === 'vera') throw new ConfigError('config.init_weights', `'vera' (VeRA) is not supported by the lora plugin`);
  return input;
}

/** AdapterHub's names relative to the layer module: `lora_A`, `lora_B` (no `.weight`), `gate.weight`, `gate.bias`. */
export function loraHubKeys(local: string): readonly string[] {
  if (local === 'lora_A.weight' || local === 'lora_B.weight' || local === 'lora_B.scale') return [local.slice(0, 'lora_X'.length)];
  return [local];
}

// PEFT's LoRA files: adapter_config.json (LoraConfig.to_dict(), `peft_type: "LORA"`) and adapter_model.safetensors
// with `base_model.model.<module>.lora_A.weight` [r, in] and `...lora_B.weight` [out, r] (PEFT 0.21, adapter name
// `default` left out of the keys, as save_pretrained writes them). y = x·W + b + (lora_alpha/r)·dropout(x)·Aᵀ·Bᵀ.
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AdapterCatalog, AdapterRegistry, Graph, WeightStore } from '@adapters/core-graph';
import {
  adapter, applyPlacements, checkpointTensor, ConfigError, createRegistry, encodeSafetensors, GraphError, readJsonObject, readSafetensorsFile,
  stageFromCheckpoint, writeFileAtomic, writeJsonAtomic,
} from '@adapters/core-graph';
import type { LoraConfig } from './config';
import { lora } from './plugin';

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';
/** PEFT's prefix of a bare model's module names in adapter_model.safetensors (PeftModel.base_model.model). */
export const PEFT_KEY_PREFIX = 'base_model.model.';

/** LoraConfig fields that change the outputs, at the values our LoRA computes; anything else is a ConfigError. */
const PEFT_NO_OPS: ReadonlyArray<[string, (v: unknown) => boolean, string]> = [
  ['bias', (v) => v === undefined || v === 'none', "'none' (trained biases are not supported)"],
  ['fan_in_fan_out', (v) => v === undefined || v === false, 'false (Conv1D layers, GPT-2)'],
  ['use_dora', (v) => v === undefined || v === false, 'false (DoRA)'],
  ['lora_bias', (v) => v === undefined || v === false, 'false'],
  ['use_qalora', (v) => v === undefined || v === false, 'false'],
  ['rank_pattern', (v) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0), '{} (one rank for every module)'],
  ['alpha_pattern', (v) => v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0), '{} (one alpha for every module)'],
  ['modules_to_save', (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), 'null (fully trained modules are not part of a LoRA here)'],
  ['exclude_modules', (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), 'null'],
  ['layers_pattern', (v) => v === undefined || v === null || v === 'layer' || (Array.isArray(v) && (v.length === 0 || (v.length === 1 && v[0] === 'layer'))), "null or 'layer' (BERT's encoder.layer.N)"],
  ['layer_replication', (v) => v === undefined || v === null, 'null'],
  ['target_parameters', (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), 'null (LoRA on parameters)'],
  ['trainable_token_indices', (v) => v === undefined || v === null, 'null'],
  ['alora_invocation_tokens', (v) => v === undefined || v === null, 'null'],
  ['use_bdlora', (v) => v === undefined || v === null || v === false, 'null'],
];

/** Our config for a PEFT LoraConfig dict; `file` names the config in errors. */
export function loraFromPeftConfig(peft: Readonly<Record<string, unknown>>, file = PEFT_CONFIG_FILE): Record<string, unknown> {
  if (peft['peft_type'] !== 'LORA') throw new ConfigError(`${file}: peft_type`, `${JSON.stringify(peft['peft_type'])} is not a PEFT LoRA ("LORA")`);
  for (const [field, ok, expected] of PEFT_NO_OPS) {
    if (!ok(peft[field])) throw new ConfigError(`${file}: ${field}`, `${JSON.stringify(peft[field])} is not supported (only ${expected})`);
  }
  const target = peft['target_modules'];
  if (target === null || target === undefined) throw new ConfigError(`${file}: target_modules`, 'is missing (the model-type defaults of PEFT are not known here; name the modules)');
  if (target === 'all-linear') throw new ConfigError(`${file}: target_modules`, `'all-linear' is a PEFT shorthand resolved at training time; save the adapter again with PEFT, which writes the module names`);
  const layers = peft['layers_to_transform'];
  return {
    config: 'lora',
    r: peft['r'] ?? 8,
    alpha: peft['lora_alpha'] ?? 8,
    dropout: peft['lora_dropout'] ?? 0,
    target_modules: target,
    layers_to_transform: layers === undefined ? null : layers,
    use_rslora: peft['use_rslora'] ?? false,
  };
}

/** The module names a config adapts in `graph` (PEFT's target_modules for a file we write). */
function placedModules(graph: Graph, name: string): string[] {
  const sites = graph.splices.filter((s) => s.adapters.includes(name)).map((s) => graph.site(s.site));
  return [...new Set(sites.map((s) => s.module ?? s.name))];
}

/** A PEFT LoraConfig dict for one of our LoRA adapters (every field PEFT 0.21 reads, at its defaults otherwise). */
export function loraToPeftConfig(c: LoraConfig, modules: readonly string[], baseModel: string | null): Record<string, unknown> {
  if (c.composition_mode !== 'add') throw new ConfigError('config.composition_mode', `'scale' ((IA)³) has no PEFT LoRA file (PEFT keeps (IA)³ as peft_type IA3)`);
  if (c.use_gating) throw new ConfigError('config.use_gating', `PEFT's LoRA has no gate`);
  // AdapterHub-style configs become the exact module names placed (PEFT matches a name in the list exactly or as a suffix).
  const explicit = c.target_modules === null;
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: explicit ? null : c.layers_to_transform === null ? null : [...c.layers_to_transform],
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: explicit ? [...modules] : typeof c.target_modules === 'string' ? c.target_modules : [...(c.target_modules as readonly string[])],
    task_type: null,
    use_dora: false,
    use_rslora: c.use_rslora,
  };
}

/** The PEFT key of one of our LoRA parameters: `base_model.model.<module>.lora_A.weight`. */
function peftKeyOf(graph: Graph, key: string, name: string, withPrefix: boolean): string {
  const marker = `.adapters.${name}.`;
  const at = key.indexOf(marker);
  const site = graph.site(key.slice(0, at));
  const local = key.slice(at + marker.length);
  if (local !== 'lora_A.weight' && local !== 'lora_B.weight') throw new GraphError(`parameter '${key}' has no PEFT LoRA name`);
  const prefix = String(graph.meta['prefix'] ?? '');
  return `${PEFT_KEY_PREFIX}${withPrefix && prefix ? `${prefix}.` : ''}${site.module ?? site.name}.${local}`;
}

const adapterKeys = (graph: Graph, name: string): string[] => [...graph.params.values()].filter((p) => p.owner === `adapter:${name}`).map((p) => p.key);

/**
 * Loads a PEFT LoRA (a folder PEFT's save_pretrained wrote, for a bare BertModel / RobertaModel or a task model
 * whose keys carry `bert.` / `roberta.`) as adapter `as` (default `default`, PEFT's name). Every tensor of the file
 * must be placed, and every placed parameter must be in the file; a failed load leaves graph and store unchanged.
 */
export async function loadPeftLora(dir: string, graph: Graph, store: WeightStore, options: { as?: string; registry?: AdapterRegistry } = {}): Promise<{ graph: Graph; name: string }> {
  const configFile = join(dir, PEFT_CONFIG_FILE);
  const config = loraFromPeftConfig(await readJsonObject(configFile), configFile);
  const name = options.as ?? 'default';
  const registry = options.registry ?? createRegistry([lora]);
  const next = applyPlacements(graph, [{ adapter: adapter(lora, name, config) }], registry).graph;
  const weightsFile = join(dir, PEFT_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(weightsFile);
  const keys = adapterKeys(next, name);
  const keyOf = (k: string): string => {
    const bare = peftKeyOf(next, k, name, false);
    const prefixed = peftKeyOf(next, k, name, true);
    return !tensors.has(bare) && tensors.has(prefixed) ? prefixed : bare;
  };
  const staged = stageFromCheckpoint(next, (k) => tensors.get(k), { keys, source: weightsFile, keyOf });
  const used = new Set(keys.map(keyOf));
  const extra = [...tensors.keys()].filter((k) => !used.has(k));
  if (extra.length > 0) throw new GraphError(`${weightsFile}: tensor '${extra[0]}' has no place in the model (the config's target_modules do not select its module, or the model has no such layer)`);
  store.sync(next, 0, (spec) => staged.get(spec.key)?.values);
  return { graph: next, name };
}

/**
 * Writes LoRA adapter `name` as PEFT's save_pretrained does (adapter_config.json + adapter_model.safetensors with
 * `base_model.model.<module>` keys for the bare model), for PeftModel.from_pretrained(BertModel..., dir).
 */
export async function savePeftLora(dir: string, graph: Graph, store: WeightStore, name: string, options: { baseModel?: string } = {}): Promise<void> {
  const entry = ((graph.meta['adapters'] as AdapterCatalog | undefined) ?? {})[name];
  if (!entry || entry.plugin !== 'lora') throw new ConfigError('name', `the graph has no lora adapter '${name}'`);
  const modules = placedModules(graph, name);
  if (modules.length === 0) throw new ConfigError('name', `adapter '${name}' has no splice in the graph (merged?)`);
  const config = loraToPeftConfig(entry.config as unknown as LoraConfig, modules, options.baseModel ?? (graph.meta['modelName'] as string | undefined) ?? null);
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const k of adapterKeys(graph, name)) tensors[peftKeyOf(graph, k, name, false)] = checkpointTensor(graph, store, k);
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(join(dir, PEFT_CONFIG_FILE), config);
  await writeFileAtomic(join(dir, PEFT_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt' }));
}

/** Whether a folder holds a PEFT adapter (adapter_model.safetensors beside adapter_config.json). */
export async function isPeftDir(dir: string): Promise<boolean> {
  return access(join(dir, PEFT_WEIGHTS_FILE)).then(() => true, () => false);
}

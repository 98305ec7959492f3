// Fusion files in AdapterHub's layout (adapters 1.x, safetensors variant of AdapterFusionLoader):
//   adapter_fusion_config.json       { adapter_names, config: {key, query, ...}, hidden_size, model_class, model_name, model_type, name, version }
//   model_adapter_fusion.safetensors `bert.encoder.layer.{i}.output.adapter_fusion_layer.{NAME}.{query|key|value}.{weight|bias}`
// Kernels are written [out, in] as PyTorch's nn.Linear. Pruned fusions add `fusion_layers` (ours; AdapterHub ignores it).
import { join } from 'node:path';
import type { AdapterRegistry, AdapterUse, CheckpointKeyArgs, Graph, WeightStore } from '@adapters/core-graph';
import {
  assignStaged, checkpointKeyArgs, checkpointKeysOf, ConfigError, GraphError, moduleCheckpointKeys, objectField, readJsonObject, readSafetensorsFile, stageArtifact, writeArtifact,
} from '@adapters/core-graph';
import { resolveFusionConfig, toHubFusionConfig } from './config';
import type { FusionRecord } from './plugin';
import { checkFusionName, fusionCatalog } from './plugin';
import type { FusionSpec } from './model';
import { adapterUses, applyFusion } from './model';
import { fusionTemperature, setFusionTemperature } from './temperature';

export const FUSION_CONFIG_FILE = 'adapter_fusion_config.json';
export const FUSION_WEIGHTS_FILE = 'model_adapter_fusion.safetensors';

function recordOf(graph: Graph, name: string): FusionRecord {
  const r = fusionCatalog(graph)[name];
  if (!r) throw new ConfigError('name', `the graph has no fusion '${name}' (fusions: ${Object.keys(fusionCatalog(graph)).join(', ') || 'none'})`);
  return r;
}

/** AdapterHub's key of a fusion parameter: `${module}.adapter_fusion_layer.${as}.${local}` (the checkpoint-key hook of fusions). */
export const fusionCheckpointKeys = (param: CheckpointKeyArgs<unknown>): readonly string[] => moduleCheckpointKeys(param, { collection: 'adapter_fusion_layer' });

/** Weight key → every checkpoint key of each parameter of a fusion (`as` renames the fusion in the keys). */
function fusionKeyMap(graph: Graph, name: string, as = name): Map<string, string[]> {
  const record = recordOf(graph, name);
  const out = new Map<string, string[]>();
  for (const [site, s] of Object.entries(record.sites)) {
    for (const [local, key] of Object.entries(s.params)) out.set(key, checkpointKeysOf(fusionCheckpointKeys, checkpointKeyArgs(graph, key, { name, as, config: record.config, at: { site, local } })));
  }
  return out;
}

/** True when some site fuses fewer adapters than the fusion has (pruned by top-k); dropped layers are not visible here. */
const isPruned = (r: FusionRecord): boolean => Object.values(r.sites).some((s) => s.children.length !== r.adapters.length);

/** Writes a fusion's config and weights (each file atomically). The fused adapters are saved with core-graph's saveAdapter. */
export async function saveFusion(dir: string, graph: Graph, store: WeightStore, name: string, options: { layers?: boolean } = {}): Promise<void> {
  const record = recordOf(graph, name);
  const layers = options.layers ?? true;
  await writeArtifact(dir, graph, store, {
    configFile: FUSION_CONFIG_FILE,
    fields: {
      adapter_names: record.adapters,
      config: toHubFusionConfig(record.config),
      name,
      ...(layers ? { fusion_layers: Object.fromEntries(Object.entries(record.sites).map(([site, s]) => [site, s.children])) } : {}),
      ...(isPruned(record) ? { pruned: true } : {}),
      // Not AdapterHub's (it keeps T in memory only and restarts at 50): the annealed T, so a reload computes the same.
      ...(record.config.temperature ? { temperature: fusionTemperature(store, name) } : {}),
    },
    weightsFile: FUSION_WEIGHTS_FILE,
    tensors: fusionKeyMap(graph, name),
  });
}

export interface LoadFusionOptions {
  /** The fused adapters (plugin + config); or give `graphs` whose catalogs hold them (e.g. the graphs loadAdapter returned). */
  readonly adapters?: readonly AdapterUse[];
  readonly graphs?: readonly Graph[];
  /** Load under another fusion name. */
  readonly as?: string;
  /** Ignore a saved `fusion_layers` (place the fusion at the adapters' default sites). */
  readonly ignoreLayers?: boolean;
}

/**
 * Restores a saved fusion on top of `base` (a graph without the adapters; add the target head first). The fused
 * adapters' weights must already be in `store` (load them with core-graph's loadAdapter, into `base`, one by one).
 * Every tensor is read and checked before the store changes. Returns the graph with the fusion.
 */
export async function loadFusion(dir: string, base: Graph, store: WeightStore, registry: AdapterRegistry, options: LoadFusionOptions = {}): Promise<{ graph: Graph; name: string; spec: FusionSpec }> {
  const configFile = join(dir, FUSION_CONFIG_FILE);
  const saved = await readJsonObject(configFile);
  const savedName = saved['name'];
  if (typeof savedName !== 'string') throw new ConfigError(`${configFile}: name`, 'must be a string');
  const name = options.as ?? savedName;
  checkFusionName(name);
  const rawNames = saved['adapter_names'] ?? savedName;
  const names = typeof rawNames === 'string' ? rawNames.split(',') : rawNames;
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new ConfigError(`${configFile}: adapter_names`, 'must be a list of adapter names');
  const config = resolveFusionConfig(objectField(saved, 'config', configFile), `${configFile}: config`);
  const given = options.adapters ?? adapterUses(options.graphs ?? [], names as string[]);
  const byName = new Map(given.map((a) => [a.name, a]));
  const adapters = (names as string[]).map((n) => {
    const a = byName.get(n);
    if (!a) throw new ConfigError(`${configFile}: adapter_names`, `adapter '${n}' was not given (given: ${[...byName.keys()].join(', ') || 'none'})`);
    return a;
  });
  const temperature = savedTemperature(saved, config.temperature, configFile);
  const layers = options.ignoreLayers ? undefined : (saved['fusion_layers'] as Record<string, string[]> | undefined);
  const spec: FusionSpec = { name, adapters, config: { ...config }, ...(layers ? { layers } : {}) };
  const graph = applyFusion(base, spec, registry).graph;

  const adapterKeys = [...graph.params.values()].filter((p) => p.owner.startsWith('adapter:') && adapters.some((a) => p.owner === `adapter:${a.name}`)).map((p) => p.key);
  const missingAdapter = adapterKeys.find((k) => !store.has(k));
  if (missingAdapter !== undefined) throw new GraphError(`${dir}: the store has no weight '${missingAdapter}': load the fused adapters (${names.join(', ')}) first`);

  const weightsFile = join(dir, FUSION_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(weightsFile);
  const hubNames = fusionKeyMap(graph, name, savedName);
  const staged = stageArtifact(graph, tensors, { keys: [...hubNames.keys()], namesOf: (k) => hubNames.get(k) ?? [], source: weightsFile, owner: `fusion '${savedName}'` });
  assignStaged(graph, store, staged);
  if (temperature !== undefined) setFusionTemperature(store, name, temperature);
  return { graph, name, spec };
}

/** The saved T of a `temperature: true` fusion (undefined when the file has none: AdapterHub's files, T restarts at 50). */
function savedTemperature(saved: Readonly<Record<string, unknown>>, configured: boolean, configFile: string): number | undefined {
  const t = saved['temperature'];
  if (t === undefined) return undefined;
  if (!configured) throw new ConfigError(`${configFile}: temperature`, 'is set, but the fusion config has temperature: false');
  if (typeof t !== 'number' || !Number.isFinite(t) || !(t > 0)) throw new ConfigError(`${configFile}: temperature`, `must be a positive number, got ${JSON.stringify(t)}`);
  return t;
}

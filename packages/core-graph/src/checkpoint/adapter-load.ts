// Loading an adapter saved in AdapterHub's layout (adapter_config.json + adapter.safetensors, optionally a head) from
// any FileSource, and the key mapping shared with the saver. Runs in browsers; adapterhub.ts adds saving and the
// path-taking loadAdapter.
import { ConfigError, GraphError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { ParamSpec } from '../graph/types';
import type { FileSource } from '../io/file-source';
import { readJsonFrom, readOnce, readSafetensorsFrom } from '../io/file-source';
import type { HeadRegistry } from '../model/head-def';
import type { AnyAdapterPlugin, AdapterRegistry } from '../plugin/registry';
import type { PlacementRule } from '../rewrite/apply-placements';
import { checkBaseModel } from './base-model-check';
import type { SpliceMode } from '../plugin/define-adapter';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import type { UnionConfig, UnionParamsMeta } from '../rewrite/union';
import { configUnion, UNION_PARAMS_META, UNION_PLUGIN } from '../rewrite/union';
import type { CheckpointKeyArgs, CheckpointKeys } from './artifact';
import { checkpointKeyArgs, checkpointKeysOf, moduleCheckpointKeys, stageArtifact } from './artifact';
import { assignStaged, hasHeadIn, readHeadFrom } from './head-read';

export interface LoadAdapterOptions {
  /** Load under this name instead of the saved one. */
  readonly as?: string;
  /** Place it by this rule instead of the placement the file records (or the plugin's default). */
  readonly rule?: Partial<PlacementRule>;
  /** Restore a saved head too (default true). */
  readonly loadHead?: boolean;
  readonly heads?: HeadRegistry;
}

/** AdapterHub's file names (adapters 1.x, safetensors variant). */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter.safetensors';

export const hubConfigOf = (plugin: AnyAdapterPlugin, config: Record<string, unknown>): Record<string, unknown> =>
  plugin.toHubConfig ? plugin.toHubConfig(config) : { architecture: plugin.name, ...config };

/** What an adapter plugin without a `checkpointKeys` hook gets: its `hubKeys` of the local key, in its `hubCollection`. */
export function defaultCheckpointKeys(plugin: AnyAdapterPlugin | undefined, param: CheckpointKeyArgs<Readonly<Record<string, unknown>>>): string[] {
  const locals = plugin?.hubKeys ? plugin.hubKeys(param.local, param.config as never) : undefined;
  return moduleCheckpointKeys(param, { ...(plugin?.hubCollection ? { collection: plugin.hubCollection } : {}), ...(locals ? { locals } : {}) });
}

/** An adapter plugin's key hook: its own `checkpointKeys`, else `defaultCheckpointKeys`. */
export const adapterCheckpointKeys = (plugin: AnyAdapterPlugin | undefined): CheckpointKeys =>
  plugin?.checkpointKeys ? (p) => (plugin.checkpointKeys as (p: CheckpointKeyArgs) => readonly string[])(p) : (p) => defaultCheckpointKeys(plugin, p);

/**
 * Every checkpoint key of parameter `key` of adapter `name` (`as` renames it in the keys), by its plugin's hook:
 * e.g. `bert.encoder.layer.0.output.adapters.sst2.adapter_down.0.weight`.
 */
export function adapterCheckpointKeysOf(graph: Graph, key: string, name: string, options: { plugin?: AnyAdapterPlugin; config?: Readonly<Record<string, unknown>>; as?: string } = {}): string[] {
  const config = options.config ?? (graph.meta.adapters ?? {})[name]?.config ?? {};
  return checkpointKeysOf(adapterCheckpointKeys(options.plugin), checkpointKeyArgs(graph, key, { name, config, ...(options.as === undefined ? {} : { as: options.as }) }));
}

/**
 * Where an adapter sits, as saved in adapter_config.json's `placement` (our field; AdapterHub ignores it): the
 * splice mode and the exact sites, so a reload needs no rule even when the placement was custom. Undefined when the
 * adapter's splices mix modes or tap several sites at once (the plugin's default placement then applies on reload).
 */
export interface SavedPlacement {
  readonly mode: string;
  readonly sites: readonly string[];
}

/** The rule that re-creates a saved placement, checked against the target graph's sites. */
function ruleFromPlacement(graph: Graph, saved: unknown, file: string): Partial<PlacementRule> | undefined {
  if (saved === undefined) return undefined;
  const p = saved as Partial<SavedPlacement> | null;
  if (p === null || typeof p !== 'object' || typeof p.mode !== 'string' || !Array.isArray(p.sites) || p.sites.length === 0 || !p.sites.every((x) => typeof x === 'string')) {
    throw new ConfigError(`${file}: placement`, 'must be { "mode": string, "sites": [site names, at least one] }');
  }
  const missing = p.sites.find((x) => !graph.sites.has(x));
  if (missing !== undefined) throw new ConfigError(`${file}: placement.sites`, `the model has no site '${missing}' (sites: ${[...graph.sites.keys()].slice(0, 6).join(', ')}, …)`);
  return { select: { names: p.sites }, mode: p.mode as SpliceMode };
}

export const adapterParams = (graph: Graph, name: string): ParamSpec[] => [...graph.params.values()].filter((p) => p.owner === `adapter:${name}`);

export function findPlugin(registry: AdapterRegistry, saved: Record<string, unknown>, file: string): { plugin: AnyAdapterPlugin; config: Record<string, unknown> } {
  const hub = saved['config'];
  if (hub === null || typeof hub !== 'object' || Array.isArray(hub)) throw new ConfigError(`${file}: config`, 'must be an object');
  const hubConfig = hub as Record<string, unknown>;
  if (hubConfig['architecture'] === UNION_PLUGIN) return unionFromHub(registry, hubConfig, file);
  const named = typeof saved['plugin'] === 'string' && registry.has(saved['plugin']) ? registry.get(saved['plugin']) : undefined;
  for (const plugin of named ? [named] : registry.list()) {
    const input = plugin.fromHubConfig ? plugin.fromHubConfig(hubConfig) : hubConfig['architecture'] === plugin.name ? Object.fromEntries(Object.entries(hubConfig).filter(([k]) => k !== 'architecture')) : undefined;
    if (input) return { plugin, config: input };
  }
  const arch = hubConfig['architecture'] ?? null;
  // AdapterHub writes no architecture (or null) for its bottleneck family: plain, Compacter (phm_layer), invertible (inv_adapter).
  const hint = arch === null ? ' (an AdapterHub bottleneck-family config: bottleneck, compacter for phm_layer: true, bottleneck_inv for inv_adapter)' : '';
  throw new ConfigError(`${file}: config.architecture`, `no installed plugin reads ${JSON.stringify(arch)} adapters${hint} (installed: ${registry.list().map((p) => p.name).join(', ') || 'none'})`);
}

/**
 * Restores an adapter saved in AdapterHub's layout (a FileSource: bytes, URLs or a folder) into a graph: re-applies its placement (or `rule`), then
 * loads its tensors, optionally under another name (`as`). Everything is read and checked before the store
 * changes, so a failed load leaves the model as it was. Also restores a saved head (ours, or AdapterHub's
 * classification and tagging heads that have our layout: see `headFromSaved`).
 *
 * Files saved by AdapterHub load as saved: a parameter is looked up under every name its plugin's `hubKeys`
 * gives (then under our own local key), with or without the model prefix (`bert.`, absent when AdapterHub saved
 * from a bare `BertModel`); model-level parameters `shared.adapters.NAME.x` also as AdapterHub's
 * `shared_parameters.NAME.x`; copies under two names must agree; a tensor under no expected name is an error.
 */
export async function loadAdapterFrom(files: FileSource, graph: Graph, store: WeightStore, registry: AdapterRegistry, options: LoadAdapterOptions = {}): Promise<{ graph: Graph; name: string; head?: string }> {
  const source = readOnce(files); // the head's config is probed, then read
  const configFile = source.path(ADAPTER_CONFIG_FILE);
  const saved = await readJsonFrom(source, ADAPTER_CONFIG_FILE);
  const savedName = saved['name'];
  if (typeof savedName !== 'string') throw new ConfigError(`${configFile}: name`, 'must be a string');
  checkBaseModel(saved, graph, configFile);
  const { plugin, config } = findPlugin(registry, saved, configFile);
  const name = options.as ?? savedName;
  // An explicit rule wins; else the placement the file records; else the plugin's default for the config.
  const rule = options.rule ?? ruleFromPlacement(graph, saved['placement'], configFile);
  let next = applyPlacements(graph, [{ ...rule, adapter: adapter(plugin, name, config) }], registry).graph;
  const resolved = (next.meta.adapters ?? {})[name]?.config ?? config;
  const weightsFile = source.path(ADAPTER_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFrom(source, ADAPTER_WEIGHTS_FILE);
  const union = plugin.name === UNION_PLUGIN ? unionParts(next, name, resolved, registry) : undefined;
  const namesOf = (k: string): string[] => {
    const part = union ? union.partOf(k) : { plugin, config: resolved };
    const args = checkpointKeyArgs(next, k, { name, as: savedName, config: part.config });
    const hub = checkpointKeysOf(adapterCheckpointKeys(part.plugin), args);
    // Also our own local key (files that predate a plugin's hubKeys), when the parameter lies in an adapter scope.
    const own = args.module === undefined ? undefined : moduleCheckpointKeys(args)[0] as string;
    return own === undefined || hub.includes(own) ? hub : [...hub, own];
  };
  const staged = stageArtifact(next, tensors, { keys: adapterParams(next, name).map((p) => p.key), namesOf, source: weightsFile, owner: "the adapter's config" });
  let head: string | undefined;
  if (options.loadHead !== false) {
    if (await hasHeadIn(source)) {
      const read = await readHeadFrom(source, next, options.heads ? { heads: options.heads } : {});
      next = read.graph;
      for (const [k, v] of read.staged) staged.set(k, v);
      head = read.name;
    }
  }
  // Keys the store already holds (a reload under the same name) are overwritten; new keys are created.
  assignStaged(next, store, staged);
  return { graph: next, name, ...(head === undefined ? {} : { head }) };
}

/** A union's hub config (`architecture: "union"`, each component's own hub config) and each parameter's component. */
export function unionParts(graph: Graph, name: string, config: Readonly<Record<string, unknown>>, registry: AdapterRegistry | undefined): {
  hubConfig: Record<string, unknown>;
  floats: Array<readonly [unknown, readonly string[]]>;
  partOf: (key: string) => { plugin: AnyAdapterPlugin | undefined; config: Readonly<Record<string, unknown>> };
} {
  const union = config as unknown as UnionConfig;
  const parts = union.configs.map((c) => ({ plugin: registry?.has(c.plugin) ? registry.get(c.plugin) : undefined, config: c.config as Record<string, unknown> }));
  const configs = parts.map((p, i) => (p.plugin ? hubConfigOf(p.plugin, { ...p.config }) : { architecture: union.configs[i]?.plugin, ...p.config }));
  const declared = ((graph.meta[UNION_PARAMS_META] as UnionParamsMeta | undefined) ?? {})[name] ?? [];
  const index = new Map<string, number>();
  declared.forEach((keys, i) => keys.forEach((k) => index.set(k, i)));
  return {
    // `config` (the preset) is ours; AdapterHub's ConfigUnion.from_dict reads only `configs`.
    hubConfig: { architecture: UNION_PLUGIN, config: union.config, configs },
    floats: parts.map((p, i) => [configs[i], p.plugin?.hubFloats ?? []] as const),
    partOf(key) {
      const i = index.get(key);
      if (i === undefined) throw new GraphError(`parameter '${key}' belongs to no component of union '${name}' (graph meta ${UNION_PARAMS_META})`);
      return parts[i] as { plugin: AnyAdapterPlugin | undefined; config: Readonly<Record<string, unknown>> };
    },
  };
}

/** Reads AdapterHub's `{ architecture: "union", configs: [...] }`: each component by the plugin that reads its config. */
function unionFromHub(registry: AdapterRegistry, hub: Readonly<Record<string, unknown>>, file: string): { plugin: AnyAdapterPlugin; config: Record<string, unknown> } {
  const configs = hub['configs'];
  if (!Array.isArray(configs) || configs.length === 0) throw new ConfigError(`${file}: config.configs`, 'a union needs a non-empty list of component configs');
  const extra = Object.keys(hub).find((k) => k !== 'architecture' && k !== 'configs' && k !== 'config');
  if (extra !== undefined) throw new ConfigError(`${file}: config.${extra}`, 'unknown ConfigUnion field');
  const components = configs.map((c, i) => {
    const found = findPlugin(registry, { config: c }, `${file}: config.configs[${i}]`);
    return { plugin: found.plugin.name, config: found.config };
  });
  const preset = hub['config'] ?? null;
  return { plugin: registry.has(UNION_PLUGIN) ? registry.get(UNION_PLUGIN) : configUnion, config: { config: preset, configs: components } };
}

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, GraphError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { ParamSpec } from '../graph/types';
import { writeFileAtomic } from '../io/atomic-write';
import { readJsonObject } from '../io/read-json';
import { removeStaleTempFiles } from '../io/run-dir';
import { encodeSafetensors, readSafetensorsFile } from '../io/safetensors';
import type { HeadRegistry } from '../model/head-def';
import type { AnyAdapterPlugin, AdapterRegistry } from '../plugin/registry';
import type { PlacementRule } from '../rewrite/apply-placements';
import { checkBaseModel } from './base-model-check';
import type { SpliceMode } from '../plugin/define-adapter';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { FORMAT_VERSION, hasHead, readHead, saveHead } from './head-files';
import { isTransposedInCheckpoint, stageFromCheckpoint } from './hf-keys';

/** AdapterHub's file names (adapters 1.x, safetensors variant). */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter.safetensors';
export { FORMAT_VERSION, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE } from './head-files';

const hubConfigOf = (plugin: AnyAdapterPlugin, config: Record<string, unknown>): Record<string, unknown> =>
  plugin.toHubConfig ? plugin.toHubConfig(config) : { architecture: plugin.name, ...config };

/** JSON text (2-space indent, final newline) where the `floats` fields of `config` holding integers are written as `1.0`. */
function hubConfigJson(value: Record<string, unknown>, config: unknown, floats: readonly string[]): string {
  const marker = '\u0000float:';
  const text = JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    if (this === config && floats.includes(key) && typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 1e15) return `${marker}${v}`;
    return v;
  }, 2);
  return `${text.replace(/"\\u0000float:(-?\d+)"/g, '$1.0')}\n`;
}

/** Splits an adapter parameter key into AdapterHub's module path (`bert.encoder.layer.0.output`) and the local key. */
function splitAdapterKey(graph: Graph, key: string, name: string): { module: string; local: string; shared: boolean } {
  const prefix = String(graph.meta['prefix'] ?? '');
  const marker = `.adapters.${name}.`;
  const at = key.indexOf(marker);
  if (at < 0) throw new GraphError(`parameter '${key}' does not belong to adapter '${name}'`);
  const siteName = key.slice(0, at);
  const site = graph.sites.get(siteName);
  const module = site?.module ?? siteName;
  return { module: `${prefix ? `${prefix}.` : ''}${module}`, local: key.slice(at + marker.length), shared: siteName === 'shared' && !site };
}

/**
 * The AdapterHub key of an adapter parameter: `${prefix}.${site module}.adapters.NAME.${rest}`
 * (e.g. `bert.encoder.layer.0.output.adapters.sst2.adapter_down.0.weight`); `as` renames the adapter.
 * Plugins whose parameters AdapterHub names differently declare `hubKeys` (see `adapterHubKeys`).
 */
export function adapterHubKey(graph: Graph, key: string, name: string, as = name): string {
  const { module, local } = splitAdapterKey(graph, key, name);
  return `${module}.adapters.${as}.${local}`;
}

/**
 * Every AdapterHub name of an adapter parameter: the plugin's `hubKeys` of the local key (default: the local key).
 * Model-level parameters (`shared.adapters.NAME.x`, no site) also get AdapterHub's `${prefix}.shared_parameters.NAME.x`
 * (its `base_model.shared_parameters[NAME]`, e.g. Compacter's shared rule matrices).
 */
function adapterHubKeys(graph: Graph, key: string, name: string, as: string, plugin: AnyAdapterPlugin | undefined, config: Readonly<Record<string, unknown>>): string[] {
  const { module, local, shared } = splitAdapterKey(graph, key, name);
  const locals = plugin?.hubKeys ? plugin.hubKeys(local, config) : [local];
  if (locals.length === 0) throw new GraphError(`plugin '${plugin?.name ?? '?'}' maps parameter '${key}' to no AdapterHub key`);
  const names = locals.map((l) => `${module}.${plugin?.hubCollection ?? 'adapters'}.${as}.${l}`);
  if (!shared) return names;
  const prefix = String(graph.meta['prefix'] ?? '');
  return [...names, ...locals.map((l) => `${prefix ? `${prefix}.` : ''}shared_parameters.${as}.${l}`)];
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

const placementRecord = (graph: Graph, name: string): { placement?: SavedPlacement } => {
  const placement = placementOf(graph, name);
  return placement === undefined ? {} : { placement };
};

function placementOf(graph: Graph, name: string): SavedPlacement | undefined {
  const splices = graph.splices.filter((s) => s.adapters.includes(name));
  const modes = new Set(splices.map((s) => s.mode));
  if (splices.length === 0 || modes.size !== 1 || modes.has('tap')) return undefined;
  return { mode: splices[0]!.mode, sites: splices.map((s) => s.site) };
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

const adapterParams = (graph: Graph, name: string): ParamSpec[] => [...graph.params.values()].filter((p) => p.owner === `adapter:${name}`);

function toTensorRecord(entries: Iterable<[string, { shape: readonly number[]; values: Float32Array }]>) {
  const out: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const [k, t] of entries) out[k] = { dtype: 'F32', shape: [...t.shape], values: t.values };
  return out;
}

/** A parameter's values in checkpoint layout (kernels transposed to [out, in]). */
function checkpointValues(spec: ParamSpec, store: WeightStore): { shape: number[]; values: Float32Array } {
  const values = Float32Array.from(store.get(spec.key).dataSync());
  if (!isTransposedInCheckpoint(spec)) return { shape: [...spec.shape], values };
  const [rows, cols] = spec.shape as [number, number];
  const t = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = values[r * cols + c] as number;
  return { shape: [cols, rows], values: t };
}

/**
 * Writes `adapter_config.json` + `adapter.safetensors` with only this adapter's tensors under AdapterHub key
 * names, and optionally a head (`head_config.json` + `model_head.safetensors`, with label names `labels` by id).
 * Each file is written atomically.
 */
export async function saveAdapter(dir: string, graph: Graph, store: WeightStore, name: string, options: { head?: string; registry?: AdapterRegistry; heads?: HeadRegistry; labels?: readonly string[] } = {}): Promise<void> {
  const catalog = graph.meta.adapters ?? {};
  const entry = catalog[name];
  if (!entry) throw new ConfigError('name', `the graph has no adapter '${name}' (adapters: ${Object.keys(catalog).join(', ') || 'none'})`);
  const params = adapterParams(graph, name);
  const plugin = options.registry?.has(entry.plugin) ? options.registry.get(entry.plugin) : undefined;
  const config = graph.meta.config;
  await mkdir(dir, { recursive: true });
  await removeStaleTempFiles(dir); // left by an earlier save that was killed
  const hubConfig = plugin ? hubConfigOf(plugin, { ...entry.config }) : { architecture: entry.plugin, ...entry.config };
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), hubConfigJson({
    config: hubConfig,
    hidden_size: config?.hiddenSize ?? null,
    model_class: `${config?.architecture === 'roberta' ? 'Roberta' : 'Bert'}AdapterModel`,
    model_name: graph.meta['modelName'] ?? null,
    model_type: config?.architecture ?? null,
    name,
    ...placementRecord(graph, name),
    plugin: entry.plugin,
    version: FORMAT_VERSION,
  }, hubConfig, plugin?.hubFloats ?? []));
  const tensors = toTensorRecord(params.flatMap((p) => {
    const values = checkpointValues(p, store);
    return adapterHubKeys(graph, p.key, name, name, plugin, entry.config).map((k): [string, typeof values] => [k, values]);
  }));
  await writeFileAtomic(join(dir, ADAPTER_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt' }));
  if (options.head !== undefined) await saveHead(dir, graph, store, options.head, { ...(options.heads ? { heads: options.heads } : {}), ...(options.labels ? { labels: options.labels } : {}) });
}

function findPlugin(registry: AdapterRegistry, saved: Record<string, unknown>, file: string): { plugin: AnyAdapterPlugin; config: Record<string, unknown> } {
  const hub = saved['config'];
  if (hub === null || typeof hub !== 'object' || Array.isArray(hub)) throw new ConfigError(`${file}: config`, 'must be an object');
  const hubConfig = hub as Record<string, unknown>;
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
 * Restores an adapter saved in AdapterHub's layout into a graph: re-applies its placement (or `rule`), then
 * loads its tensors, optionally under another name (`as`). Everything is read and checked before the store
 * changes, so a failed load leaves the model as it was. Also restores a saved head (ours, or AdapterHub's
 * classification and tagging heads that have our layout: see `headFromSaved`).
 *
 * Files saved by AdapterHub load as saved: a parameter is looked up under every name its plugin's `hubKeys`
 * gives (then under our own local key), with or without the model prefix (`bert.`, absent when AdapterHub saved
 * from a bare `BertModel`); model-level parameters `shared.adapters.NAME.x` also as AdapterHub's
 * `shared_parameters.NAME.x`; copies under two names must agree; a tensor under no expected name is an error.
 */
export async function loadAdapter(dir: string, graph: Graph, store: WeightStore, registry: AdapterRegistry, options: { as?: string; rule?: Partial<PlacementRule>; loadHead?: boolean; heads?: HeadRegistry } = {}): Promise<{ graph: Graph; name: string; head?: string }> {
  const configFile = join(dir, ADAPTER_CONFIG_FILE);
  const saved = await readJsonObject(configFile);
  const savedName = saved['name'];
  if (typeof savedName !== 'string') throw new ConfigError(`${configFile}: name`, 'must be a string');
  checkBaseModel(saved, graph, configFile);
  const { plugin, config } = findPlugin(registry, saved, configFile);
  const name = options.as ?? savedName;
  // An explicit rule wins; else the placement the file records; else the plugin's default for the config.
  const rule = options.rule ?? ruleFromPlacement(graph, saved['placement'], configFile);
  let next = applyPlacements(graph, [{ ...rule, adapter: adapter(plugin, name, config) }], registry).graph;
  const resolved = (next.meta.adapters ?? {})[name]?.config ?? config;
  const weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(weightsFile);
  const prefix = String(next.meta['prefix'] ?? '');
  /** The file's key for an expected name: as is, or without the model prefix. */
  const inFile = (key: string): string | undefined => {
    if (tensors.has(key)) return key;
    const bare = prefix && key.startsWith(`${prefix}.`) ? key.slice(prefix.length + 1) : undefined;
    return bare !== undefined && tensors.has(bare) ? bare : undefined;
  };
  const keys = adapterParams(next, name).map((p) => p.key);
  const names = new Map<string, string[]>();
  for (const k of keys) {
    const hub = adapterHubKeys(next, k, name, savedName, plugin, resolved);
    const own = adapterHubKey(next, k, name, savedName);
    names.set(k, hub.includes(own) ? hub : [...hub, own]);
  }
  const fileKeyOf = (k: string): string => {
    const candidates = names.get(k) as string[];
    for (const c of candidates) {
      const found = inFile(c);
      if (found !== undefined) return found;
    }
    return candidates[0] as string;
  };
  const staged = stageFromCheckpoint(next, (k) => tensors.get(k), { keys, source: weightsFile, keyOf: fileKeyOf });
  const accepted = new Set<string>();
  for (const [k, candidates] of names) {
    const present = candidates.map(inFile).filter((f): f is string => f !== undefined);
    for (const f of present) accepted.add(f);
    const first = present[0] === undefined ? undefined : tensors.get(present[0]);
    for (const other of present.slice(1)) {
      const t = tensors.get(other);
      const same = first !== undefined && t !== undefined && t.shape.join() === first.shape.join() && t.values.every((v, i) => Object.is(v, first.values[i]));
      if (!same) throw new GraphError(`${weightsFile}: tensors '${present[0] as string}' and '${other}' both hold parameter '${k}' but differ`);
    }
  }
  const unexpected = [...tensors.keys()].filter((k) => !accepted.has(k));
  if (unexpected.length > 0) throw new GraphError(`${weightsFile}: unexpected tensor '${unexpected[0]}' (the adapter's config places no parameter there)`);
  let head: string | undefined;
  if (options.loadHead !== false) {
    if (await hasHead(dir)) {
      const read = await readHead(dir, next, options.heads ? { heads: options.heads } : {});
      next = read.graph;
      for (const [k, v] of read.staged) staged.set(k, v);
      head = read.name;
    }
  }
  store.sync(next, 0, (spec) => staged.get(spec.key)?.values);
  return { graph: next, name, ...(head === undefined ? {} : { head }) };
}

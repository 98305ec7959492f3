import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, GraphError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { ParamSpec } from '../graph/types';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic-write';
import { readJsonObject } from '../io/read-json';
import { encodeSafetensors, readSafetensorsFile } from '../io/safetensors';
import type { EncoderConfig } from '../model/config';
import type { HeadSpec } from '../model/heads';
import { addHead, headPrefix } from '../model/heads';
import type { AnyAdapterPlugin, AdapterRegistry } from '../plugin/registry';
import type { AdapterCatalog, PlacementRule } from '../rewrite/apply-placements';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import type { CheckpointTensor } from './hf-keys';
import { isTransposedInCheckpoint, stageFromCheckpoint } from './hf-keys';

/** AdapterHub's file names (adapters 1.x, safetensors variant). */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter.safetensors';
export const HEAD_CONFIG_FILE = 'head_config.json';
export const HEAD_WEIGHTS_FILE = 'model_head.safetensors';
/** Written into `version` so AdapterHub and we can tell who saved a file. */
export const FORMAT_VERSION = 'adapters-ts.0.1.0';

const hubConfigOf = (plugin: AnyAdapterPlugin, config: Record<string, unknown>): Record<string, unknown> =>
  plugin.toHubConfig ? plugin.toHubConfig(config) : { architecture: plugin.name, ...config };

/** Splits an adapter parameter key into AdapterHub's module path (`bert.encoder.layer.0.output`) and the local key. */
function splitAdapterKey(graph: Graph, key: string, name: string): { module: string; local: string } {
  const prefix = String(graph.meta['prefix'] ?? '');
  const marker = `.adapters.${name}.`;
  const at = key.indexOf(marker);
  if (at < 0) throw new GraphError(`parameter '${key}' does not belong to adapter '${name}'`);
  const siteName = key.slice(0, at);
  const site = graph.sites.get(siteName);
  const module = site?.module ?? siteName;
  return { module: `${prefix ? `${prefix}.` : ''}${module}`, local: key.slice(at + marker.length) };
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

/** Every AdapterHub name of an adapter parameter: the plugin's `hubKeys` of the local key (default: the local key). */
function adapterHubKeys(graph: Graph, key: string, name: string, as: string, plugin: AnyAdapterPlugin | undefined, config: Record<string, unknown>): string[] {
  const { module, local } = splitAdapterKey(graph, key, name);
  const locals = plugin?.hubKeys ? plugin.hubKeys(local, config) : [local];
  if (locals.length === 0) throw new GraphError(`plugin '${plugin?.name ?? '?'}' maps parameter '${key}' to no AdapterHub key`);
  return locals.map((l) => `${module}.adapters.${as}.${l}`);
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
 * names, and optionally a head (`head_config.json` + `model_head.safetensors`). Each file is written atomically.
 */
export async function saveAdapter(dir: string, graph: Graph, store: WeightStore, name: string, options: { head?: string; registry?: AdapterRegistry } = {}): Promise<void> {
  const catalog = (graph.meta['adapters'] as AdapterCatalog | undefined) ?? {};
  const entry = catalog[name];
  if (!entry) throw new ConfigError('name', `the graph has no adapter '${name}' (adapters: ${Object.keys(catalog).join(', ') || 'none'})`);
  const params = adapterParams(graph, name);
  const plugin = options.registry?.has(entry.plugin) ? options.registry.get(entry.plugin) : undefined;
  const config = graph.meta['config'] as EncoderConfig | undefined;
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(join(dir, ADAPTER_CONFIG_FILE), {
    config: plugin ? hubConfigOf(plugin, { ...entry.config }) : { architecture: entry.plugin, ...entry.config },
    hidden_size: config?.hiddenSize ?? null,
    model_class: `${config?.architecture === 'roberta' ? 'Roberta' : 'Bert'}AdapterModel`,
    model_name: graph.meta['modelName'] ?? null,
    model_type: config?.architecture ?? null,
    name,
    plugin: entry.plugin,
    version: FORMAT_VERSION,
  });
  const tensors = toTensorRecord(params.flatMap((p) => {
    const values = checkpointValues(p, store);
    return adapterHubKeys(graph, p.key, name, name, plugin, entry.config).map((k): [string, typeof values] => [k, values]);
  }));
  await writeFileAtomic(join(dir, ADAPTER_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt' }));
  if (options.head !== undefined) {
    const heads = (graph.meta['heads'] as HeadSpec[] | undefined) ?? [];
    const spec = heads.find((h) => h.name === options.head);
    if (!spec) throw new ConfigError('head', `the graph has no head '${options.head}'`);
    const headParams = [...graph.params.values()].filter((p) => p.owner === `head:${spec.name}`);
    await writeJsonAtomic(join(dir, HEAD_CONFIG_FILE), { config: spec, hidden_size: config?.hiddenSize ?? null, model_type: config?.architecture ?? null, name: spec.name, version: FORMAT_VERSION });
    const prefix = `${headPrefix(spec.name)}.`;
    const headTensors = toTensorRecord(headParams.map((p) => [`heads.${spec.name}.${p.key.slice(prefix.length)}`, checkpointValues(p, store)]));
    await writeFileAtomic(join(dir, HEAD_WEIGHTS_FILE), encodeSafetensors(headTensors, { format: 'pt' }));
  }
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
  throw new ConfigError(`${file}: config.architecture`, `no installed plugin reads ${JSON.stringify(hubConfig['architecture'] ?? null)} adapters (installed: ${registry.list().map((p) => p.name).join(', ') || 'none'})`);
}

/**
 * Restores an adapter saved in AdapterHub's layout into a graph: re-applies its placement (or `rule`), then
 * loads its tensors, optionally under another name (`as`). Everything is read and checked before the store
 * changes, so a failed load leaves the model as it was. Also restores a saved head.
 */
export async function loadAdapter(dir: string, graph: Graph, store: WeightStore, registry: AdapterRegistry, options: { as?: string; rule?: Partial<PlacementRule>; loadHead?: boolean } = {}): Promise<{ graph: Graph; name: string; head?: string }> {
  const configFile = join(dir, ADAPTER_CONFIG_FILE);
  const saved = await readJsonObject(configFile);
  const savedName = saved['name'];
  if (typeof savedName !== 'string') throw new ConfigError(`${configFile}: name`, 'must be a string');
  const { plugin, config } = findPlugin(registry, saved, configFile);
  const name = options.as ?? savedName;
  let next = applyPlacements(graph, [{ ...options.rule, adapter: adapter(plugin, name, config) }], registry).graph;
  const weightsFile = join(dir, ADAPTER_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(weightsFile);
  const lookup = (key: string): CheckpointTensor | undefined => tensors.get(key);
  const keys = adapterParams(next, name).map((p) => p.key);
  const staged = stageFromCheckpoint(next, (k) => lookup(k), { keys, source: weightsFile, keyOf: (k) => adapterHubKey(next, k, name, savedName) });
  const expected = new Set(keys.map((k) => adapterHubKey(next, k, name, savedName)));
  const unexpected = [...tensors.keys()].filter((k) => !expected.has(k));
  if (unexpected.length > 0) throw new GraphError(`${weightsFile}: unexpected tensor '${unexpected[0]}' (the adapter's config places no parameter there)`);
  let head: string | undefined;
  if (options.loadHead !== false) {
    const headConfigFile = join(dir, HEAD_CONFIG_FILE);
    const hasHead = await access(headConfigFile).then(() => true, () => false);
    if (hasHead) {
      const headSaved = await readJsonObject(headConfigFile);
      const spec = headSaved['config'] as HeadSpec;
      next = addHead(next, spec);
      const headFile = join(dir, HEAD_WEIGHTS_FILE);
      const headTensors = (await readSafetensorsFile(headFile)).tensors;
      const prefix = `${headPrefix(spec.name)}.`;
      const headKeys = [...next.params.values()].filter((p) => p.owner === `head:${spec.name}`).map((p) => p.key);
      for (const [k, v] of stageFromCheckpoint(next, (hk) => headTensors.get(hk), { keys: headKeys, source: headFile, keyOf: (k) => `heads.${spec.name}.${k.slice(prefix.length)}` })) staged.set(k, v);
      head = spec.name;
    }
  }
  store.sync(next, 0, (spec) => staged.get(spec.key)?.values);
  return { graph: next, name, ...(head === undefined ? {} : { head }) };
}

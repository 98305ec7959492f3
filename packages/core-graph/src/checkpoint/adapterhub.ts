// Saving adapters in AdapterHub's layout, and loadAdapter from a folder (Node). Reading from any FileSource is in
// adapter-load.ts (browser-safe).
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { FileSource } from '../io/file-source';
import { sourceOf } from '../io/dir-source';
import type { HeadRegistry } from '../model/head-def';
import type { AdapterRegistry } from '../plugin/registry';
import { ConfigError } from '../errors';
import { UNION_PLUGIN } from '../rewrite/union';
import type { LoadAdapterOptions, SavedPlacement } from './adapter-load';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterCheckpointKeysOf, adapterParams, hubConfigOf, loadAdapterFrom, unionParts } from './adapter-load';
import { writeArtifact } from './artifact-write';
import { saveHead } from './head-files';

export type { LoadAdapterOptions, SavedPlacement } from './adapter-load';
export { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterCheckpointKeys, adapterCheckpointKeysOf, defaultCheckpointKeys, loadAdapterFrom } from './adapter-load';
export { FORMAT_VERSION, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE } from './head-files';

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

/**
 * Writes `adapter_config.json` + `adapter.safetensors` with only this adapter's tensors under the keys its plugin's
 * `checkpointKeys` gives (AdapterHub's), and optionally a head (`head_config.json` + `model_head.safetensors`, with
 * label names `labels` by id). Each file is written atomically.
 */
export async function saveAdapter(dir: string, graph: Graph, store: WeightStore, name: string, options: { head?: string; registry?: AdapterRegistry; heads?: HeadRegistry; labels?: readonly string[] } = {}): Promise<void> {
  const catalog = graph.meta.adapters ?? {};
  const entry = catalog[name];
  if (!entry) throw new ConfigError('name', `the graph has no adapter '${name}' (adapters: ${Object.keys(catalog).join(', ') || 'none'})`);
  const plugin = options.registry?.has(entry.plugin) ? options.registry.get(entry.plugin) : undefined;
  const union = entry.plugin === UNION_PLUGIN ? unionParts(graph, name, entry.config, options.registry) : undefined;
  const hubConfig = union ? union.hubConfig : plugin ? hubConfigOf(plugin, { ...entry.config }) : { architecture: entry.plugin, ...entry.config };
  const keysOf = (key: string): string[] => {
    const part = union ? union.partOf(key) : { plugin, config: entry.config };
    return adapterCheckpointKeysOf(graph, key, name, { ...(part.plugin ? { plugin: part.plugin } : {}), config: part.config });
  };
  await writeArtifact(dir, graph, store, {
    configFile: ADAPTER_CONFIG_FILE,
    // A union's components each have their own placement, re-derived from their configs on load.
    fields: { config: hubConfig, name, ...(union ? {} : placementRecord(graph, name)), plugin: entry.plugin },
    floats: union ? [] : (plugin?.hubFloats ?? []),
    ...(union ? { moreFloats: union.floats } : {}),
    weightsFile: ADAPTER_WEIGHTS_FILE,
    tensors: new Map(adapterParams(graph, name).map((p) => [p.key, keysOf(p.key)])),
  });
  if (options.head !== undefined) await saveHead(dir, graph, store, options.head, { ...(options.heads ? { heads: options.heads } : {}), ...(options.labels ? { labels: options.labels } : {}) });
}


/** `loadAdapterFrom` on a folder (or a FileSource): see there. Errors name the files by path. */
export async function loadAdapter(dir: string | FileSource, graph: Graph, store: WeightStore, registry: AdapterRegistry, options: LoadAdapterOptions = {}): Promise<{ graph: Graph; name: string; head?: string }> {
  return loadAdapterFrom(sourceOf(dir), graph, store, registry, options);
}

// Saving and loading a knowledge adapter: core-graph's saveAdapter/loadAdapter (AdapterHub's folder layout:
// `adapter_config.json` + `adapter.safetensors` with the tensors under `${prefix}.taps.adapters.NAME.…`, kernels
// [out, in]) with the kadapter plugin and the knowledge heads (`kadapterHeads`), so a knowledge head is saved beside
// it with the same head files. These wrappers only check what is K-Adapter specific.
import { join } from 'node:path';
import type { AdapterCatalog, AdapterRegistry, Graph, PlacementRule, WeightStore } from '@adapters/core-graph';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, ConfigError, createRegistry, graphHeads, loadAdapter, readJsonObject, saveAdapter } from '@adapters/core-graph';
import type { KAdapterConfig } from './config';
import { kadapterHeads } from './heads';
import { kadapter } from './plugin';

export const KADAPTER_CONFIG_FILE = ADAPTER_CONFIG_FILE;
export const KADAPTER_WEIGHTS_FILE = ADAPTER_WEIGHTS_FILE;

/** The catalog entry of knowledge adapter `name` (a ConfigError when the graph has no such K-Adapter). */
export function kadapterEntry(graph: Graph, name: string): KAdapterConfig {
  const catalog = (graph.meta['adapters'] as AdapterCatalog | undefined) ?? {};
  const entry = catalog[name];
  if (!entry || entry.plugin !== 'kadapter') {
    const known = Object.entries(catalog).filter(([, e]) => e.plugin === 'kadapter').map(([n]) => n);
    throw new ConfigError('name', `the graph has no K-Adapter '${name}' (K-Adapters: ${known.join(', ') || 'none'})`);
  }
  return entry.config as unknown as KAdapterConfig;
}

/**
 * Writes knowledge adapter `name` (config + tensors) into `dir`, and the head `options.head` when given.
 */
export async function saveKAdapter(dir: string, graph: Graph, store: WeightStore, name: string, options: { head?: string } = {}): Promise<void> {
  kadapterEntry(graph, name);
  if (!(`${name}.chain` in graph.outputs)) throw new ConfigError('name', `adapter '${name}' has no chain output in this graph`);
  if (options.head !== undefined && !graphHeads(graph).some((h) => h.name === options.head)) throw new ConfigError('head', `the graph has no head '${options.head}'`);
  await saveAdapter(dir, graph, store, name, { registry: createRegistry([kadapter]), heads: kadapterHeads, ...(options.head === undefined ? {} : { head: options.head }) });
}

export interface LoadKAdapterOptions {
  /** Load under another name. */
  readonly as?: string;
  /** Placement override (default: the adapter's own placement for its adapter_list). */
  readonly rule?: Partial<PlacementRule>;
  /** Restore a saved head too (default true; it must read an output the graph has). */
  readonly loadHead?: boolean;
  readonly registry?: AdapterRegistry;
}

/**
 * Places a saved knowledge adapter into `graph` and fills its weights. Every tensor is read and checked
 * before the store changes, so a failed load leaves the store as it was.
 */
export async function loadKAdapter(dir: string, graph: Graph, store: WeightStore, options: LoadKAdapterOptions = {}): Promise<{ graph: Graph; name: string; head?: string }> {
  const configFile = join(dir, KADAPTER_CONFIG_FILE);
  const hub = (await readJsonObject(configFile))['config'];
  const architecture = hub !== null && typeof hub === 'object' ? (hub as Record<string, unknown>)['architecture'] : undefined;
  if (architecture !== 'kadapter') throw new ConfigError(`${configFile}: config.architecture`, `is ${JSON.stringify(architecture ?? null)}, not a K-Adapter`);
  return loadAdapter(dir, graph, store, options.registry ?? createRegistry([kadapter]), {
    heads: kadapterHeads, ...(options.as === undefined ? {} : { as: options.as }), ...(options.rule ? { rule: options.rule } : {}), ...(options.loadHead === false ? { loadHead: false } : {}),
  });
}

// Saving and loading a knowledge adapter in AdapterHub's folder layout: `adapter_config.json` +
// `adapter.safetensors` with the adapter's tensors under `${prefix}.taps.adapters.NAME.…` (kernels in
// nn.Linear layout [out, in]), the same names core-graph's saveAdapter gives tap adapters. A knowledge head is
// saved beside it with core-graph's head files (`head_config.json` + `model_head.safetensors`).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AdapterCatalog, AdapterRegistry, EncoderConfig, Graph, PlacementRule, WeightStore } from '@adapters/core-graph';
import {
  adapter, applyPlacements, assignStaged, checkpointTensor, ConfigError, createRegistry, encodeSafetensors, FORMAT_VERSION, graphHeads, GraphError,
  hasHead, readHead, readJsonObject, readSafetensorsFile, saveHead, stageFromCheckpoint, writeFileAtomic, writeJsonAtomic,
} from '@adapters/core-graph';
import type { KAdapterConfig } from './config';
import { kadapterHeads } from './heads';
import { kadapter } from './plugin';

export const KADAPTER_CONFIG_FILE = 'adapter_config.json';
export const KADAPTER_WEIGHTS_FILE = 'adapter.safetensors';

const ownedBy = (graph: Graph, owner: string): string[] => [...graph.params.values()].filter((p) => p.owner === owner).map((p) => p.key);

function fileKey(graph: Graph, key: string, name: string, as: string): string {
  const marker = `taps.adapters.${name}.`;
  if (!key.startsWith(marker)) throw new GraphError(`parameter '${key}' is not a tap parameter of adapter '${name}'`);
  const prefix = String(graph.meta['prefix'] ?? '');
  return `${prefix ? `${prefix}.` : ''}taps.adapters.${as}.${key.slice(marker.length)}`;
}

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
  const config = kadapterEntry(graph, name);
  const model = graph.meta['config'] as EncoderConfig | undefined;
  if (!(`${name}.chain` in graph.outputs)) throw new ConfigError('name', `adapter '${name}' has no chain output in this graph`);
  if (options.head !== undefined && !graphHeads(graph).some((h) => h.name === options.head)) throw new ConfigError('head', `the graph has no head '${options.head}'`);
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(join(dir, KADAPTER_CONFIG_FILE), {
    config: { architecture: 'kadapter', ...config },
    hidden_size: model?.hiddenSize ?? null,
    num_layers: model?.numLayers ?? null,
    model_class: `${model?.architecture === 'roberta' ? 'Roberta' : 'Bert'}AdapterModel`,
    model_name: graph.meta['modelName'] ?? null,
    model_type: model?.architecture ?? null,
    name,
    plugin: 'kadapter',
    version: FORMAT_VERSION,
  });
  const tensors: Record<string, ReturnType<typeof checkpointTensor>> = {};
  for (const key of ownedBy(graph, `adapter:${name}`)) tensors[fileKey(graph, key, name, name)] = checkpointTensor(graph, store, key);
  await writeFileAtomic(join(dir, KADAPTER_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt' }));
  if (options.head !== undefined) await saveHead(dir, graph, store, options.head, { heads: kadapterHeads });
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
  const saved = await readJsonObject(configFile);
  const savedName = saved['name'];
  if (typeof savedName !== 'string') throw new ConfigError(`${configFile}: name`, 'must be a string');
  const hub = saved['config'];
  if (hub === null || typeof hub !== 'object' || Array.isArray(hub)) throw new ConfigError(`${configFile}: config`, 'must be an object');
  const { architecture, ...config } = hub as Record<string, unknown>;
  if (architecture !== 'kadapter') throw new ConfigError(`${configFile}: config.architecture`, `is ${JSON.stringify(architecture)}, not a K-Adapter`);
  const name = options.as ?? savedName;
  const registry = options.registry ?? createRegistry([kadapter]);
  let next = applyPlacements(graph, [{ ...options.rule, adapter: adapter(kadapter, name, config) }], registry).graph;
  const weightsFile = join(dir, KADAPTER_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(weightsFile);
  const keys = ownedBy(next, `adapter:${name}`);
  const placed = next;
  const keyOf = (k: string): string => fileKey(placed, k, name, savedName);
  const staged = stageFromCheckpoint(next, (k) => tensors.get(k), { keys, source: weightsFile, keyOf });
  const expected = new Set(keys.map(keyOf));
  const unexpected = [...tensors.keys()].filter((k) => !expected.has(k));
  if (unexpected.length > 0) throw new GraphError(`${weightsFile}: unexpected tensor '${unexpected[0]}' (the adapter's config places no parameter there)`);
  let head: string | undefined;
  if (options.loadHead !== false && (await hasHead(dir))) {
    const read = await readHead(dir, next, { heads: kadapterHeads });
    next = read.graph;
    for (const [k, v] of read.staged) staged.set(k, v);
    head = read.name;
  }
  // Keys the store already holds (a reload under the same name) are overwritten; new keys are created.
  assignStaged(next, store, staged);
  return { graph: next, name, ...(head === undefined ? {} : { head }) };
}

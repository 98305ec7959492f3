// Saving and loading a knowledge adapter in AdapterHub's folder layout: `adapter_config.json` +
// `adapter.safetensors` with the adapter's tensors under `${prefix}.taps.adapters.NAME.…` (kernels in
// nn.Linear layout [out, in]), the same names core-graph's saveAdapter gives tap adapters. A knowledge head
// (relation / dependency / classification reading a K-Adapter output) may be saved beside it in
// `kadapter_head_config.json` + `kadapter_head.safetensors`. Every file is written atomically.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { AdapterCatalog, AdapterRegistry, CheckpointTensor, EncoderConfig, Graph, PlacementRule, WeightStore } from '@adapters/core-graph';
import {
  adapter, applyPlacements, ConfigError, createRegistry, encodeSafetensors, exportToCheckpoint, GraphError,
  readJsonObject, readSafetensorsFile, writeFileAtomic, writeJsonAtomic,
} from '@adapters/core-graph';
import type { KAdapterConfig } from './config';
import type { KnowledgeHeadSpec } from './heads';
import { addKnowledgeHead, knowledgeHeads } from './heads';
import { kadapter } from './plugin';

export const KADAPTER_CONFIG_FILE = 'adapter_config.json';
export const KADAPTER_WEIGHTS_FILE = 'adapter.safetensors';
export const KADAPTER_HEAD_CONFIG_FILE = 'kadapter_head_config.json';
export const KADAPTER_HEAD_WEIGHTS_FILE = 'kadapter_head.safetensors';
export const KADAPTER_FORMAT_VERSION = 'adapters-ts.0.1.0';

const ownedBy = (graph: Graph, owner: string): string[] => [...graph.params.values()].filter((p) => p.owner === owner).map((p) => p.key);

function fileKey(graph: Graph, key: string, name: string, as: string): string {
  const marker = `taps.adapters.${name}.`;
  if (!key.startsWith(marker)) throw new GraphError(`parameter '${key}' is not a tap parameter of adapter '${name}'`);
  const prefix = String(graph.meta['prefix'] ?? '');
  return `${prefix ? `${prefix}.` : ''}taps.adapters.${as}.${key.slice(marker.length)}`;
}

function tensorRecord(entries: Iterable<[string, { shape: readonly number[]; values: Float32Array }]>) {
  const out: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const [k, t] of entries) out[k] = { dtype: 'F32', shape: [...t.shape], values: t.values };
  return out;
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
 * Writes knowledge adapter `name` (config + tensors) into `dir`, and the knowledge head `options.head` when given.
 */
export async function saveKAdapter(dir: string, graph: Graph, store: WeightStore, name: string, options: { head?: string } = {}): Promise<void> {
  const config = kadapterEntry(graph, name);
  const model = graph.meta['config'] as EncoderConfig | undefined;
  if (!(`${name}.chain` in graph.outputs)) throw new ConfigError('name', `adapter '${name}' has no chain output in this graph`);
  const head = options.head === undefined ? undefined : knowledgeHeads(graph).find((h) => h.name === options.head);
  if (options.head !== undefined && !head) throw new ConfigError('head', `the graph has no knowledge head '${options.head}'`);
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
    version: KADAPTER_FORMAT_VERSION,
  });
  const exported = exportToCheckpoint(graph, store, ownedBy(graph, `adapter:${name}`));
  await writeFileAtomic(join(dir, KADAPTER_WEIGHTS_FILE), encodeSafetensors(tensorRecord([...exported].map(([k, t]) => [fileKey(graph, k, name, name), t])), { format: 'pt' }));
  if (head) {
    await writeJsonAtomic(join(dir, KADAPTER_HEAD_CONFIG_FILE), { config: head, name: head.name, version: KADAPTER_FORMAT_VERSION });
    // exportToCheckpoint names head parameters without their `heads.NAME.` prefix (e.g. `out_proj.weight`).
    const headTensors = exportToCheckpoint(graph, store, ownedBy(graph, `head:${head.name}`));
    await writeFileAtomic(join(dir, KADAPTER_HEAD_WEIGHTS_FILE), encodeSafetensors(tensorRecord(headTensors), { format: 'pt' }));
  }
}

export interface LoadKAdapterOptions {
  /** Load under another name. */
  readonly as?: string;
  /** Placement override (default: the adapter's own placement for its adapter_list). */
  readonly rule?: Partial<PlacementRule>;
  /** Restore a saved knowledge head too (default true; it must read an output the graph has). */
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
  const staged = stage(next, keys, (k) => fileKey(next, k, name, savedName), (k) => tensors.get(k), weightsFile);
  const expected = new Set(keys.map((k) => fileKey(next, k, name, savedName)));
  const unexpected = [...tensors.keys()].filter((k) => !expected.has(k));
  if (unexpected.length > 0) throw new GraphError(`${weightsFile}: unexpected tensor '${unexpected[0]}' (the adapter's config places no parameter there)`);
  let head: string | undefined;
  const headConfigFile = join(dir, KADAPTER_HEAD_CONFIG_FILE);
  if (options.loadHead !== false && (await readFile(headConfigFile).then(() => true, () => false))) {
    const spec = (await readJsonObject(headConfigFile))['config'] as KnowledgeHeadSpec;
    next = addKnowledgeHead(next, spec);
    const headFile = join(dir, KADAPTER_HEAD_WEIGHTS_FILE);
    const headTensors = (await readSafetensorsFile(headFile)).tensors;
    const prefix = `heads.${spec.name}.`;
    for (const [k, v] of stage(next, ownedBy(next, `head:${spec.name}`), (k) => k.slice(prefix.length), (k) => headTensors.get(k), headFile)) staged.set(k, v);
    head = spec.name;
  }
  // Keys the store already holds (a reload under the same name) are overwritten; new keys are created.
  const existing = [...staged.keys()].filter((k) => store.has(k));
  store.sync(next, 0, (spec) => staged.get(spec.key)?.values);
  for (const key of existing) {
    const value = staged.get(key) as { shape: number[]; values: Float32Array };
    const t = tf.tensor(value.values, value.shape);
    store.assign(key, t);
    t.dispose();
  }
  return { graph: next, name, ...(head === undefined ? {} : { head }) };
}

/** Reads and checks tensors (present, right shape) and converts kernels to our [in, out] layout. */
function stage(graph: Graph, keys: readonly string[], keyOf: (k: string) => string, lookup: (k: string) => CheckpointTensor | undefined, source: string): Map<string, { shape: number[]; values: Float32Array }> {
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const key of keys) {
    const spec = graph.param(key);
    const fk = keyOf(key);
    const t = lookup(fk);
    if (!t) throw new GraphError(`${source}: missing tensor '${fk}' for parameter '${key}' [${spec.shape.join(', ')}]`);
    const transposed = spec.kind === 'kernel' && spec.shape.length === 2;
    const expected = transposed ? [...spec.shape].reverse() : [...spec.shape];
    if (t.shape.join() !== expected.join()) throw new GraphError(`${source}: tensor '${fk}' has shape [${t.shape.join(', ')}], the model expects [${expected.join(', ')}]`);
    const values = Float32Array.from(t.values);
    if (!transposed) {
      out.set(key, { shape: [...spec.shape], values });
      continue;
    }
    const [rows, cols] = t.shape as [number, number];
    const flipped = new Float32Array(values.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) flipped[c * rows + r] = values[r * cols + c] as number;
    out.set(key, { shape: [cols, rows], values: flipped });
  }
  return out;
}

// Saving, loading and swapping language adapters. A language adapter is saved in AdapterHub's layout with its
// invertible block: `adapter_config.json` (config = BnConfig fields + inv_adapter, inv_adapter_reduction_factor)
// and `adapter.safetensors` holding the bottleneck tensors under `bert.encoder.layer.{i}.output.adapters.NAME...`
// and the invertible ones under `bert.invertible_adapters.NAME.{F,G}.{0,2}.{weight,bias}` (AdapterHub's keys;
// nn.Linear weights [out, in]). core-graph's saveAdapter cannot write the latter keys, hence these functions.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { AdapterCatalog, CheckpointTensor, EncoderConfig, Graph, WeightStore } from '@adapters/core-graph';
import {
  ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterHubKey, ConfigError, encodeSafetensors, exportToCheckpoint, FORMAT_VERSION, GraphError,
  readSafetensorsFile, resolveConfig, stageFromCheckpoint, writeFileAtomic,
} from '@adapters/core-graph';
import { invertibleKeyPrefix } from './invertible';
import type { MadxModel, MadxSpec } from './madx';
import { buildMadx } from './madx';
import { bottleneckInv } from './plugin';

/** AdapterHub key of a language-adapter parameter (`as` renames the adapter). */
export function languageHubKey(graph: Graph, key: string, name: string, as = name): string {
  const inv = `${invertibleKeyPrefix(name)}.`;
  if (key.startsWith(inv)) {
    const prefix = String(graph.meta['prefix'] ?? '');
    return `${prefix ? `${prefix}.` : ''}${invertibleKeyPrefix(as)}.${key.slice(inv.length)}`;
  }
  return adapterHubKey(graph, key, name, as);
}

/** The file's key for an AdapterHub key: as is, or without the model prefix (AdapterHub files saved from a bare BertModel). */
function fileKeyOf(has: (key: string) => boolean, graph: Graph): (key: string) => string {
  const prefix = String(graph.meta['prefix'] ?? '');
  return (key) => {
    if (has(key) || !prefix || !key.startsWith(`${prefix}.`)) return key;
    const bare = key.slice(prefix.length + 1);
    return has(bare) ? bare : key;
  };
}

const ownedBy = (graph: Graph, name: string): string[] => [...graph.params.values()].filter((p) => p.owner === `adapter:${name}`).map((p) => p.key);

/** Hub config fields AdapterHub reads as Python floats: 1.3.0 rejects a numeric `scaling` that parses as an int. */
const FLOAT_FIELDS = ['scaling'];

/** JSON (2-space indent, final newline) with the FLOAT_FIELDS of `config` written as `1.0` when integral. */
function configJson(value: Record<string, unknown>, config: Record<string, unknown>): string {
  const tag = 'FLOAT\u0001';
  const text = JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    return this === config && FLOAT_FIELDS.includes(key) && typeof v === 'number' && Number.isInteger(v) ? `${tag}${v}` : v;
  }, 2);
  return `${text.replace(/"FLOAT\\u0001(-?\d+)"/g, '$1.0')}\n`;
}

/** Writes the language adapter `name` (bottleneck + invertible block) in AdapterHub's layout; files are written atomically. */
export async function saveLanguageAdapter(dir: string, graph: Graph, store: WeightStore, name: string): Promise<void> {
  const catalog = (graph.meta['adapters'] as AdapterCatalog | undefined) ?? {};
  const entry = catalog[name];
  if (!entry) throw new ConfigError('name', `the graph has no adapter '${name}' (adapters: ${Object.keys(catalog).join(', ') || 'none'})`);
  if (entry.plugin !== bottleneckInv.name) throw new ConfigError('name', `adapter '${name}' is a '${entry.plugin}' adapter, not a language adapter (${bottleneckInv.name}); use core-graph's saveAdapter`);
  const toHub = bottleneckInv.toHubConfig;
  if (!toHub) throw new Error('bottleneck_inv has no toHubConfig');
  const config = graph.meta['config'] as EncoderConfig | undefined;
  await mkdir(dir, { recursive: true });
  const hubConfig = toHub(entry.config as never);
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), configJson({
    config: hubConfig,
    hidden_size: config?.hiddenSize ?? null,
    model_class: `${config?.architecture === 'roberta' ? 'Roberta' : 'Bert'}AdapterModel`,
    model_name: graph.meta['modelName'] ?? null,
    model_type: config?.architecture ?? null,
    name,
    plugin: bottleneckInv.name,
    version: FORMAT_VERSION,
  }, hubConfig));
  const values = exportToCheckpoint(graph, store, ownedBy(graph, name));
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const key of ownedBy(graph, name)) {
    const t = values.get(key);
    if (!t) throw new GraphError(`no exported value for '${key}'`);
    tensors[languageHubKey(graph, key, name)] = { dtype: 'F32', shape: t.shape, values: t.values };
  }
  await writeFileAtomic(join(dir, ADAPTER_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt' }));
}

/** A language adapter read from disk: its saved name, its config (plugin input) and its tensors by AdapterHub key. */
export interface SavedLanguageAdapter {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly tensors: ReadonlyMap<string, CheckpointTensor>;
  readonly source: string;
}

/** Reads and checks a saved language adapter (config must be a BnConfig with an invertible adapter). */
export async function readLanguageAdapter(dir: string): Promise<SavedLanguageAdapter> {
  const file = join(dir, ADAPTER_CONFIG_FILE);
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(file, `cannot read: ${(e as Error).message}`);
  }
  const name = saved['name'];
  if (typeof name !== 'string') throw new ConfigError(`${file}: name`, 'must be a string');
  const hub = saved['config'];
  if (hub === null || typeof hub !== 'object' || Array.isArray(hub)) throw new ConfigError(`${file}: config`, 'must be an object');
  const config = bottleneckInv.fromHubConfig?.(hub as Record<string, unknown>);
  if (!config) throw new ConfigError(`${file}: config.inv_adapter`, 'is not a language adapter with an invertible block (expected a bottleneck config with inv_adapter)');
  resolveConfig(bottleneckInv, config, `${file}: config`);
  const source = join(dir, ADAPTER_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(source);
  return { name, config, tensors: new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, values: t.values }])), source };
}

export interface SwapOptions {
  /** Remove the previous language adapter's weights from the store (default false: keep them for swapping back). */
  readonly disposeOld?: boolean;
  /** Config overrides of the new language adapter (default: the current one's). */
  readonly languageConfig?: Readonly<Record<string, unknown>>;
}

/**
 * Replaces the model's language adapter by `language` (MAD-X step 3, zero-shot transfer): a new graph with
 * Stack(language, task) and the new invertible block, built from the same base; the task adapter, the heads and
 * the base keep their weights (same keys, untouched store entries). The store must already hold the new language
 * adapter's weights (trained in this session); use `loadLanguageAdapter` to bring them from disk.
 */
export function swapLanguageAdapter(model: MadxModel, store: WeightStore, language: string, options: SwapOptions = {}): MadxModel {
  return install(model, store, { ...model.spec, language, ...(options.languageConfig ? { languageConfig: options.languageConfig } : {}) }, undefined, options.disposeOld ?? false);
}

/**
 * Loads a saved language adapter. Given a MAD-X model, swaps it in for the model's language adapter (the task
 * adapter stays); given a base graph, builds a MAD-X model around it (with `task`, stacked under a task adapter
 * whose weights the store has or initialises). Everything is read and checked before the store changes.
 */
export async function loadLanguageAdapter(dir: string, target: MadxModel | Graph, store: WeightStore, options: { as?: string; task?: string; taskConfig?: Readonly<Record<string, unknown>>; disposeOld?: boolean } = {}): Promise<MadxModel> {
  const saved = await readLanguageAdapter(dir);
  const name = options.as ?? saved.name;
  const isModel = 'spec' in target;
  const spec: MadxSpec = isModel
    ? { ...target.spec, language: name, languageConfig: saved.config }
    : { language: name, languageConfig: saved.config, ...(options.task === undefined ? {} : { task: options.task }), ...(options.taskConfig ? { taskConfig: options.taskConfig } : {}) };
  const model: MadxModel = isModel ? target : { base: target, graph: target, spec, report: [] };
  return install(model, store, spec, { saved, as: name }, isModel && (options.disposeOld ?? false), isModel);
}

function install(model: MadxModel, store: WeightStore, spec: MadxSpec, from: { saved: SavedLanguageAdapter; as: string } | undefined, disposeOld: boolean, requireOthers = true): MadxModel {
  const next = buildMadx(model.base, spec);
  const graph = next.graph;
  const langKeys = ownedBy(graph, spec.language);
  const others = [...graph.params.keys()].filter((k) => graph.param(k).owner !== `adapter:${spec.language}`);
  if (requireOthers) {
    const missing = others.filter((k) => !store.has(k));
    if (missing.length > 0) throw new GraphError(`the store lacks '${missing[0]}' (and ${missing.length - 1} more) of the model outside the language adapter`);
  }
  let staged: Map<string, { shape: number[]; values: Float32Array }> | undefined;
  if (from) {
    const { saved, as } = from;
    const inFile = fileKeyOf((k) => saved.tensors.has(k), graph);
    const keyOf = (k: string): string => inFile(languageHubKey(graph, k, as, saved.name));
    staged = stageFromCheckpoint(graph, (k) => saved.tensors.get(k), { keys: langKeys, source: saved.source, keyOf });
    const expected = new Set(langKeys.map(keyOf));
    const unexpected = [...saved.tensors.keys()].filter((k) => !expected.has(k));
    if (unexpected.length > 0) throw new GraphError(`${saved.source}: unexpected tensor '${unexpected[0]}' (the adapter's config places no parameter there)`);
  } else {
    const missing = langKeys.filter((k) => !store.has(k));
    if (missing.length > 0) throw new GraphError(`the store has no weights for language adapter '${spec.language}' (missing '${missing[0]}'); train it or load it with loadLanguageAdapter`);
  }
  // Checked: now change the store.
  if (staged) {
    for (const [key, t] of staged) {
      if (!store.has(key)) continue;
      const value = tf.tensor(t.values, t.shape);
      store.assign(key, value);
      value.dispose();
    }
  }
  store.sync(graph, 0, (p) => staged?.get(p.key)?.values);
  const old = model.spec.language;
  if (disposeOld && old !== spec.language) store.remove(ownedBy(model.graph, old));
  return next;
}

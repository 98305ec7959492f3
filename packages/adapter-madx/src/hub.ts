// Saving, loading and swapping language adapters. A language adapter is saved in AdapterHub's layout with its
// invertible block by core-graph's saveAdapter: `adapter_config.json` (config = BnConfig fields + inv_adapter,
// inv_adapter_reduction_factor) and `adapter.safetensors` holding the bottleneck tensors under
// `bert.encoder.layer.{i}.output.adapters.NAME...` and the invertible ones under
// `bert.invertible_adapters.NAME.{F,G}.{0,2}.{weight,bias}` (the plugin's checkpointKeys hook names both).
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { AdapterCatalog, CheckpointTensor, Graph, WeightStore } from '@adapters/core-graph';
import {
  ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterCheckpointKeysOf, ConfigError, createRegistry, GraphError, objectField, readJsonObject,
  readSafetensorsFile, resolveConfig, saveAdapter, stageArtifact,
} from '@adapters/core-graph';
import type { MadxModel, MadxSpec } from './madx';
import { buildMadx } from './madx';
import { bottleneckInv } from './plugin';

const ownedBy = (graph: Graph, name: string): string[] => [...graph.params.values()].filter((p) => p.owner === `adapter:${name}`).map((p) => p.key);

/** Writes the language adapter `name` (bottleneck + invertible block) in AdapterHub's layout (core-graph's saveAdapter; files written atomically). */
export async function saveLanguageAdapter(dir: string, graph: Graph, store: WeightStore, name: string): Promise<void> {
  const catalog = (graph.meta['adapters'] as AdapterCatalog | undefined) ?? {};
  const entry = catalog[name];
  if (!entry) throw new ConfigError('name', `the graph has no adapter '${name}' (adapters: ${Object.keys(catalog).join(', ') || 'none'})`);
  if (entry.plugin !== bottleneckInv.name) throw new ConfigError('name', `adapter '${name}' is a '${entry.plugin}' adapter, not a language adapter (${bottleneckInv.name}); use core-graph's saveAdapter`);
  await saveAdapter(dir, graph, store, name, { registry: createRegistry([bottleneckInv]) });
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
  const saved = await readJsonObject(file);
  const name = saved['name'];
  if (typeof name !== 'string') throw new ConfigError(`${file}: name`, 'must be a string');
  const config = bottleneckInv.fromHubConfig?.(objectField(saved, 'config', file));
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
    const config = ((graph.meta['adapters'] as AdapterCatalog | undefined) ?? {})[as]?.config ?? saved.config;
    const namesOf = (k: string): string[] => adapterCheckpointKeysOf(graph, k, as, { plugin: bottleneckInv, config, as: saved.name });
    staged = stageArtifact(graph, saved.tensors, { keys: langKeys, namesOf, source: saved.source, owner: "the adapter's config" });
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

// A prediction head's files, as AdapterHub writes them beside an adapter: `head_config.json` ({ config, hidden_size,
// model_type, name, version }) + `model_head.safetensors` (keys `heads.NAME.LOCAL`, kernels [out, in]). Every head
// type goes through its HeadDef (`toHubConfig` / `fromHubConfig`), so plugin heads use the same files.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError, GraphError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { readJsonObject } from '../io/read-json';
import { readSafetensorsFile } from '../io/safetensors';
import type { HeadRegistry } from '../model/head-def';
import type { AnyHeadSpec } from '../model/heads';
import { addHead, graphHeads, headPrefix, headsOf } from '../model/heads';
import { validateSchema } from '../plugin/schema';
import { checkBaseModel } from './base-model-check';
import { writeArtifact } from './artifact';
import { stageFromCheckpoint } from './hf-keys';

export const HEAD_CONFIG_FILE = 'head_config.json';
export const HEAD_WEIGHTS_FILE = 'model_head.safetensors';
export { FORMAT_VERSION } from './artifact';

const headKeys = (graph: Graph, name: string): string[] => [...graph.params.values()].filter((p) => p.owner === `head:${name}`).map((p) => p.key);

/** `config.label2id` (AdapterHub's field: label name → id) for label names by id; null when there are none. */
function label2id(labels: readonly string[] | undefined, file: string): Record<string, number> | null {
  if (labels === undefined) return null;
  if (new Set(labels).size !== labels.length) throw new ConfigError(`${file}: config.label2id`, 'label names must be distinct');
  return Object.fromEntries(labels.map((l, i) => [l, i]));
}

/**
 * Writes head `name` of the graph (config + tensors, each file atomically) into `dir`: in AdapterHub's format when the
 * head's def writes one (`head_type`; AdapterHub's key names), else ours. `labels` (by id) become `config.label2id`.
 */
export async function saveHead(dir: string, graph: Graph, store: WeightStore, name: string, options: { heads?: HeadRegistry; labels?: readonly string[] } = {}): Promise<void> {
  const spec = graphHeads(graph).find((h) => h.name === name);
  if (!spec) throw new ConfigError('head', `the graph has no head '${name}' (heads: ${graphHeads(graph).map((h) => h.name).join(', ') || 'none'})`);
  const def = (options.heads ?? headsOf(graph)).get(spec.type);
  const model = graph.meta.config;
  const file = join(dir, HEAD_CONFIG_FILE);
  const ctx = { name, architecture: model?.architecture, file };
  const config: Record<string, unknown> = { ...(def.toHubConfig ? def.toHubConfig(spec, ctx) : spec) };
  const labels = label2id(options.labels, file);
  if (labels !== null || 'head_type' in config) config['label2id'] = labels;
  let hubLocal = (local: string): string => local;
  const foreign = 'head_type' in config;
  if (foreign) {
    const read = def.fromHubConfig?.(config, ctx);
    if (!read) throw new ConfigError('head.type', `head type '${spec.type}' writes a foreign config its fromHubConfig does not read back`);
    hubLocal = read.hubLocal ?? hubLocal;
  }
  const prefix = `${headPrefix(name)}.`;
  await writeArtifact(dir, graph, store, {
    configFile: HEAD_CONFIG_FILE,
    fields: { config, name },
    // AdapterHub's model class only beside AdapterHub's own head config.
    header: { model_name: false, model_class: foreign && model !== undefined },
    weightsFile: HEAD_WEIGHTS_FILE,
    tensors: new Map(headKeys(graph, name).map((key) => [key, [`${prefix}${hubLocal(key.slice(prefix.length))}`]])),
  });
}

/** True when `dir` holds a head config. */
export async function hasHead(dir: string): Promise<boolean> {
  return access(join(dir, HEAD_CONFIG_FILE)).then(() => true, () => false);
}

/** The spec of a saved head: ours (`config.type` names a registered head), or a foreign config a head understands. */
function savedSpec(saved: Record<string, unknown>, file: string, heads: HeadRegistry, architecture: string | undefined): { spec: AnyHeadSpec; hubLocal: (local: string) => string } {
  const config = saved['config'];
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new ConfigError(`${file}: config`, 'must be an object');
  const c = config as Record<string, unknown>;
  if (typeof c['type'] === 'string' || c['head_type'] === undefined) {
    if (typeof c['type'] !== 'string' || !heads.has(c['type'])) {
      throw new ConfigError(`${file}: config.type`, `no registered head reads type ${JSON.stringify(c['type'] ?? null)} (registered: ${heads.list().map((d) => d.type).join(', ')}; or an AdapterHub head with head_type)`);
    }
    // Label names (AdapterHub's `label2id`) are read by whoever needs them (AdapterModel): not part of the spec.
    const { label2id: _labels, ...spec } = c;
    const schema = heads.get(c['type']).schema;
    if (schema) validateSchema(schema, spec, `${file}: config`);
    if (typeof spec['name'] !== 'string') throw new ConfigError(`${file}: config.name`, 'must be a string');
    return { spec: spec as unknown as AnyHeadSpec, hubLocal: (local) => local };
  }
  const name = saved['name'];
  if (typeof name !== 'string') throw new ConfigError(`${file}: name`, 'must be a string');
  for (const def of heads.list()) {
    const found = def.fromHubConfig?.(c, { name, architecture, file });
    if (found) return { spec: found.spec, hubLocal: found.hubLocal ?? ((local: string) => local) };
  }
  const type = c['head_type'];
  throw new ConfigError(`${file}: config.head_type`, `AdapterHub head type ${JSON.stringify(type ?? null)} is not supported by the registered heads (${heads.list().map((d) => d.type).join(', ')}); load with loadHead: false`);
}

/**
 * Reads a saved head and adds it to `graph`; returns the new graph and the head's values in our layout, checked
 * (every tensor present with the right shape, none unexpected) but not yet in any store.
 */
export async function readHead(dir: string, graph: Graph, options: { heads?: HeadRegistry } = {}): Promise<{ graph: Graph; name: string; staged: Map<string, { shape: number[]; values: Float32Array }> }> {
  const heads = options.heads ?? headsOf(graph);
  const configFile = join(dir, HEAD_CONFIG_FILE);
  const saved = await readJsonObject(configFile);
  checkBaseModel(saved, graph, configFile);
  const { spec, hubLocal } = savedSpec(saved, configFile, heads, graph.meta.config?.architecture);
  const next = addHead(graph, spec, heads);
  const file = join(dir, HEAD_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(file);
  const prefix = `${headPrefix(spec.name)}.`;
  const keys = headKeys(next, spec.name);
  const keyOf = (k: string): string => `${prefix}${hubLocal(k.slice(prefix.length))}`;
  const staged = stageFromCheckpoint(next, (k) => tensors.get(k), { keys, source: file, keyOf });
  const expected = new Set(keys.map(keyOf));
  const extra = [...tensors.keys()].filter((k) => !expected.has(k));
  if (extra.length > 0) throw new GraphError(`${file}: unexpected tensor '${extra[0]}' (the head '${spec.name}' has no parameter there)`);
  return { graph: next, name: spec.name, staged };
}

/** Adds a saved head to `graph` and loads its weights into `store` (everything is checked before the store changes). */
export async function loadHead(dir: string, graph: Graph, store: WeightStore, options: { heads?: HeadRegistry } = {}): Promise<{ graph: Graph; name: string }> {
  const { graph: next, name, staged } = await readHead(dir, graph, options);
  assignStaged(next, store, staged);
  return { graph: next, name };
}

/** Creates the staged weights the store lacks and overwrites those it has (a reload under the same name). */
export function assignStaged(graph: Graph, store: WeightStore, staged: ReadonlyMap<string, { shape: readonly number[]; values: Float32Array }>): void {
  const existing = [...staged.keys()].filter((k) => store.has(k));
  store.sync(graph, 0, (spec) => staged.get(spec.key)?.values);
  for (const key of existing) {
    const value = staged.get(key) as { shape: readonly number[]; values: Float32Array };
    const t = tf.tensor(value.values, [...value.shape]);
    store.assign(key, t);
    t.dispose();
  }
}

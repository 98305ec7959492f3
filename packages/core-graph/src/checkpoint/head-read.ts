// Reading a prediction head's files (head_config.json + model_head.safetensors) from any FileSource: a folder, bytes
// or URLs. Runs in browsers; head-files.ts adds the writer and the path-taking wrappers.
import * as tf from '@tensorflow/tfjs';
import { ConfigError, GraphError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { FileSource } from '../io/file-source';
import { readJsonFrom, readSafetensorsFrom } from '../io/file-source';
import type { HeadRegistry } from '../model/head-def';
import type { AnyHeadSpec } from '../model/heads';
import { addHead, headPrefix, headsOf } from '../model/heads';
import { validateSchema } from '../plugin/schema';
import { checkBaseModel } from './base-model-check';
import { stageFromCheckpoint } from './hf-keys';

export const HEAD_CONFIG_FILE = 'head_config.json';
export const HEAD_WEIGHTS_FILE = 'model_head.safetensors';

export const headKeys = (graph: Graph, name: string): string[] => [...graph.params.values()].filter((p) => p.owner === `head:${name}`).map((p) => p.key);

/** True when the source holds a head config. */
export async function hasHeadIn(source: FileSource): Promise<boolean> {
  return (await source.read(HEAD_CONFIG_FILE)) !== undefined;
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
export async function readHeadFrom(source: FileSource, graph: Graph, options: { heads?: HeadRegistry } = {}): Promise<{ graph: Graph; name: string; staged: Map<string, { shape: number[]; values: Float32Array }> }> {
  const heads = options.heads ?? headsOf(graph);
  const configFile = source.path(HEAD_CONFIG_FILE);
  const saved = await readJsonFrom(source, HEAD_CONFIG_FILE);
  checkBaseModel(saved, graph, configFile);
  const { spec, hubLocal } = savedSpec(saved, configFile, heads, graph.meta.config?.architecture);
  const next = addHead(graph, spec, heads);
  const file = source.path(HEAD_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFrom(source, HEAD_WEIGHTS_FILE);
  const prefix = `${headPrefix(spec.name)}.`;
  const keys = headKeys(next, spec.name);
  const keyOf = (k: string): string => `${prefix}${hubLocal(k.slice(prefix.length))}`;
  const staged = stageFromCheckpoint(next, (k) => tensors.get(k), { keys, source: file, keyOf });
  const expected = new Set(keys.map(keyOf));
  const extra = [...tensors.keys()].filter((k) => !expected.has(k));
  if (extra.length > 0) throw new GraphError(`${file}: unexpected tensor '${extra[0]}' (the head '${spec.name}' has no parameter there)`);
  return { graph: next, name: spec.name, staged };
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

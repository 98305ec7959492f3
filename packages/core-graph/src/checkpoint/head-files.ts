// A prediction head's files, as AdapterHub writes them beside an adapter: `head_config.json` ({ config, hidden_size,
// model_type, name, version }) + `model_head.safetensors` (keys `heads.NAME.LOCAL`, kernels [out, in]). Every head
// type goes through its HeadDef (`toHubConfig` / `fromHubConfig`), so plugin heads use the same files.
import { join } from 'node:path';
import { ConfigError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { FileSource } from '../io/file-source';
import { sourceOf } from '../io/dir-source';
import type { HeadRegistry } from '../model/head-def';
import { graphHeads, headPrefix, headsOf } from '../model/heads';
import { writeArtifact } from './artifact-write';
import { assignStaged, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE, hasHeadIn, headKeys, readHeadFrom } from './head-read';

export { assignStaged, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE, hasHeadIn, readHeadFrom } from './head-read';
export { FORMAT_VERSION } from './artifact';

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
export async function hasHead(dir: string | FileSource): Promise<boolean> {
  return hasHeadIn(sourceOf(dir));
}

/**
 * Reads a saved head (a folder, or any FileSource: bytes, URLs) and adds it to `graph`; returns the new graph and the
 * head's values in our layout, checked (every tensor present with the right shape, none unexpected) but not yet in any store.
 */
export async function readHead(dir: string | FileSource, graph: Graph, options: { heads?: HeadRegistry } = {}): Promise<{ graph: Graph; name: string; staged: Map<string, { shape: number[]; values: Float32Array }> }> {
  return readHeadFrom(sourceOf(dir), graph, options);
}

/** Adds a saved head to `graph` and loads its weights into `store` (everything is checked before the store changes). */
export async function loadHead(dir: string | FileSource, graph: Graph, store: WeightStore, options: { heads?: HeadRegistry } = {}): Promise<{ graph: Graph; name: string }> {
  const { graph: next, name, staged } = await readHead(dir, graph, options);
  assignStaged(next, store, staged);
  return { graph: next, name };
}

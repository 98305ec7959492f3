// One run manifest (`run.json`) for every method: the model, the adapters and where they sit, the composition tree,
// the heads and their label names, the max length, the data columns, and plugin extras under the plugin's own key.
// `saveRun` writes it with the adapter and head files (atomically, through io/run-dir); `loadRun` rebuilds the model.
// It replaces labels.json, fusion_run.json, K-Adapter's task_config.json and madx_task.json.
import { stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, win32 } from 'node:path';
import { ConfigError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { writeJsonAtomic } from '../io/atomic-write';
import { readJsonObject } from '../io/read-json';
import { readableRunPath, writeRunDir } from '../io/run-dir';
import type { HeadRegistry } from '../model/head-def';
import { graphHeads } from '../model/heads';
import { SPLICE_MODES } from '../plugin/define-adapter';
import type { SpliceMode } from '../plugin/define-adapter';
import type { AdapterRegistry } from '../plugin/registry';
import { RESERVED_NAMES } from '../plugin/schema';
import { applyPlacements } from '../rewrite/apply-placements';
import type { AdapterTree } from '../rewrite/composition';
import { adapter, block } from '../rewrite/composition';
import type { Runtime } from '../runtime/runtime';
import { isRuntime } from '../runtime/runtime';
import type { SavedPlacement } from './adapterhub';
import { loadAdapter, saveAdapter } from './adapterhub';
import { loadHead, saveHead } from './head-files';

export const RUN_FILE = 'run.json';
/** `format` of run.json: readers refuse other versions naming the field. */
export const RUN_FORMAT = 'adapters-ts.run/1';
/** Run files of earlier versions, each replaced by run.json. */
export const OBSOLETE_RUN_FILES: readonly string[] = ['labels.json', 'fusion_run.json', 'task_config.json', 'madx_task.json'];

/** Bounds: a manifest is small; anything larger is not one of ours. */
export const RUN_LIMITS = { bytes: 1 << 20, adapters: 256, heads: 64, labels: 100_000, depth: 16, name: 128 } as const;

/** A composition tree in run.json: an adapter by name, or a block with its children and options. */
export type RunTree = string | { readonly block: string; readonly children: readonly RunTree[]; readonly options?: Readonly<Record<string, unknown>> };

export interface RunAdapter {
  readonly name: string;
  /** Its AdapterHub folder, relative to the run directory (no `..`). */
  readonly dir: string;
  /** Where it sits when placed alone (default: what its adapter_config.json records, else the plugin's default). */
  readonly placement?: SavedPlacement;
}

export interface RunHead {
  readonly name: string;
  readonly dir: string;
  /** Label names by id. */
  readonly labels?: readonly string[];
}

export interface RunColumns {
  readonly text?: string;
  readonly pair?: string;
  readonly label?: string;
}

export interface RunManifest {
  readonly format: string;
  /** The model the run was trained on: a directory or a known name. */
  readonly model: string;
  readonly adapters: readonly RunAdapter[];
  /** The adapters' composition (e.g. Stack(lang, task)) and where it sits; absent: each adapter placed alone. */
  readonly composition?: { readonly tree: RunTree; readonly placement?: SavedPlacement };
  readonly heads: readonly RunHead[];
  readonly maxLength: number;
  readonly columns: RunColumns;
  /** Plugin data, each under the plugin's key (e.g. `fusion`, `madx`); `loadRun` gives each to its handler. */
  readonly extras?: Readonly<Record<string, unknown>>;
}

const fail = (file: string, field: string, problem: string): never => {
  throw new ConfigError(`${file}: ${field}`, problem, 'E_RUN_MANIFEST');
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function checkKeys(v: Record<string, unknown>, allowed: readonly string[], file: string, at: string): void {
  const extra = Object.keys(v).find((k) => !allowed.includes(k));
  if (extra !== undefined) fail(file, at ? `${at}.${extra}` : extra, `is not a run.json field (fields: ${allowed.join(', ')})`);
}

function checkName(v: unknown, file: string, at: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.,-]+$/.test(v) || v.length > RUN_LIMITS.name || RESERVED_NAMES.has(v)) {
    return fail(file, at, `must be a name of letters, digits, '_', '-', '.', ',' (at most ${RUN_LIMITS.name}), got ${JSON.stringify(v)?.slice(0, 60)}`);
  }
  return v;
}

/** A folder inside the run directory: relative, no `..`, not the run's parent. */
function checkDir(v: unknown, file: string, at: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) return fail(file, at, 'must be a non-empty relative path');
  if (isAbsolute(v) || win32.isAbsolute(v) || v.split(/[\\/]/).includes('..')) return fail(file, at, `must be a path inside the run directory without '..', got ${JSON.stringify(v)}`);
  return v;
}

function checkPlacement(v: unknown, file: string, at: string): SavedPlacement | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) return fail(file, at, 'must be { "mode": ..., "sites": [...] }');
  checkKeys(v, ['mode', 'sites'], file, at);
  if (typeof v['mode'] !== 'string' || !(SPLICE_MODES as readonly string[]).includes(v['mode'])) fail(file, `${at}.mode`, `must be one of ${SPLICE_MODES.join(', ')}`);
  const sites = v['sites'];
  if (!Array.isArray(sites) || sites.length === 0 || sites.length > 10_000 || !sites.every((s) => typeof s === 'string')) fail(file, `${at}.sites`, 'must be a non-empty list of site names');
  return { mode: v['mode'] as string, sites: sites as string[] };
}

function checkTree(v: unknown, file: string, at: string, depth: number): RunTree {
  if (depth > RUN_LIMITS.depth) return fail(file, at, `nests deeper than ${RUN_LIMITS.depth} blocks`);
  if (typeof v === 'string') return checkName(v, file, at);
  if (!isObject(v)) return fail(file, at, 'must be an adapter name or { "block", "children", "options"? }');
  checkKeys(v, ['block', 'children', 'options'], file, at);
  const type = checkName(v['block'], file, `${at}.block`);
  const children = v['children'];
  if (!Array.isArray(children) || children.length === 0 || children.length > RUN_LIMITS.adapters) fail(file, `${at}.children`, 'must be a non-empty list');
  if (v['options'] !== undefined && !isObject(v['options'])) fail(file, `${at}.options`, 'must be an object');
  return { block: type, children: (children as unknown[]).map((c, i) => checkTree(c, file, `${at}.children[${i}]`, depth + 1)), ...(v['options'] === undefined ? {} : { options: v['options'] as Record<string, unknown> }) };
}

const treeNames = (t: RunTree): string[] => (typeof t === 'string' ? [t] : t.children.flatMap(treeNames));

/** Checks a parsed run.json: every problem is one ConfigError (code E_RUN_MANIFEST) naming `file: field`. */
export function validateRunManifest(value: unknown, file: string = RUN_FILE): RunManifest {
  if (!isObject(value)) return fail(file, 'value', 'must be a JSON object');
  checkKeys(value, ['format', 'model', 'adapters', 'composition', 'heads', 'maxLength', 'columns', 'extras'], file, '');
  if (value['format'] !== RUN_FORMAT) fail(file, 'format', `must be ${JSON.stringify(RUN_FORMAT)}, got ${JSON.stringify(value['format'] ?? null)?.slice(0, 60)}`);
  if (typeof value['model'] !== 'string' || value['model'].length === 0 || value['model'].length > 4096) fail(file, 'model', 'must be a model directory or name');
  const adapters = value['adapters'];
  if (!Array.isArray(adapters) || adapters.length > RUN_LIMITS.adapters) fail(file, 'adapters', `must be a list of at most ${RUN_LIMITS.adapters} adapters`);
  const seen = new Set<string>();
  const runAdapters = (adapters as unknown[]).map((a, i): RunAdapter => {
    const at = `adapters[${i}]`;
    if (!isObject(a)) return fail(file, at, 'must be { "name", "dir", "placement"? }');
    checkKeys(a, ['name', 'dir', 'placement'], file, at);
    const name = checkName(a['name'], file, `${at}.name`);
    if (seen.has(name)) fail(file, `${at}.name`, `'${name}' is listed twice`);
    seen.add(name);
    const placement = checkPlacement(a['placement'], file, `${at}.placement`);
    return { name, dir: checkDir(a['dir'], file, `${at}.dir`), ...(placement ? { placement } : {}) };
  });
  let composition: RunManifest['composition'];
  if (value['composition'] !== undefined) {
    const c = value['composition'];
    if (!isObject(c)) return fail(file, 'composition', 'must be { "tree", "placement"? }');
    checkKeys(c, ['tree', 'placement'], file, 'composition');
    const tree = checkTree(c['tree'], file, 'composition.tree', 0);
    const missing = treeNames(tree).find((n) => !seen.has(n));
    if (missing !== undefined) fail(file, 'composition.tree', `names adapter '${missing}', which adapters does not list`);
    const placement = checkPlacement(c['placement'], file, 'composition.placement');
    composition = { tree, ...(placement ? { placement } : {}) };
  }
  const heads = value['heads'];
  if (!Array.isArray(heads) || heads.length > RUN_LIMITS.heads) fail(file, 'heads', `must be a list of at most ${RUN_LIMITS.heads} heads`);
  const headNames = new Set<string>();
  const runHeads = (heads as unknown[]).map((h, i): RunHead => {
    const at = `heads[${i}]`;
    if (!isObject(h)) return fail(file, at, 'must be { "name", "dir", "labels"? }');
    checkKeys(h, ['name', 'dir', 'labels'], file, at);
    const name = checkName(h['name'], file, `${at}.name`);
    if (headNames.has(name)) fail(file, `${at}.name`, `'${name}' is listed twice`);
    headNames.add(name);
    const labels = h['labels'];
    if (labels !== undefined) {
      if (!Array.isArray(labels) || labels.length === 0 || labels.length > RUN_LIMITS.labels || !labels.every((l) => typeof l === 'string' && l.length <= 1000)) {
        fail(file, `${at}.labels`, `must be a non-empty list of at most ${RUN_LIMITS.labels} label names`);
      }
      if (new Set(labels as string[]).size !== (labels as string[]).length) fail(file, `${at}.labels`, 'lists a label twice');
    }
    return { name, dir: checkDir(h['dir'], file, `${at}.dir`), ...(labels === undefined ? {} : { labels: labels as string[] }) };
  });
  const maxLength = value['maxLength'];
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 1 || maxLength > 1_000_000) fail(file, 'maxLength', 'must be a whole number from 1 to 1000000');
  const columns = value['columns'];
  if (!isObject(columns)) return fail(file, 'columns', 'must be an object { text?, pair?, label? }');
  checkKeys(columns, ['text', 'pair', 'label'], file, 'columns');
  for (const [k, v] of Object.entries(columns)) if (typeof v !== 'string' || v.length > 256) fail(file, `columns.${k}`, 'must be a column name');
  const extras = value['extras'];
  if (extras !== undefined) {
    if (!isObject(extras)) fail(file, 'extras', 'must be an object keyed by plugin');
    for (const k of Object.keys(extras as object)) checkName(k, file, `extras.${k}`);
  }
  return {
    format: RUN_FORMAT, model: value['model'] as string, adapters: runAdapters, ...(composition ? { composition } : {}), heads: runHeads,
    maxLength: maxLength as number, columns: columns as RunColumns, ...(extras === undefined ? {} : { extras: extras as Record<string, unknown> }),
  };
}

function treeOf(tree: AdapterTree): RunTree {
  if (tree.kind === 'adapter') return tree.name;
  return { block: tree.type, children: tree.children.map(treeOf), ...(tree.options ? { options: { ...tree.options } } : {}) };
}

/** What `saveRun` saves: adapters (by name) and heads of `graph`, plus the run's settings. */
export interface RunInput {
  readonly graph: Graph;
  readonly store: WeightStore;
  readonly model: string;
  readonly adapters: readonly string[];
  /** The composition the adapters form in `graph` (a tree of adapter uses, as given to applyPlacements) and where it sits. */
  readonly composition?: { readonly tree: AdapterTree; readonly placement?: SavedPlacement };
  readonly heads: ReadonlyArray<{ readonly name: string; readonly labels?: readonly string[] }>;
  readonly maxLength: number;
  readonly columns?: RunColumns;
  readonly extras?: Readonly<Record<string, unknown>>;
  readonly registry?: AdapterRegistry;
  readonly headRegistry?: HeadRegistry;
}

/**
 * Writes a run into `dir` as it is (adapters under `adapters/NAME`, heads under `heads/NAME`, then run.json, each file
 * atomically): for callers already writing a staged run directory. `saveRun` swaps the whole directory in.
 */
export async function writeRun(dir: string, input: RunInput): Promise<RunManifest> {
  const catalog = input.graph.meta.adapters ?? {};
  const adapters: RunAdapter[] = [];
  for (const name of input.adapters) {
    if (!catalog[name]) throw new ConfigError('adapters', `the graph has no adapter '${name}' (adapters: ${Object.keys(catalog).join(', ') || 'none'})`, 'E_RUN_MANIFEST');
    await saveAdapter(join(dir, 'adapters', name), input.graph, input.store, name, input.registry ? { registry: input.registry } : {});
    adapters.push({ name, dir: `adapters/${name}` });
  }
  const heads: RunHead[] = [];
  for (const h of input.heads) {
    await saveHead(join(dir, 'heads', h.name), input.graph, input.store, h.name, { ...(input.headRegistry ? { heads: input.headRegistry } : {}), ...(h.labels ? { labels: h.labels } : {}) });
    heads.push({ name: h.name, dir: `heads/${h.name}`, ...(h.labels ? { labels: [...h.labels] } : {}) });
  }
  const manifest = validateRunManifest({
    format: RUN_FORMAT, model: input.model, adapters,
    ...(input.composition ? { composition: { tree: treeOf(input.composition.tree), ...(input.composition.placement ? { placement: input.composition.placement } : {}) } } : {}),
    heads, maxLength: input.maxLength, columns: { ...(input.columns ?? {}) }, ...(input.extras ? { extras: { ...input.extras } } : {}),
  }, RUN_FILE);
  await writeJsonAtomic(join(dir, RUN_FILE), manifest);
  return manifest;
}

/** Saves a run as a whole: written into a staging directory beside `dir` and swapped in (io/run-dir). */
export async function saveRun(dir: string, input: RunInput): Promise<RunManifest> {
  return writeRunDir(dir, (staging) => writeRun(staging, input));
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Reads and checks `dir/run.json`; a directory with only an older run file gets an error naming that file. */
export async function readRunManifest(dir: string): Promise<RunManifest> {
  const root = readableRunPath(dir);
  const file = join(root, RUN_FILE);
  const info = await stat(file).catch(() => undefined);
  if (!info) {
    for (const old of OBSOLETE_RUN_FILES) {
      if (await exists(join(root, old))) {
        throw new ConfigError(join(root, old), `is an obsolete run file (before run.json); re-run the command that wrote it, or save the run again with saveRun`, 'E_RUN_MANIFEST_OBSOLETE');
      }
    }
    throw new ConfigError(file, 'cannot read: no run.json there; pass a directory a training command wrote', 'E_RUN_MANIFEST');
  }
  if (info.size > RUN_LIMITS.bytes) throw new ConfigError(file, `is ${info.size} bytes; a run manifest is at most ${RUN_LIMITS.bytes}`, 'E_RUN_MANIFEST');
  return validateRunManifest(await readJsonObject(file), file);
}

/**
 * What a plugin's extras handler gets: the model so far (base + heads, + the composition when run.json has one;
 * without one the handler composes the adapters from `adapterGraphs`) and its extras value.
 */
export interface RunExtraContext {
  readonly dir: string;
  readonly manifest: RunManifest;
  readonly value: unknown;
  readonly graph: Graph;
  /** Base + heads (no adapters): what a block that needs its own files (a fusion) builds on. */
  readonly headed: Graph;
  /** One graph per adapter (base + heads + that adapter alone), in manifest order. */
  readonly adapterGraphs: readonly Graph[];
  readonly store: WeightStore;
  readonly registry: AdapterRegistry;
  /** The runtime loadRun was given, when it was given one (not a bare registry). */
  readonly runtime?: Runtime;
}

/** A plugin's part of loading a run: returns the graph with whatever its extras add (e.g. a fusion's weights). */
export type RunExtraHandler = (ctx: RunExtraContext) => Promise<Graph>;

export interface LoadRunOptions {
  /** The plugins adapters are loaded with, or a runtime (its plugins, blocks and heads). */
  readonly registry: AdapterRegistry | Runtime;
  /** Default: the runtime's heads when `registry` is one, else the base graph's (`headsOf`). */
  readonly heads?: HeadRegistry;
  /** Handlers by extras key; an extras key without a handler is an error naming it. */
  readonly extras?: Readonly<Record<string, RunExtraHandler>>;
}

export interface LoadedRun {
  readonly dir: string;
  readonly manifest: RunManifest;
  readonly graph: Graph;
  /** Label names by head (heads saved without labels are absent). */
  readonly labels: Readonly<Record<string, readonly string[]>>;
}

function toTree(t: RunTree, uses: ReadonlyMap<string, AdapterTree>): AdapterTree {
  if (typeof t === 'string') return uses.get(t) as AdapterTree;
  return block(t.block, t.children.map((c) => toTree(c, uses)), t.options);
}

const inside = (root: string, rel: string, file: string, field: string): string => {
  const abs = resolve(root, rel);
  const r = relative(root, abs);
  if (r.startsWith('..') || isAbsolute(r)) fail(file, field, `resolves outside the run directory: ${JSON.stringify(rel)}`);
  return abs;
};

/**
 * Rebuilds a saved run on `base` (the model run.json names, loaded by the caller) and fills `store`: the heads, then
 * each adapter (weights into the store), then the composition over them (or every adapter at its own placement),
 * then each plugin's extras. Everything a file holds is checked before it touches the store.
 */
export async function loadRun(dir: string, base: Graph, store: WeightStore, options: LoadRunOptions): Promise<LoadedRun> {
  const manifest = await readRunManifest(dir);
  const root = readableRunPath(dir);
  const file = join(root, RUN_FILE);
  const unhandled = Object.keys(manifest.extras ?? {}).find((k) => !options.extras?.[k]);
  if (unhandled !== undefined) fail(file, `extras.${unhandled}`, `no installed plugin reads these extras (handlers: ${Object.keys(options.extras ?? {}).join(', ') || 'none'})`);
  let headed = base;
  const labels: Record<string, readonly string[]> = {};
  const runtime = isRuntime(options.registry) ? options.registry : undefined;
  const plugins = runtime ? runtime.plugins : (options.registry as AdapterRegistry);
  const heads = options.heads ?? runtime?.heads;
  for (const [i, h] of manifest.heads.entries()) {
    const loaded = await loadHead(inside(root, h.dir, file, `heads[${i}].dir`), headed, store, heads ? { heads } : {});
    if (loaded.name !== h.name) fail(file, `heads[${i}].name`, `is '${h.name}', but ${h.dir} holds head '${loaded.name}'`);
    headed = loaded.graph;
    if (h.labels) labels[h.name] = h.labels;
  }
  const adapterGraphs: Graph[] = [];
  const uses = new Map<string, AdapterTree>();
  let graph = headed;
  // Without a composition the adapters sit together at their own placements, unless a plugin's extras compose them
  // (a fusion): then its handler builds the model from `headed` and `adapterGraphs`.
  const placeTogether = !manifest.composition && Object.keys(manifest.extras ?? {}).length === 0;
  for (const [i, a] of manifest.adapters.entries()) {
    const rule = a.placement ? { select: { names: [...a.placement.sites] }, mode: a.placement.mode as SpliceMode } : undefined;
    const at = inside(root, a.dir, file, `adapters[${i}].dir`);
    const alone = await loadAdapter(at, headed, store, plugins, { loadHead: false, ...(rule ? { rule } : {}) });
    if (alone.name !== a.name) fail(file, `adapters[${i}].name`, `is '${a.name}', but ${a.dir} holds adapter '${alone.name}'`);
    adapterGraphs.push(alone.graph);
    const entry = (alone.graph.meta.adapters ?? {})[a.name];
    if (entry) uses.set(a.name, adapter(entry.plugin, a.name, entry.config));
    if (placeTogether) graph = (await loadAdapter(at, graph, store, plugins, { loadHead: false, ...(rule ? { rule } : {}) })).graph;
  }
  if (manifest.composition) {
    const { tree, placement } = manifest.composition;
    const rule = placement ? { select: { names: [...placement.sites] }, mode: placement.mode as SpliceMode } : {};
    graph = applyPlacements(headed, [{ adapter: toTree(tree, uses), ...rule }], options.registry).graph;
  }
  for (const [key, value] of Object.entries(manifest.extras ?? {})) {
    const handler = options.extras?.[key] as RunExtraHandler;
    graph = await handler({ dir: root, manifest, value, graph, headed, adapterGraphs, store, registry: plugins, ...(runtime ? { runtime } : {}) });
  }
  return { dir: root, manifest, graph, labels };
}

/**
 * The run an adapter folder belongs to (run.json in the folder or its parent, with an adapter saved there): for
 * commands given an adapter folder rather than a run. Undefined when neither holds a run.json.
 */
export async function runOfAdapterDir(adapterDir: string): Promise<{ manifest: RunManifest; dir: string; adapter: RunAdapter; head?: RunHead } | undefined> {
  const abs = resolve(adapterDir);
  for (const root of [abs, resolve(abs, '..')]) {
    if (!(await exists(join(readableRunPath(root), RUN_FILE)))) continue;
    const manifest = await readRunManifest(root);
    const runAdapter = manifest.adapters.find((a) => resolve(root, a.dir) === abs);
    if (!runAdapter) continue;
    const head = manifest.heads.find((h) => resolve(root, h.dir) === abs);
    return { manifest, dir: readableRunPath(root), adapter: runAdapter, ...(head ? { head } : {}) };
  }
  return undefined;
}

/** The manifest of a run with one adapter and its head saved together in `dir` (what `adapters train` writes). */
export function singleAdapterRun(run: { model: string; adapter: string; head: string; dir: string; labels?: readonly string[]; placement?: SavedPlacement; maxLength: number; columns: RunColumns; extras?: Readonly<Record<string, unknown>> }): RunManifest {
  return validateRunManifest({
    format: RUN_FORMAT, model: run.model,
    adapters: [{ name: run.adapter, dir: run.dir, ...(run.placement ? { placement: run.placement } : {}) }],
    heads: [{ name: run.head, dir: run.dir, ...(run.labels ? { labels: [...run.labels] } : {}) }],
    maxLength: run.maxLength, columns: { ...run.columns }, ...(run.extras ? { extras: run.extras } : {}),
  }, RUN_FILE);
}

/**
 * `loadRun`, then the head to predict with (`head`, else the run's only or first head): its logits output and label
 * names (the run's, checked against the head's outputs; else "0", "1", ...).
 */
export async function loadRunHead(dir: string, base: Graph, store: WeightStore, options: LoadRunOptions & { head?: string }): Promise<LoadedRun & { head: string; output: string; headLabels: readonly string[] }> {
  const loaded = await loadRun(dir, base, store, options);
  const file = join(loaded.dir, RUN_FILE);
  const name = options.head ?? loaded.manifest.heads[0]?.name;
  if (name === undefined) fail(file, 'heads', 'lists no head to predict with');
  const spec = graphHeads(loaded.graph).find((h) => h.name === name);
  if (!spec) return fail(file, 'heads', `has no head '${name}' (heads: ${loaded.manifest.heads.map((h) => h.name).join(', ')})`);
  const n = 'numLabels' in spec && typeof spec.numLabels === 'number' ? spec.numLabels : 0;
  const saved = loaded.labels[name as string];
  const at = loaded.manifest.heads.findIndex((h) => h.name === name);
  if (saved && saved.length !== n) throw new ConfigError(`${file}: heads[${at}].labels`, `lists ${saved.length} labels but the head '${name}' has ${n} outputs; the files come from different runs`, 'E_CHECKPOINT_MISMATCH');
  return { ...loaded, head: name as string, output: `${name as string}.logits`, headLabels: saved ?? Array.from({ length: n }, (_v, i) => String(i)) };
}

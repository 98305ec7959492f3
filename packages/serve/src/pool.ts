// The adapters a server holds: loaded by name from one directory into the shared weight store, kept under a memory
// budget (least recently used first out), pinned while a request needs them.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AdapterCatalog, AdapterRegistry, AnyHeadSpec, Graph, HeadRegistry, WeightStore } from '@adapters/core-graph';
import { ADAPTER_CONFIG_FILE, AdapterGraphError, graphHeads, HEAD_CONFIG_FILE, loadAdapter, readJsonObject } from '@adapters/core-graph';
import { checkAdapterName, ServeError } from './errors';

/** What batching needs of a loaded adapter: how to rebuild it in a batch graph, and its head. */
export interface LoadedAdapter {
  readonly name: string;
  readonly plugin: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly mode: string;
  readonly sites: readonly string[];
  /** Adapters with the same placement can share one batch graph (BatchSplit / Parallel need one rule). */
  readonly placementKey: string;
  readonly head: AnyHeadSpec;
  readonly labels: readonly string[];
  /** Weight-store keys of the adapter and its head (removed on unload). */
  readonly keys: readonly string[];
  readonly bytes: number;
  /** Bumped on every load, so cached batch graphs of an earlier load are never reused. */
  readonly generation: number;
}

/** A loaded adapter before the pool numbers it. */
export type ServableAdapter = Omit<LoadedAdapter, 'generation'>;

/** Where adapter weights live: this thread's weight store, or the worker threads' (worker-host.ts). */
export interface AdapterHost {
  /** Loads the adapter saved in `dir` under `name`, with its head; checks it can be served. */
  load(name: string, dir: string): Promise<ServableAdapter>;
  /** Frees its weights. */
  remove(adapter: LoadedAdapter): void;
}

export interface LocalHostOptions {
  readonly baseGraph: Graph;
  readonly store: WeightStore;
  readonly registry: AdapterRegistry;
  readonly heads?: HeadRegistry;
}

export type AdapterPoolOptions = (LocalHostOptions | { readonly host: AdapterHost }) & {
  readonly dir: string;
  /** Bytes of adapter + head weights kept loaded; the least recently used unpinned adapters are unloaded beyond it. */
  readonly memoryBudgetBytes: number;
  readonly onUnload?: (adapter: LoadedAdapter, why: 'unload' | 'eviction') => void;
};

interface Slot {
  readonly adapter: LoadedAdapter;
  lastUsed: number;
  pins: number;
}

export class AdapterPool {
  private readonly slots = new Map<string, Slot>();
  private readonly loading = new Map<string, Promise<LoadedAdapter>>();
  private generation = 0;
  private clock = 0;

  private readonly host: AdapterHost;

  constructor(private readonly options: AdapterPoolOptions) {
    this.host = 'host' in options ? options.host : localHost(options);
  }

  get usedBytes(): number {
    let sum = 0;
    for (const s of this.slots.values()) sum += s.adapter.bytes;
    return sum;
  }

  get budgetBytes(): number {
    return this.options.memoryBudgetBytes;
  }

  loaded(): LoadedAdapter[] {
    return [...this.slots.values()].sort((a, b) => b.lastUsed - a.lastUsed).map((s) => s.adapter);
  }

  find(name: string): LoadedAdapter | undefined {
    return this.slots.get(name)?.adapter;
  }

  /** Adapter folders in the directory (those with adapter_config.json and a plain name). */
  async available(): Promise<string[]> {
    const entries = await readdir(this.options.dir, { withFileTypes: true }).catch(() => []);
    const names: string[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || !/^[A-Za-z0-9_-]{1,64}$/.test(e.name)) continue;
      if (await stat(join(this.options.dir, e.name, ADAPTER_CONFIG_FILE)).then(() => true, () => false)) names.push(e.name);
    }
    return names.sort();
  }

  /** The loaded adapter `name`, loading it from the directory if needed; marks it used. */
  async acquire(name: string): Promise<LoadedAdapter> {
    checkAdapterName(name);
    const slot = this.slots.get(name);
    if (slot) {
      slot.lastUsed = ++this.clock;
      return slot.adapter;
    }
    const pending = this.loading.get(name) ?? this.load(name).finally(() => this.loading.delete(name));
    this.loading.set(name, pending);
    return pending;
  }

  pin(adapters: readonly LoadedAdapter[]): void {
    for (const a of adapters) {
      const s = this.slots.get(a.name);
      if (!s || s.adapter !== a) throw new ServeError('unknown_adapter', `adapter '${a.name}' was unloaded`);
      s.pins += 1;
      s.lastUsed = ++this.clock;
    }
  }

  unpin(adapters: readonly LoadedAdapter[]): void {
    for (const a of adapters) {
      const s = this.slots.get(a.name);
      if (s && s.adapter === a) s.pins = Math.max(0, s.pins - 1);
    }
  }

  /** Frees an adapter's weights; refused while queued or running requests use it. */
  unload(name: string, why: 'unload' | 'eviction' = 'unload'): LoadedAdapter {
    checkAdapterName(name);
    const s = this.slots.get(name);
    if (!s) throw new ServeError('unknown_adapter', `adapter '${name}' is not loaded (loaded: ${[...this.slots.keys()].join(', ') || 'none'})`);
    if (s.pins > 0) throw new ServeError('adapter_in_use', `adapter '${name}' is in use by ${s.pins} queued or running request(s); retry when they finish`);
    this.slots.delete(name);
    this.host.remove(s.adapter);
    this.options.onUnload?.(s.adapter, why);
    return s.adapter;
  }

  /** Frees everything (shutdown). */
  clear(): void {
    for (const s of this.slots.values()) this.host.remove(s.adapter);
    this.slots.clear();
  }

  private async load(name: string): Promise<LoadedAdapter> {
    const dir = join(this.options.dir, name);
    const isAdapter = await stat(join(dir, ADAPTER_CONFIG_FILE)).then((s) => s.isFile(), () => false);
    if (!isAdapter) {
      const known = await this.available();
      throw new ServeError('unknown_adapter', `no adapter '${name}' in the adapters directory (available: ${known.slice(0, 20).join(', ') || 'none'}${known.length > 20 ? ', …' : ''})`);
    }
    const headName = await savedHeadName(dir);
    const owner = [...this.slots.values()].find((s) => s.adapter.head.name === headName);
    if (owner) throw new ServeError('adapter_conflict', `adapter '${name}' has head '${headName}', which adapter '${owner.adapter.name}' already uses; unload it first`);
    const servable = await this.host.load(name, dir);
    const adapter: LoadedAdapter = { ...servable, generation: ++this.generation };
    this.slots.set(name, { adapter, lastUsed: ++this.clock, pins: 0 });
    this.enforceBudget(name);
    return adapter;
  }

  /** Unloads least recently used unpinned adapters until the budget holds; the one just loaded goes last. */
  private enforceBudget(justLoaded: string): void {
    const over = () => this.usedBytes > this.options.memoryBudgetBytes;
    const candidates = [...this.slots.entries()].filter(([n, s]) => n !== justLoaded && s.pins === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [n] of candidates) {
      if (!over()) return;
      this.unload(n, 'eviction');
    }
    if (over()) {
      const bytes = this.slots.get(justLoaded)!.adapter.bytes;
      this.unload(justLoaded, 'eviction');
      throw new ServeError('memory_budget', `adapter '${justLoaded}' (${bytes} bytes) does not fit the memory budget (${this.options.memoryBudgetBytes} bytes; pinned adapters hold ${this.usedBytes})`);
    }
  }
}

/** Adapters loaded into this thread's weight store with core's `loadAdapter` (also what each worker thread runs). */
export function localHost(options: LocalHostOptions): AdapterHost {
  return {
    remove: (a) => options.store.remove(a.keys),
    async load(name, dir) {
      let graph: Graph;
      let head: string | undefined;
      try {
        ({ graph, head } = await loadAdapter(dir, options.baseGraph, options.store, options.registry, { as: name, ...(options.heads ? { heads: options.heads } : {}) }));
      } catch (e) {
        // loadAdapter checks everything before the store changes: nothing to undo, only name the adapter.
        if (e instanceof AdapterGraphError) throw new ServeError('not_servable', `adapter '${name}': ${e.message}`);
        throw e;
      }
      const keys = [...graph.params.values()].filter((p) => p.owner === `adapter:${name}` || (head !== undefined && p.owner === `head:${head}`));
      const cleanup = (message: string): never => {
        options.store.remove(keys.map((p) => p.key).filter((k) => options.store.has(k)));
        throw new ServeError('not_servable', `adapter '${name}': ${message}`);
      };
      const spec = graphHeads(graph).find((h) => h.name === head);
      if (head === undefined || spec === undefined) return cleanup(`has no prediction head (${HEAD_CONFIG_FILE}); save it with its head`);
      if (spec.type !== 'classification') return cleanup(`its head is of type '${spec.type}'; the server classifies texts (classification heads only)`);
      const splices = graph.splices.filter((s) => s.adapters.includes(name));
      const modes = [...new Set(splices.map((s) => s.mode))];
      if (splices.length === 0 || modes.length !== 1 || modes[0] === 'tap') return cleanup(`its placement (${modes.join(', ') || 'no splices'}) cannot be batched: one splice mode other than tap is needed`);
      const entry = (graph.meta['adapters'] as AdapterCatalog)[name]!;
      const numLabels = (spec as { numLabels: number }).numLabels;
      const labels = (await savedLabels(dir)) ?? [];
      const sites = splices.map((s) => s.site);
      return {
        name,
        plugin: entry.plugin,
        config: entry.config,
        mode: modes[0]!,
        sites,
        placementKey: `${modes[0]!}|${sites.join(',')}`,
        head: spec,
        labels: labels.length === numLabels ? labels : Array.from({ length: numLabels }, (_v, i) => String(i)),
        keys: keys.map((p) => p.key),
        bytes: keys.reduce((sum, p) => sum + 4 * p.shape.reduce((a, b) => a * b, 1), 0),
      };
    },
  };
}

/** The head name a saved head will load under (ours: config.name; AdapterHub's: the file's name). */
async function savedHeadName(dir: string): Promise<string | undefined> {
  const saved = await readJsonObject(join(dir, HEAD_CONFIG_FILE)).catch(() => undefined);
  if (!saved) return undefined;
  const config = saved['config'] as Record<string, unknown> | undefined;
  const name = typeof config?.['name'] === 'string' ? config['name'] : saved['name'];
  return typeof name === 'string' ? name : undefined;
}

/** Label names by id from head_config.json's `config.label2id` (AdapterHub's field), when present and well formed. */
async function savedLabels(dir: string): Promise<string[] | undefined> {
  const saved = await readJsonObject(join(dir, HEAD_CONFIG_FILE)).catch(() => undefined);
  const map = (saved?.['config'] as Record<string, unknown> | undefined)?.['label2id'];
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return undefined;
  const labels: string[] = [];
  for (const [label, id] of Object.entries(map as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || labels[id] !== undefined) return undefined;
    labels[id] = label;
  }
  return labels.length === Object.keys(map).length && labels.every((l) => typeof l === 'string') ? labels : undefined;
}

// Batch graphs that do not depend on which adapters fill them. A graph is built once per *shape* of batch: the
// adapters' signatures (plugin, config, placement, head spec) in slot order. Slot i is a stand-in adapter whose
// weights are looked up at run time through a key map onto the real adapter filling it, and the BatchSplit row
// counts are read at run time too. So 64 adapters of one kind need at most one graph per group count (≤ maxBatch),
// built once, instead of one per combination of adapters and row counts.
import * as tf from '@tensorflow/tfjs';
import type { AdapterRegistry, AdapterTree, Executor as ExecutorType, Graph, HeadRegistry, OpDef, OpTable, Runtime, WeightStore } from '@adapters/core-graph';
import { adapter, addHead, applyPlacements, BatchSplit, defaultRuntime, Executor, Parallel } from '@adapters/core-graph';
import { ServeError } from './errors';
import type { LoadedAdapter } from './pool';

/** What a batch graph needs to know of an adapter: equal signatures are interchangeable in a slot. */
export function signatureOf(a: LoadedAdapter): string {
  const { name: _name, ...head } = a.head as unknown as Record<string, unknown>;
  return JSON.stringify([a.plugin, a.config, a.placementKey, head]);
}

export type SlotLayout = 'split' | 'parallel';

/** The current run's filling: row ranges (split) and the real weight key of every slot weight key. */
interface Filling {
  readonly begins: readonly number[];
  readonly sizes: readonly number[];
  readonly total: number;
  readonly keys: ReadonlyMap<string, string>;
}

export interface TemplateDeps {
  readonly baseGraph: Graph;
  readonly store: WeightStore;
  readonly registry: AdapterRegistry;
  readonly heads?: HeadRegistry;
}

const slotName = (i: number): string => `serve_slot_${i}`;

/**
 * One batch graph with k slots. `run` fills the slots with real adapters (same signatures, in order) and, for a
 * split layout, row counts; not re-entrant (forward passes run one at a time).
 */
export class SlotTemplate {
  private filling: Filling | undefined;
  private readonly graph: Graph;
  /** Per slot: the weight keys of its stand-in adapter and head in the template. */
  private readonly slotKeys: ReadonlyArray<readonly string[]>;
  /** Slice node id → slot index (split layout). */
  private readonly slices = new Map<string, number>();
  private executor: ExecutorType | undefined;
  readonly slots: number;

  constructor(private readonly deps: TemplateDeps, readonly layout: SlotLayout, representatives: readonly LoadedAdapter[]) {
    const k = representatives.length;
    this.slots = k;
    const first = representatives[0]!;
    const leaves: AdapterTree[] = representatives.map((a, i) => adapter(a.plugin, slotName(i), a.config));
    // Sizes of 1 make each slice's `begin` its slot index; the real row ranges come from the filling at run time.
    const tree = k === 1 ? leaves[0]! : layout === 'split' ? BatchSplit(leaves.map(() => 1), ...leaves) : Parallel(...leaves);
    let graph = applyPlacements(deps.baseGraph, [{ adapter: tree, select: { names: [...first.sites] }, mode: first.mode as never }], deps.registry).graph;
    representatives.forEach((a, i) => {
      graph = addHead(graph, { ...a.head, name: slotName(i) } as typeof a.head, deps.heads);
    });
    this.graph = graph;
    this.slotKeys = representatives.map((_a, i) => [...graph.params.values()].filter((p) => p.owner === `adapter:${slotName(i)}` || p.owner === `head:${slotName(i)}`).map((p) => p.key));
    if (layout === 'split' && k > 1) {
      for (const node of graph.nodes) {
        if (node.op === 'slice' && node.attrs['total'] === k && !deps.baseGraph.has(node.id)) this.slices.set(node.id, node.attrs['begin'] as number);
      }
      // Every slot must have found its row slices, or rows would silently go through the wrong adapter.
      const covered = new Set(this.slices.values());
      if (representatives.some((_a, i) => !covered.has(i))) throw new ServeError('not_servable', `batch graph of ${k} adapters: the BatchSplit row slices were not found (core's BatchSplit changed?)`);
    }
  }

  /** Logits output of slot i. */
  output(i: number): string {
    return `${slotName(i)}.logits`;
  }

  /**
   * Runs the graph with slot i holding adapters[i] (and rows begins[i] .. begins[i]+sizes[i] for a split).
   * Returns the requested outputs (inside the caller's tidy).
   */
  run(adapters: readonly LoadedAdapter[], sizes: readonly number[], feeds: Record<string, tf.Tensor>, options: { outputs: string[]; skipLayers?: number }): Record<string, tf.Tensor> {
    const keys = new Map<string, string>();
    adapters.forEach((a, i) => this.mapSlot(i, a, keys));
    const begins: number[] = [];
    let total = 0;
    for (const s of sizes) {
      begins.push(total);
      total += s;
    }
    this.filling = { begins, sizes, total, keys };
    try {
      this.executor ??= new Executor(this.graph, this.slotStore(), { runtime: this.runtime() });
      return this.executor.run(feeds, options);
    } finally {
      this.filling = undefined;
    }
  }

  /** Slot i's weight keys → adapter a's: the same keys with the stand-in's name segment replaced by a's (and its head's). */
  private mapSlot(i: number, a: LoadedAdapter, into: Map<string, string>): void {
    const own = new Set(a.keys);
    const renamed = (key: string, to: string) => key.split('.').map((seg) => (seg === slotName(i) ? to : seg)).join('.');
    for (const key of this.slotKeys[i]!) {
      const target = [renamed(key, a.name), renamed(key, a.head.name)].find((k) => own.has(k));
      if (target === undefined) throw new ServeError('not_servable', `adapter '${a.name}': no weight matching batch-graph weight '${key}'`);
      into.set(key, target);
    }
  }

  /** The store seen by the executor: slot keys resolve to the filling adapters' weights, others to the base's. */
  private slotStore(): WeightStore {
    const store = this.deps.store;
    const view = Object.create(store) as WeightStore;
    view.get = (key: string) => store.get(this.filling?.keys.get(key) ?? key);
    view.has = (key: string) => store.has(this.filling?.keys.get(key) ?? key);
    return view;
  }

  /** The graph's runtime with the slot slices reading their row range from the filling. */
  private runtime(): Runtime {
    const base = this.graph.runtime ?? defaultRuntime;
    if (this.slices.size === 0) return base;
    const dynamic = new Map<string, OpDef>();
    for (const [id, slot] of this.slices) dynamic.set(id, this.sliceOp(base.ops.get('slice', id), slot));
    const ops: OpTable = {
      get: (name, nodeId) => (nodeId !== undefined && dynamic.has(nodeId) ? dynamic.get(nodeId)! : base.ops.get(name, nodeId)),
      has: (name) => base.ops.has(name),
      names: () => base.ops.names(),
    };
    return Object.freeze({ ...base, ops });
  }

  private sliceOp(def: OpDef, slot: number): OpDef {
    return {
      ...def,
      run: ([x]) => {
        const f = this.filling!;
        const xs = x as tf.Tensor;
        if (xs.shape[0] !== f.total) throw new ServeError('bad_request', `batch of ${xs.shape[0]} rows, but the slots hold ${f.total}`);
        // A gather, not tf.slice: wasm's slice reads the whole input back into JS for every slot (k full copies).
        const begin = f.begins[slot]!;
        return tf.gather(xs, tf.range(begin, begin + f.sizes[slot]!, 1, 'int32'), 0);
      },
    };
  }
}

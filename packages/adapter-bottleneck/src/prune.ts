// Pruning (AdapterDrop, Rücklé et al. 2021): remove a trained adapter from some layers for good.
import type { AdapterCatalog, GraphNode, Site, WeightStore } from '@adapters/core-graph';
import { Graph, numLayersOf, PlacementError } from '@adapters/core-graph';

export interface PruneResult {
  readonly graph: Graph;
  /** Weight keys removed from the graph and the store. */
  readonly removedParams: readonly string[];
  /** Layers whose splices were removed. */
  readonly prunedLayers: readonly number[];
}

/**
 * Removes adapter `adapterName` from the given layers (negative indices count from the end): every splice
 * of it in those layers is bypassed for good (its `switch` readers read the bypass), the nodes only those
 * splices used are dropped, and their weights leave the graph and the store. The result computes what the
 * same rules with those layers in `leave_out` compute, with the trained weights of the remaining layers.
 * A splice that composes `adapterName` with other adapters (Stack, Fuse, ...) cannot be pruned alone.
 * The input graph is not changed, but its executors can no longer run: the store lost the pruned weights.
 */
export function pruneAdapterLayers(graph: Graph, store: WeightStore, adapterName: string, layers: readonly number[]): Graph {
  return pruneAdapterLayersDetailed(graph, store, adapterName, layers).graph;
}

/** pruneAdapterLayers, also reporting what it removed. */
export function pruneAdapterLayersDetailed(graph: Graph, store: WeightStore, adapterName: string, layers: readonly number[]): PruneResult {
  const L = numLayersOf(graph);
  const wanted = new Set<number>();
  for (const l of layers) {
    if (!Number.isInteger(l) || l >= L || l < -L) throw new PlacementError(`cannot prune layer ${l}: the model has layers 0..${L - 1}`);
    wanted.add(l < 0 ? l + L : l);
  }
  const mine = graph.splices.filter((s) => s.adapters.includes(adapterName));
  if (mine.length === 0) throw new PlacementError(`adapter '${adapterName}' has no splice in the graph`);
  const targets = mine.filter((s) => s.layer !== undefined && wanted.has(s.layer));
  for (const s of targets) {
    if (s.adapters.length > 1) throw new PlacementError(`cannot prune '${adapterName}' alone at '${s.site}': the splice composes ${s.composition}`);
  }
  // Each removed switch forwards to its bypass (input 1); follow chains of removed switches.
  const bypass = new Map(targets.map((s) => [s.switchNode, graph.node(s.switchNode).inputs[1] as string]));
  const resolve = (id: string): string => {
    let cur = id;
    while (bypass.has(cur)) cur = bypass.get(cur) as string;
    return cur;
  };
  const rewired: GraphNode[] = graph.nodes.filter((n) => !bypass.has(n.id)).map((n) => (n.inputs.some((i) => bypass.has(i)) ? { ...n, inputs: n.inputs.map(resolve) } : n));
  const outputs = Object.fromEntries(Object.entries(graph.outputs).map(([k, id]) => [k, resolve(id)]));
  const sites = new Map<string, Site>([...graph.sites].map(([k, s]) => [k, bypass.has(s.entry) || bypass.has(s.exit) ? { ...s, entry: resolve(s.entry), exit: resolve(s.exit) } : s]));

  // Drop exactly the nodes that were reachable from the outputs and no longer are.
  const before = reachable(graph.nodes, Object.values(graph.outputs));
  const after = reachable(rewired, Object.values(outputs));
  const kept = rewired.filter((n) => after.has(n.id) || !before.has(n.id) || n.op === 'input');
  const keptIds = new Set(kept.map((n) => n.id));
  for (const s of sites.values()) {
    for (const id of [s.entry, s.exit, s.residual?.add, s.residual?.norm]) {
      if (id !== undefined && !keptIds.has(id)) throw new PlacementError(`pruning would remove node '${id}' that site '${s.name}' needs`);
    }
  }

  const usedBefore = new Set(graph.nodes.flatMap((n) => Object.values(n.params)));
  const usedAfter = new Set(kept.flatMap((n) => Object.values(n.params)));
  const removedParams = [...graph.params.keys()].filter((k) => usedBefore.has(k) && !usedAfter.has(k));
  const gone = new Set(removedParams);
  const params = new Map([...graph.params].filter(([k]) => !gone.has(k)));

  const splices = graph.splices.filter((s) => !bypass.has(s.switchNode));
  const prunedLayers = [...new Set(targets.map((s) => s.layer as number))].sort((a, b) => a - b);
  const meta: Record<string, unknown> = { ...graph.meta };
  const catalog = graph.meta.adapters;
  const entry = catalog?.[adapterName];
  if (catalog && entry) {
    const next: Record<string, AdapterCatalog[string]> = { ...catalog };
    if (!splices.some((s) => s.adapters.includes(adapterName))) delete next[adapterName];
    else if (entry.plugin === 'bottleneck' && Array.isArray(entry.config['leave_out'])) {
      // Keep the catalog truthful: the pruned adapter is the same config with those layers left out.
      const leaveOut = [...new Set([...(entry.config['leave_out'] as number[]), ...prunedLayers])].sort((a, b) => a - b);
      next[adapterName] = { plugin: entry.plugin, config: { ...entry.config, leave_out: leaveOut } };
    }
    meta['adapters'] = next;
  }
  const pruned = new Graph({ nodes: kept, params, sites, inputs: graph.inputs, outputs, splices, meta, ...(graph.runtime ? { runtime: graph.runtime } : {}) });
  store.remove(removedParams);
  return { graph: pruned, removedParams, prunedLayers };
}

function reachable(nodes: readonly GraphNode[], roots: readonly string[]): Set<string> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const i of byId.get(id)?.inputs ?? []) stack.push(i);
  }
  return seen;
}

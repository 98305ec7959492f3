// Common-subexpression elimination, a Graph → Graph pass: a pure node computing exactly what an earlier node
// computes (same op, same inputs after merging, same attrs, same parameter keys) is removed and its readers read
// the earlier node. Fusing N adapters builds N copies of the same pre-forward (residual add + the base LayerNorm,
// shared weights); keeping one saves the compute and the activations a backward pass keeps.
import { Graph } from '../graph/graph';
import type { GraphNode, Site } from '../graph/types';
import { opRegistry } from '../ops/registry';
import type { OpTable } from '../ops/registry';

/**
 * Node id → the earlier node with the same value, for every node `cse` removes. Only ops whose definition says
 * `pure` are merged (random, stateful and switch nodes never are). Nodes are visited in topological order.
 */
export function cseAliases(graph: Graph, ops: OpTable = graph.runtime?.ops ?? opRegistry): Map<string, string> {
  const alias = new Map<string, string>();
  const seen = new Map<string, string>();
  for (const node of graph.nodes) {
    if (!ops.has(node.op) || ops.get(node.op).pure !== true) continue;
    const inputs = node.inputs.map((i) => alias.get(i) ?? i);
    const params = Object.entries(node.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = `${node.op}\u0000${inputs.join(',')}\u0000${JSON.stringify(node.attrs)}\u0000${JSON.stringify(params)}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, node.id);
    else alias.set(node.id, first);
  }
  return alias;
}

/** The graph without the nodes `cseAliases` finds: readers, outputs and site boundaries point at the survivor. */
export function cse(graph: Graph, ops: OpTable = graph.runtime?.ops ?? opRegistry): Graph {
  return withoutAliases(graph, cseAliases(graph, ops));
}

/** Removes every aliased node, redirecting what referred to it (an alias target is never itself aliased). */
export function withoutAliases(graph: Graph, alias: ReadonlyMap<string, string>): Graph {
  if (alias.size === 0) return graph;
  const to = (id: string): string => alias.get(id) ?? id;
  const nodes = graph.nodes
    .filter((n) => !alias.has(n.id))
    .map((n): GraphNode => (n.inputs.some((i) => alias.has(i)) ? { ...n, inputs: n.inputs.map(to) } : n));
  const sites = new Map<string, Site>();
  for (const [name, s] of graph.sites) {
    sites.set(name, { ...s, entry: to(s.entry), exit: to(s.exit), ...(s.residual ? { residual: { add: to(s.residual.add), norm: to(s.residual.norm) } } : {}) });
  }
  const outputs = Object.fromEntries(Object.entries(graph.outputs).map(([name, id]) => [name, to(id)]));
  return new Graph({ nodes, params: graph.params, sites, inputs: graph.inputs, outputs, splices: graph.splices, meta: graph.meta, ...(graph.runtime ? { runtime: graph.runtime } : {}) });
}

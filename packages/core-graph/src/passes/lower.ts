// Lowering, a Graph → Graph pass: registered lowerings (pattern → replacement) put fused ops where their pattern
// occurs, as torch.fx's subgraph rewriter does. The replacement keeps the matched root's id and type, so readers,
// outputs and switches are untouched; matched inner nodes that nothing else reads disappear.
import { PluginDefinitionError } from '../errors';
import { Graph } from '../graph/graph';
import type { Attrs, GraphNode } from '../graph/types';
import type { OpDef } from '../ops/op-def';

/** What a lowering sees of the graph being lowered (its current state, earlier replacements included). */
export interface LoweringContext {
  node(id: string): GraphNode;
  /**
   * Read by exactly one input edge and not kept (a graph input or output, or a node the caller needs the value
   * of): a node a replacement may compute inside itself without anyone missing it.
   */
  singleReader(id: string): boolean;
  /** The nodes reading `id`, one entry per input edge, in topological order. */
  readers(id: string): readonly string[];
  /** A graph input or output, or a node the caller asked to keep. */
  kept(id: string): boolean;
}

/** The node that takes the root's place (same id, same type). */
export interface Replacement {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly attrs: Attrs;
  readonly params: Readonly<Record<string, string>>;
  /** Nodes the replacement computes itself; each is removed once nothing reads it any more. */
  readonly absorbed: readonly string[];
}

/** A pattern rooted at a node of op `root`, and the op that replaces it. */
export interface Lowering {
  readonly name: string;
  readonly root: string;
  /** When several lowerings match one root, the highest benefit wins (then the name): larger patterns first. */
  readonly benefit: number;
  /** The ops its replacements use that core lacks: a runtime with the lowering has them. */
  readonly ops?: readonly OpDef[];
  match(root: GraphNode, ctx: LoweringContext): Replacement | undefined;
}

export function defineLowering(lowering: Lowering): Lowering {
  if (!/^[A-Za-z0-9_.:/@-]+$/.test(lowering.name)) throw new PluginDefinitionError(`lowering '${lowering.name}'`, 'a lowering name may use only letters, digits and _.:/@-');
  if (!Number.isFinite(lowering.benefit)) throw new PluginDefinitionError(`lowering '${lowering.name}'`, 'benefit must be a finite number');
  return lowering;
}

export interface LowerOptions {
  /** Nodes whose values the caller needs (requested intermediates, fed constants): never absorbed. */
  readonly keep?: Iterable<string>;
}

/**
 * Applies the lowerings until none matches (so lower(lower(g)) = lower(g)). Each round visits nodes from the
 * outputs back (consumers first, as on-demand evaluation meets them), so a large pattern claims its root before
 * a smaller one inside it does. Deterministic: same graph and lowerings, same result.
 */
export function lower(graph: Graph, lowerings: readonly Lowering[], options: LowerOptions = {}): Graph {
  if (lowerings.length === 0) return graph;
  const byRoot = new Map<string, Lowering[]>();
  for (const l of lowerings) byRoot.set(l.root, [...(byRoot.get(l.root) ?? []), l]);
  for (const list of byRoot.values()) list.sort((a, b) => b.benefit - a.benefit || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const keep = new Set<string>([...(options.keep ?? []), ...Object.values(graph.outputs), ...graph.inputs.map((i) => i.node)]);
  let current = graph;
  for (;;) {
    const next = lowerOnce(current, byRoot, keep);
    if (next === current) return current;
    current = next;
  }
}

function lowerOnce(graph: Graph, byRoot: ReadonlyMap<string, readonly Lowering[]>, keep: ReadonlySet<string>): Graph {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  const readers = new Map<string, string[]>();
  for (const n of graph.nodes) for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n.id]);
  const ctx: LoweringContext = {
    node: (id) => nodes.get(id) ?? graph.node(id),
    readers: (id) => readers.get(id) ?? [],
    kept: (id) => keep.has(id),
    singleReader: (id) => nodes.has(id) && !keep.has(id) && (readers.get(id) ?? []).length === 1,
  };
  const unread = (from: string, id: string): void => {
    const list = readers.get(from) ?? [];
    list.splice(list.indexOf(id), 1);
  };
  let changed = false;
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = nodes.get((graph.nodes[k] as GraphNode).id);
    if (!node) continue;
    for (const lowering of byRoot.get(node.op) ?? []) {
      const r = lowering.match(node, ctx);
      if (!r) continue;
      if (r.op === lowering.root) throw new PluginDefinitionError(`lowering '${lowering.name}'`, `replaces a '${r.op}' node with another '${r.op}' (it would never stop)`);
      changed = true;
      for (const i of node.inputs) unread(i, node.id);
      for (const i of r.inputs) readers.set(i, [...(readers.get(i) ?? []), node.id]);
      nodes.set(node.id, { id: node.id, op: r.op, inputs: [...r.inputs], attrs: r.attrs, params: r.params, type: node.type });
      // Drop absorbed nodes nothing reads any more; removing one may free another absorbed node it read.
      const pending = new Set(r.absorbed);
      for (let progress = true; progress; ) {
        progress = false;
        for (const id of pending) {
          const n = nodes.get(id);
          if (n && !keep.has(id) && (readers.get(id) ?? []).length === 0) {
            for (const i of n.inputs) unread(i, id);
            nodes.delete(id);
            pending.delete(id);
            progress = true;
          }
        }
      }
      break;
    }
  }
  if (!changed) return graph;
  const ordered = graph.nodes.flatMap((n) => nodes.get(n.id) ?? []);
  return new Graph({ nodes: ordered, params: graph.params, sites: graph.sites, inputs: graph.inputs, outputs: graph.outputs, splices: graph.splices, meta: graph.meta, ...(graph.runtime ? { runtime: graph.runtime } : {}) });
}

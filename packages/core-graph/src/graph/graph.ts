import { GraphError } from '../errors';
import { describeGraph } from './describe';
import type { Runtime } from '../runtime/runtime';
import type { GraphMeta } from './meta';
import type { GraphInput, GraphNode, ParamSpec, Site } from './types';

/** What a rewrite recorded about one adapter splice, used by inspect and by run-time switches (AdapterDrop). */
export interface SpliceRecord {
  readonly site: string;
  readonly layer?: number;
  readonly mode: string;
  /** Adapter names in the composition, in order. */
  readonly adapters: readonly string[];
  /** Human-readable composition, e.g. `Stack(lang, task)`. */
  readonly composition: string;
  /** The `switch` node that selects adapted vs. bypass output at run time. */
  readonly switchNode: string;
}

export interface GraphParts {
  readonly nodes: readonly GraphNode[];
  readonly params: ReadonlyMap<string, ParamSpec>;
  readonly sites: ReadonlyMap<string, Site>;
  readonly inputs: readonly GraphInput[];
  readonly outputs: Readonly<Record<string, string>>;
  readonly splices: readonly SpliceRecord[];
  readonly meta: Readonly<Record<string, unknown>>;
  /** The runtime the graph was built with (see Graph.runtime). */
  readonly runtime?: Runtime;
}

/**
 * An immutable tensor graph: nodes in topological order, a parameter table, named sites and outputs.
 * Rewrites never mutate a graph; they build a new one (see GraphBuilder.from).
 */
export class Graph {
  readonly nodes: readonly GraphNode[];
  readonly params: ReadonlyMap<string, ParamSpec>;
  readonly sites: ReadonlyMap<string, Site>;
  readonly inputs: readonly GraphInput[];
  readonly outputs: Readonly<Record<string, string>>;
  readonly splices: readonly SpliceRecord[];
  /** Facts about the model (architecture config, prefix for checkpoint keys, ...): typed by GraphMeta. */
  readonly meta: Readonly<GraphMeta>;
  /**
   * The runtime a rewrite built this graph with (its ops, blocks, plugins and lowerings): what an Executor given
   * no runtime runs it with. Not part of the graph's value (fingerprint, equality); undefined for graphs built
   * from core alone, which run with the default runtime.
   */
  declare readonly runtime: Runtime | undefined;
  private readonly byId: ReadonlyMap<string, GraphNode>;
  private consumerIndex: Map<string, string[]> | undefined;

  constructor(parts: GraphParts) {
    this.nodes = Object.freeze([...parts.nodes]);
    this.params = new Map(parts.params);
    this.sites = new Map(parts.sites);
    this.inputs = Object.freeze([...parts.inputs]);
    this.outputs = Object.freeze({ ...parts.outputs });
    this.splices = Object.freeze([...parts.splices]);
    this.meta = Object.freeze({ ...parts.meta });
    this.byId = new Map(this.nodes.map((n) => [n.id, n]));
    Object.defineProperty(this, 'runtime', { value: parts.runtime, enumerable: false });
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  node(id: string): GraphNode {
    const n = this.byId.get(id);
    if (!n) throw new GraphError(`no node '${id}' in the graph`);
    return n;
  }

  site(name: string): Site {
    const s = this.sites.get(name);
    if (!s) {
      const known = [...this.sites.keys()].slice(0, 8).join(', ');
      throw new GraphError(`no site '${name}' in the graph (sites include: ${known}, ...)`);
    }
    return s;
  }

  param(key: string): ParamSpec {
    const p = this.params.get(key);
    if (!p) throw new GraphError(`no parameter '${key}' in the graph`);
    return p;
  }

  /** Ids of the nodes that read `id`, in topological order. */
  consumers(id: string): readonly string[] {
    if (!this.consumerIndex) {
      const index = new Map<string, string[]>();
      for (const n of this.nodes) {
        for (const i of n.inputs) {
          const list = index.get(i) ?? [];
          if (!list.includes(n.id)) list.push(n.id);
          index.set(i, list);
        }
      }
      this.consumerIndex = index;
    }
    return this.consumerIndex.get(id) ?? [];
  }

  /** Nodes strictly after `entry` and up to and including `exit`: what a span covers. */
  spanNodes(site: Site): readonly string[] {
    const descendants = new Set<string>();
    const stack = [site.entry];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      for (const c of this.consumers(id)) {
        if (!descendants.has(c)) {
          descendants.add(c);
          stack.push(c);
        }
      }
    }
    const ancestors = new Set<string>([site.exit]);
    const back = [site.exit];
    while (back.length > 0) {
      const n = this.node(back.pop() as string);
      for (const i of n.inputs) {
        if (!ancestors.has(i) && i !== site.entry) {
          ancestors.add(i);
          back.push(i);
        }
      }
    }
    return this.nodes.filter((n) => descendants.has(n.id) && ancestors.has(n.id)).map((n) => n.id);
  }

  /** Parameter keys actually read by some node. */
  usedParams(): Set<string> {
    const used = new Set<string>();
    for (const n of this.nodes) for (const k of Object.values(n.params)) used.add(k);
    return used;
  }

  /** A canonical text form: equal graphs give equal fingerprints (used to test determinism). */
  fingerprint(): string {
    return stableStringify({
      nodes: this.nodes,
      params: [...this.params.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      sites: [...this.sites.values()],
      inputs: this.inputs,
      outputs: this.outputs,
      splices: [...this.splices].sort((a, b) => (a.switchNode < b.switchNode ? -1 : 1)),
      meta: this.meta,
    });
  }

  /** The printable IR (see describeGraph). */
  toString(): string {
    return describeGraph(this);
  }

  equals(other: Graph): boolean {
    return this.fingerprint() === other.fingerprint();
  }
}

/** JSON with object keys sorted at every depth. */
function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

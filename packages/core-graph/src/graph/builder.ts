import { GraphError } from '../errors';
import type { Activation } from '../ops/activation';
import type { OpTable } from '../ops/registry';
import { opRegistry } from '../ops/registry';
import type { Runtime } from '../runtime/runtime';
import type { GraphParts, SpliceRecord } from './graph';
import type { GraphMeta } from './meta';
import { Graph } from './graph';
import type { Attrs, Dim, DType, GraphInput, GraphNode, Init, ParamKind, ParamSpec, Site, TensorType } from './types';

/** A parameter declared by a node; its key becomes `${nodeId}.${local}`. */
export interface ParamDecl {
  readonly shape: readonly number[];
  readonly init: Init;
  readonly kind: ParamKind;
  readonly dtype?: DType;
}

/** A node's parameter: a new declaration, or `{ ref: key }` to read an existing (shared or tied) one. */
export type ParamArg = ParamDecl | { readonly ref: string };

export interface NodeOptions {
  readonly attrs?: Attrs;
  readonly params?: Readonly<Record<string, ParamArg>>;
}

/**
 * Mutable construction of a Graph: shape inference runs as each node is added, so a mismatch is
 * reported at the node that causes it. `build()` freezes the result in topological order.
 */
export class GraphBuilder {
  private readonly nodes = new Map<string, GraphNode>();
  private readonly params = new Map<string, ParamSpec>();
  private readonly sites = new Map<string, Site>();
  private readonly inputs: GraphInput[] = [];
  private readonly outputs: Record<string, string> = {};
  private readonly splices: SpliceRecord[] = [];
  private meta: Record<string, unknown>;
  /** Owner and layer applied to parameters declared while building (see `scope`). */
  private owner = 'base';
  /** For rewrites: source-graph order; nodes added later are ordered by id, so rule order can't change the result. */
  private sourceRank: Map<string, number> | undefined;
  private layer: number | undefined;

  private readonly ops: OpTable;

  /** `runtime`: whose ops type the nodes (the default runtime's otherwise); the built graph remembers it. */
  constructor(meta: Record<string, unknown> = {}, private readonly runtime?: Runtime) {
    this.meta = { ...meta };
    this.ops = runtime?.ops ?? opRegistry;
  }

  /** Starts a rewrite from an existing graph (with its runtime unless given one); the graph itself is never changed. */
  static from(graph: Graph, runtime: Runtime | undefined = graph.runtime): GraphBuilder {
    const b = new GraphBuilder({ ...graph.meta }, runtime);
    for (const n of graph.nodes) b.nodes.set(n.id, n);
    b.sourceRank = new Map(graph.nodes.map((n, i) => [n.id, i]));
    for (const [k, p] of graph.params) b.params.set(k, p);
    for (const [k, s] of graph.sites) b.sites.set(k, s);
    b.inputs.push(...graph.inputs);
    Object.assign(b.outputs, graph.outputs);
    b.splices.push(...graph.splices);
    return b;
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  paramKeys(): Set<string> {
    return new Set(this.params.keys());
  }

  getMeta<K extends keyof GraphMeta & string>(key: K): GraphMeta[K] {
    return this.meta[key] as GraphMeta[K];
  }

  spliceList(): readonly SpliceRecord[] {
    return this.splices;
  }

  nodeIds(): Set<string> {
    return new Set(this.nodes.keys());
  }

  siteList(): Site[] {
    return [...this.sites.values()];
  }

  /** Points sites whose entry or exit is `from` at `to` (their residual nodes are kept as bypasses). */
  retargetSites(from: string, to: string): void {
    for (const [name, s] of this.sites) {
      if (s.entry !== from && s.exit !== from) continue;
      this.sites.set(name, { ...s, entry: s.entry === from ? to : s.entry, exit: s.exit === from ? to : s.exit });
    }
  }

  node(id: string): GraphNode {
    const n = this.nodes.get(id);
    if (!n) throw new GraphError(`no node '${id}' in the graph`);
    return n;
  }

  typeOf(id: string): TensorType {
    return this.node(id).type;
  }

  param(key: string): ParamSpec {
    const p = this.params.get(key);
    if (!p) throw new GraphError(`no parameter '${key}' in the graph`);
    return p;
  }

  getSite(name: string): Site {
    const s = this.sites.get(name);
    if (!s) throw new GraphError(`no site '${name}' in the graph`);
    return s;
  }

  setMeta<K extends keyof GraphMeta & string>(key: K, value: GraphMeta[K]): void {
    this.meta = { ...this.meta, [key]: value };
  }

  /** Runs `fn` with parameters owned by `owner` (and tagged with `layer`), then restores the previous owner. */
  withOwner<T>(owner: string, layer: number | undefined, fn: () => T): T {
    const [prevOwner, prevLayer] = [this.owner, this.layer];
    this.owner = owner;
    this.layer = layer;
    try {
      return fn();
    } finally {
      this.owner = prevOwner;
      this.layer = prevLayer;
    }
  }

  /** Declares a graph input; `fill` lets callers omit it (filled with ones or zeros shaped like the first input). */
  input(name: string, shape: readonly Dim[], dtype: DType, fill?: 'ones' | 'zeros'): string {
    if (this.inputs.some((i) => i.name === name)) throw new GraphError(`input '${name}' is declared twice`);
    const attrs = { name, shape: [...shape], dtype, ...(fill ? { fill } : {}) };
    const id = this.add('input', `inputs.${name}`, [], { attrs });
    this.inputs.push({ name, node: id });
    return id;
  }

  /** Adds a node, inferring its type; throws naming the node when inputs, params or shapes don't fit. */
  add(op: string, id: string, inputs: readonly string[], options: NodeOptions = {}): string {
    if (this.nodes.has(id)) throw new GraphError(`node '${id}' already exists`);
    const def = this.ops.get(op, id);
    const [min, max] = typeof def.arity === 'number' ? [def.arity, def.arity] : def.arity;
    if (inputs.length < min || inputs.length > max) {
      throw new GraphError(`node '${id}': op '${op}' takes ${min === max ? min : `${min}..${max}`} inputs, got ${inputs.length}`);
    }
    const inputTypes = inputs.map((i) => {
      const n = this.nodes.get(i);
      if (!n) throw new GraphError(`node '${id}': input '${i}' does not exist`);
      return n.type;
    });
    const paramKeys: Record<string, string> = {};
    const specs: Record<string, ParamSpec> = {};
    for (const [local, arg] of Object.entries(options.params ?? {})) {
      const spec = 'ref' in arg ? this.param(arg.ref) : this.declareParam(`${id}.${local}`, arg);
      paramKeys[local] = spec.key;
      specs[local] = spec;
    }
    for (const required of def.params ?? []) {
      if (!(required in paramKeys)) throw new GraphError(`node '${id}': op '${op}' needs parameter '${required}'`);
    }
    const attrs = options.attrs ?? {};
    const type = def.inferType({ nodeId: id, inputs: inputTypes, inputIds: inputs, attrs, params: specs });
    this.nodes.set(id, { id, op, inputs: [...inputs], attrs, params: paramKeys, type });
    return id;
  }

  private declareParam(key: string, decl: ParamDecl): ParamSpec {
    if (this.params.has(key)) throw new GraphError(`parameter '${key}' is declared twice`);
    if (decl.shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new GraphError(`parameter '${key}': shape [${decl.shape.join(', ')}] must be positive integers`);
    }
    const spec: ParamSpec = {
      key,
      shape: [...decl.shape],
      dtype: decl.dtype ?? 'float32',
      init: decl.init,
      owner: this.owner,
      kind: decl.kind,
      ...(this.layer === undefined ? {} : { layer: this.layer }),
    };
    this.params.set(key, spec);
    return spec;
  }

  /** Declares a parameter not tied to a node (e.g. Compacter's shared rule matrices), read through `{ ref }`. */
  sharedParam(key: string, decl: ParamDecl): string {
    const existing = this.params.get(key);
    if (existing) {
      if (existing.shape.join() !== decl.shape.join()) {
        throw new GraphError(`shared parameter '${key}' exists with shape [${existing.shape.join(', ')}], asked for [${decl.shape.join(', ')}]`);
      }
      return key;
    }
    return this.declareParam(key, decl).key;
  }

  site(site: Site): void {
    for (const id of [site.entry, site.exit, site.residual?.add, site.residual?.norm]) {
      if (id !== undefined && !this.nodes.has(id)) throw new GraphError(`site '${site.name}': node '${id}' does not exist`);
    }
    this.sites.set(site.name, site);
  }

  output(name: string, id: string): void {
    this.node(id);
    this.outputs[name] = id;
  }

  recordSplice(record: SpliceRecord): void {
    this.splices.push(record);
  }

  /** Points every reader of `from` (and any output naming it) at `to`, except the nodes in `except`. */
  rewire(from: string, to: string, except: ReadonlySet<string> = new Set()): void {
    for (const [id, n] of this.nodes) {
      if (except.has(id) || id === to || !n.inputs.includes(from)) continue;
      this.nodes.set(id, { ...n, inputs: n.inputs.map((i) => (i === from ? to : i)) });
    }
    for (const [name, id] of Object.entries(this.outputs)) if (id === from) this.outputs[name] = to;
  }

  /** Re-points only the listed readers of `from` at `to`. */
  rewireOnly(from: string, to: string, readers: Iterable<string>): void {
    for (const id of readers) {
      const n = this.node(id);
      this.nodes.set(id, { ...n, inputs: n.inputs.map((i) => (i === from ? to : i)) });
    }
  }

  /** A helper that names nodes `${prefix}.${local}` and owns their parameters; what plugins build with. */
  scope(prefix: string, owner: string, layer?: number): Scope {
    return new Scope(this, prefix, owner, layer);
  }

  build(): Graph {
    const parts: GraphParts = {
      nodes: topologicalOrder(this.nodes, this.sourceRank),
      params: this.params,
      sites: this.sites,
      inputs: this.inputs,
      outputs: this.outputs,
      splices: this.splices,
      meta: this.meta,
      ...(this.runtime ? { runtime: this.runtime } : {}),
    };
    return new Graph(parts);
  }
}

/**
 * Kahn's algorithm. Ties break by insertion order, or for rewrites by source order with new nodes
 * after (by id), so equal constructions give equal graphs whatever order rules were applied in.
 */
function topologicalOrder(nodes: ReadonlyMap<string, GraphNode>, sourceRank?: ReadonlyMap<string, number>): GraphNode[] {
  let order = [...nodes.keys()];
  if (sourceRank) {
    const added = order.filter((id) => !sourceRank.has(id)).sort();
    order = [...order.filter((id) => sourceRank.has(id)).sort((a, b) => (sourceRank.get(a) as number) - (sourceRank.get(b) as number)), ...added];
  }
  const rank = new Map(order.map((id, i) => [id, i]));
  const pending = new Map<string, number>();
  const readers = new Map<string, string[]>();
  for (const n of nodes.values()) {
    const deps = new Set(n.inputs);
    pending.set(n.id, deps.size);
    for (const d of deps) {
      if (!nodes.has(d)) throw new GraphError(`node '${n.id}' reads '${d}', which does not exist`);
      readers.set(d, [...(readers.get(d) ?? []), n.id]);
    }
  }
  const ready = order.filter((id) => pending.get(id) === 0);
  const out: GraphNode[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => (rank.get(a) as number) - (rank.get(b) as number));
    const id = ready.shift() as string;
    out.push(nodes.get(id) as GraphNode);
    for (const r of readers.get(id) ?? []) {
      const left = (pending.get(r) as number) - 1;
      pending.set(r, left);
      if (left === 0) ready.push(r);
    }
  }
  if (out.length !== nodes.size) {
    const stuck = order.filter((id) => (pending.get(id) as number) > 0).slice(0, 5);
    throw new GraphError(`the graph has a cycle through: ${stuck.join(', ')}`);
  }
  return out;
}

export interface DenseOptions {
  readonly bias?: boolean;
  readonly init?: Init;
  readonly biasInit?: Init;
  /** Read an existing weight instead of declaring one. */
  readonly weightRef?: string;
  readonly transposeWeight?: boolean;
}

/** Names nodes under a prefix and owns their parameters; every plugin builds through one of these. */
export class Scope {
  constructor(
    readonly builder: GraphBuilder,
    readonly prefix: string,
    readonly owner: string,
    readonly layer?: number,
  ) {}

  id(local: string): string {
    return `${this.prefix}.${local}`;
  }

  typeOf(id: string): TensorType {
    return this.builder.typeOf(id);
  }

  /** Size of the last dim of a node's output (the feature width). */
  width(id: string): number {
    const d = this.typeOf(id).shape.at(-1);
    if (typeof d !== 'number') throw new GraphError(`node '${id}' has no fixed feature width`);
    return d;
  }

  op(op: string, local: string, inputs: readonly string[], options: NodeOptions = {}): string {
    return this.builder.withOwner(this.owner, this.layer, () => this.builder.add(op, this.id(local), inputs, options));
  }

  dense(local: string, x: string, out: number, options: DenseOptions = {}): string {
    const inDim = this.width(x);
    const weight: ParamArg = options.weightRef
      ? { ref: options.weightRef }
      : { shape: [inDim, out], init: options.init ?? { kind: 'normal', std: 0.02 }, kind: 'kernel' };
    const params: Record<string, ParamArg> = { weight };
    if (options.bias !== false) params['bias'] = { shape: [out], init: options.biasInit ?? { kind: 'zeros' }, kind: 'bias' };
    const attrs = options.transposeWeight ? { transposeWeight: true } : {};
    return this.op('dense', local, [x], { params, attrs });
  }

  layerNorm(local: string, x: string, eps: number, refs?: { weight: string; bias: string }): string {
    const width = this.width(x);
    const params: Record<string, ParamArg> = refs
      ? { weight: { ref: refs.weight }, bias: { ref: refs.bias } }
      : { weight: { shape: [width], init: { kind: 'ones' }, kind: 'norm' }, bias: { shape: [width], init: { kind: 'zeros' }, kind: 'norm' } };
    return this.op('layerNorm', local, [x], { params, attrs: { eps } });
  }

  /** Declares (or reuses) a model-level parameter owned by this scope's owner, e.g. shared rule matrices. */
  sharedParam(key: string, decl: ParamDecl): string {
    return this.builder.withOwner(this.owner, undefined, () => this.builder.sharedParam(key, decl));
  }

  act(activation: Activation, local: string, x: string): string {
    return this.op(activation, local, [x]);
  }

  add(local: string, a: string, b: string): string {
    return this.op('add', local, [a, b]);
  }

  dropout(local: string, x: string, rate: number): string {
    return this.op('dropout', local, [x], { attrs: { rate } });
  }
}

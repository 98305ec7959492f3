import * as tf from '@tensorflow/tfjs';
import { requireBackend } from '../backend/ensure-backend';
import { GraphError } from '../errors';
import type { Graph, SpliceRecord } from '../graph/graph';
import type { GraphNode } from '../graph/types';
import type { RunContext } from '../ops/op-def';
import { cseAliases, withoutAliases } from '../passes/cse';
import { lower } from '../passes/lower';
import type { Runtime } from '../runtime/runtime';
import { defaultRuntime } from '../runtime/runtime';
import { hashSeed } from './random';
import type { WeightStore } from './weights';

export type Feeds = Readonly<Record<string, tf.Tensor | number[][] | number[]>>;

export interface RunOptions {
  /** Output names to compute; all graph outputs by default. */
  readonly outputs?: readonly string[];
  /** Enables dropout. */
  readonly training?: boolean;
  /** Seed for dropout masks; each node's masks derive from (seed, node id), so they don't depend on evaluation order. */
  readonly seed?: number;
  /** AdapterDrop: bypass every adapter splice in layers below n (a number) or in the listed layers. */
  readonly skipLayers?: number | readonly number[];
  /** Bypass splices whose composition contains any of these adapters. */
  readonly skipAdapters?: readonly string[];
  /** Precomputed node values (e.g. frozen lower layers computed outside the gradient tape). */
  readonly constants?: ReadonlyMap<string, tf.Tensor>;
  /** Also return these nodes' values, keyed by node id (e.g. a layer boundary to cache). */
  readonly nodes?: readonly string[];
}

interface Release {
  readonly uses: Map<string, number>;
  readonly pinned: ReadonlySet<string>;
}

/** Dropout seeds per node: hash(run seed, node id, k) for the node's k-th draw, independent of evaluation order. */
function contextFor(training: boolean, seed: number, gradientFree: boolean): (id: string) => RunContext {
  return (id) => {
    let k = 0;
    return { training, gradientFree, nextSeed: () => hashSeed(seed, `${id}#${k++}`) };
  };
}

/** Lowered graphs kept per set of kept nodes (requested intermediates, constants); a run asks for few sets. */
const LOWERED_CACHE_LIMIT = 16;

export interface ExecutorOptions {
  /** Merge common subexpressions (the `cse` pass); on by default. */
  readonly mergeCommonNodes?: boolean;
  /**
   * Op vocabulary and lowerings. Default: the runtime the graph was built with (`graph.runtime`), else the default
   * runtime (core's built-ins and import-time registrations).
   */
  readonly runtime?: Runtime;
}

/**
 * Runs a graph on tfjs. Nodes are evaluated on demand from the requested outputs, so a `switch`
 * evaluates only the branch it picks and unneeded heads cost nothing.
 *
 * Two Graph → Graph passes prepare what runs: `cse` (always, unless `mergeCommonNodes: false`) and, for `run()`
 * only, `lower` with the runtime's lowerings (fused ops such as `addLayerNorm`). `forward()` (training, under a
 * tape) evaluates the unlowered graph; a run that asks for an intermediate a lowering would absorb, or feeds it
 * as a constant, gets a graph lowered with that node kept.
 */
export class Executor {
  private readonly spliceBySwitch: ReadonlyMap<string, SpliceRecord>;
  /** Removed node → the node with the same value in `source` (see cseAliases). */
  private readonly alias: ReadonlyMap<string, string>;
  /** The graph after cse: what forward() evaluates and lowering starts from. */
  readonly source: Graph;
  readonly runtime: Runtime;
  private readonly lowered = new Map<string, Graph>();

  constructor(
    readonly graph: Graph,
    readonly weights: WeightStore,
    options: ExecutorOptions = {},
  ) {
    this.runtime = options.runtime ?? graph.runtime ?? defaultRuntime;
    this.spliceBySwitch = new Map(graph.splices.map((s) => [s.switchNode, s]));
    this.alias = options.mergeCommonNodes === false ? new Map() : cseAliases(graph, this.runtime.ops);
    this.source = withoutAliases(graph, this.alias);
    for (const key of graph.usedParams()) weights.get(key);
  }

  /**
   * The graph run() evaluates: the source graph lowered with the runtime's lowerings, keeping `keep` (node ids of
   * the source graph) computed as written. Printable (`toString()`) for inspecting what runs.
   */
  loweredGraph(keep: readonly string[] = []): Graph {
    const ids = [...new Set(keep.map((id) => this.alias.get(id) ?? id))].sort();
    const key = ids.join('\u0000');
    let g = this.lowered.get(key);
    if (!g) {
      if (this.lowered.size >= LOWERED_CACHE_LIMIT) this.lowered.clear();
      g = lower(this.source, this.runtime.lowerings, { keep: ids });
      this.lowered.set(key, g);
    }
    return g;
  }

  /**
   * Forward pass inside tf.tidy: only the returned tensors survive. Not for use under a gradient tape: it runs the
   * lowered graph, whose fused ops may use kernels without gradients, also with `training: true` (dropout on),
   * e.g. for a frozen prefix computed before a training step.
   */
  run(feeds: Feeds, options: RunOptions = {}): Record<string, tf.Tensor> {
    requireBackend('Executor.run');
    const g = this.loweredGraph([...(options.nodes ?? []), ...(options.constants?.keys() ?? [])]);
    // No tape, so each activation is freed as soon as its last reader has run: peak memory is a few layers'
    // activations instead of the whole graph's (matters for stacked Parallel copies).
    return tf.tidy(() => this.evaluateGraph(g, feeds, options, true));
  }

  /** Forward pass over the unlowered graph without tidy, for use inside a caller's tidy or gradient function. */
  forward(feeds: Feeds, options: RunOptions = {}, releaseIntermediates = false): Record<string, tf.Tensor> {
    return this.evaluateGraph(this.source, feeds, options, releaseIntermediates);
  }

  private evaluateGraph(g: Graph, feeds: Feeds, options: RunOptions, releaseIntermediates: boolean): Record<string, tf.Tensor> {
    const values = this.constantsOf(options);
    this.feed(values, feeds);
    const ctx = contextFor(options.training ?? false, options.seed ?? 0, releaseIntermediates);
    const skip = this.skipPredicate(options);
    const names = options.outputs ?? Object.keys(this.graph.outputs);
    const targets = names.map((name) => {
      const id = g.outputs[name];
      if (id === undefined) throw new GraphError(`no output '${name}' (outputs: ${Object.keys(this.graph.outputs).join(', ')})`);
      return [name, id] as const;
    });
    for (const id of options.nodes ?? []) targets.push([id, this.resolve(this.graph.node(id).id)]);
    const release = releaseIntermediates ? this.usePlan(g, targets.map(([, id]) => id), values, skip) : undefined;
    const out: Record<string, tf.Tensor> = {};
    for (const [name, id] of targets) out[name] = this.evaluate(g, id, values, ctx, skip, release);
    return out;
  }

  /** Fed constants keyed by the nodes that stand for them after cse (a constant for a removed node feeds its survivor). */
  private constantsOf(options: RunOptions): Map<string, tf.Tensor> {
    const values = new Map<string, tf.Tensor>(options.constants ?? []);
    for (const [id, t] of options.constants ?? []) {
      const to = this.alias.get(id);
      if (to !== undefined && !values.has(to)) values.set(to, t);
    }
    for (const id of this.alias.keys()) values.delete(id);
    return values;
  }

  /**
   * How many evaluated readers each node has in this run (switches resolved), and the nodes that must survive
   * (fed inputs, constants, requested targets). The caller's tensors are never disposed.
   */
  private usePlan(g: Graph, targets: readonly string[], values: ReadonlyMap<string, tf.Tensor>, skip: (s: SpliceRecord) => boolean): Release {
    const uses = new Map<string, number>();
    this.walk(g, targets, values, skip, (_id, reads) => {
      for (const input of reads) uses.set(input, (uses.get(input) ?? 0) + 1);
    });
    return { uses, pinned: new Set([...values.keys(), ...targets]) };
  }

  /**
   * Calls `onNode` once for each node a run evaluates for `targets`, with the inputs it reads: switches read only
   * their chosen branch; nodes in `known` (fed or constant) are not evaluated.
   */
  private walk(g: Graph, targets: readonly string[], known: ReadonlyMap<string, tf.Tensor>, skip: (s: SpliceRecord) => boolean, onNode: (id: string, reads: readonly string[]) => void): void {
    const seen = new Set<string>();
    const visit = (id: string): void => {
      if (seen.has(id) || known.has(id)) return;
      seen.add(id);
      const reads = this.readsOf(g, id, skip);
      onNode(id, reads);
      reads.forEach(visit);
    };
    targets.forEach(visit);
  }

  /**
   * Parameter keys read by the nodes a run with these options evaluates for `targets` (node ids): switches
   * resolved by skipLayers/skipAdapters, traversal stopping at `constants`. E.g. to check that values computed
   * outside a gradient tape depend on no trainable tensor.
   */
  paramsRead(targets: readonly string[], options: RunOptions = {}): Set<string> {
    const keys = new Set<string>();
    this.walk(this.source, targets.map((t) => this.resolve(t)), this.constantsOf(options), this.skipPredicate(options), (id) => {
      for (const key of Object.values(this.source.node(id).params)) keys.add(key);
    });
    return keys;
  }

  /**
   * Which of `options.constants` the nodes a run with these options evaluates for `targets` read (e.g. which
   * earlier layers' outputs a checkpointed layer needs as its inputs).
   */
  constantsRead(targets: readonly string[], options: RunOptions = {}): Set<string> {
    const known = this.constantsOf(options);
    const ids = targets.map((t) => this.resolve(t));
    const read = new Set(ids.filter((id) => known.has(id)));
    this.walk(this.source, ids, known, this.skipPredicate(options), (_id, reads) => {
      for (const input of reads) if (known.has(input)) read.add(input);
    });
    return new Set([...(options.constants?.keys() ?? [])].filter((id) => read.has(this.resolve(id))));
  }

  /** The inputs a node reads in this run: a switch reads only its chosen branch. */
  private readsOf(g: Graph, id: string, skip: (s: SpliceRecord) => boolean): readonly string[] {
    const node = g.node(id);
    if (node.op !== 'switch') return node.inputs;
    const splice = this.spliceBySwitch.get(id);
    return [(splice && skip(splice) ? node.inputs[1] : node.inputs[0]) as string];
  }

  /** Shapes of every evaluated node (of the unlowered graph), for checking shape inference against reality. */
  traceShapes(feeds: Feeds, options: RunOptions = {}): Map<string, number[]> {
    const shapes = new Map<string, number[]>();
    tf.tidy(() => {
      const values = new Map<string, tf.Tensor>();
      this.feed(values, feeds);
      const ctx = contextFor(false, 0, false);
      const skip = this.skipPredicate(options);
      for (const id of Object.values(this.source.outputs)) this.evaluate(this.source, id, values, ctx, skip);
      for (const [id, t] of values) shapes.set(id, t.shape);
    });
    return shapes;
  }

  private skipPredicate(options: RunOptions): (s: SpliceRecord) => boolean {
    const layers = options.skipLayers;
    const adapters = new Set(options.skipAdapters ?? []);
    return (s) => {
      if (s.adapters.some((a) => adapters.has(a))) return true;
      if (layers === undefined || s.layer === undefined) return false;
      return typeof layers === 'number' ? s.layer < layers : layers.includes(s.layer);
    };
  }

  private feed(values: Map<string, tf.Tensor>, feeds: Feeds): void {
    let reference: number[] | undefined;
    const pending: GraphNode[] = [];
    for (const input of this.graph.inputs) {
      const node = this.graph.node(input.node);
      // An input given as a constant needs no feed (e.g. an encoder-decoder's source ids, whose length differs).
      if (values.has(node.id)) continue;
      const raw = feeds[input.name];
      if (raw === undefined) {
        if (node.attrs['fill'] === undefined) throw new GraphError(`missing input '${input.name}'`);
        pending.push(node);
        continue;
      }
      const t = raw instanceof tf.Tensor ? raw : tf.tensor(raw as number[][], undefined, node.type.dtype);
      const want = node.type.shape;
      if (t.rank !== want.length) throw new GraphError(`input '${input.name}': expected rank ${want.length} [${want.join(', ')}], got shape [${t.shape.join(', ')}]`);
      want.forEach((d, i) => {
        if (typeof d === 'number' && t.shape[i] !== d) throw new GraphError(`input '${input.name}': dim ${i} must be ${d}, got ${t.shape[i]}`);
      });
      if (reference && (t.shape[0] !== reference[0] || (t.rank > 1 && t.shape[1] !== reference[1]))) {
        throw new GraphError(`input '${input.name}': shape [${t.shape.join(', ')}] disagrees with the other inputs' [batch, seq] = [${reference.slice(0, 2).join(', ')}]`);
      }
      reference ??= t.shape;
      values.set(node.id, t.dtype === node.type.dtype ? t : tf.cast(t, node.type.dtype));
    }
    for (const node of pending) {
      if (!reference) throw new GraphError(`input '${String(node.attrs['name'])}' can only be omitted when another input is fed`);
      const shape = reference.slice(0, node.type.shape.length);
      values.set(node.id, node.attrs['fill'] === 'ones' ? tf.ones(shape, node.type.dtype) : tf.zeros(shape, node.type.dtype));
    }
  }

  /** The node that stands for `id` after cse. */
  private resolve(id: string): string {
    return this.alias.get(id) ?? id;
  }

  private evaluate(g: Graph, id: string, values: Map<string, tf.Tensor>, ctx: (id: string) => RunContext, skip: (s: SpliceRecord) => boolean, release?: Release): tf.Tensor {
    const known = values.get(id);
    if (known) return known;
    const node = g.node(id);
    let result: tf.Tensor;
    if (node.op === 'switch') {
      const branch = this.readsOf(g, id, skip)[0] as string;
      const chosen = this.evaluate(g, branch, values, ctx, skip, release);
      // With early release the branch may be freed once read; a clone shares its data (no copy).
      result = release ? tf.clone(chosen) : chosen;
      if (release) this.releaseInputs([branch], values, release);
    } else {
      result = this.evaluateOp(g, node, values, ctx, skip, release);
    }
    values.set(id, result);
    return result;
  }

  private evaluateOp(g: Graph, node: GraphNode, values: Map<string, tf.Tensor>, ctx: (id: string) => RunContext, skip: (s: SpliceRecord) => boolean, release?: Release): tf.Tensor {
    const inputs = node.inputs.map((i) => this.evaluate(g, i, values, ctx, skip, release));
    let result: tf.Tensor;
    try {
      const op = this.runtime.ops.get(node.op, node.id);
      // Forward-only runs free an op's intermediates as soon as it returns (its inputs go by use counts below):
      // otherwise every layer's temporaries lived until the run's tidy ended, and inference memory grew with depth.
      result = release
        ? tf.tidy(() => op.run(inputs, this.paramsOf(node), node.attrs, ctx(node.id)))
        : op.run(inputs, this.paramsOf(node), node.attrs, ctx(node.id));
    } catch (e) {
      if (e instanceof GraphError) throw e;
      throw new GraphError(`node '${node.id}' (${node.op}) failed: ${(e as Error).message}`);
    }
    if (release) this.releaseInputs(node.inputs, values, release);
    return result;
  }

  private paramsOf(node: GraphNode): Record<string, tf.Tensor> {
    const params: Record<string, tf.Tensor> = {};
    for (const [local, key] of Object.entries(node.params)) params[local] = this.weights.get(key);
    return params;
  }

  private releaseInputs(inputs: readonly string[], values: Map<string, tf.Tensor>, release: Release): void {
    for (const input of inputs) {
      const left = (release.uses.get(input) ?? 0) - 1;
      release.uses.set(input, left);
      if (left > 0 || release.pinned.has(input)) continue;
      values.get(input)?.dispose();
      values.delete(input);
    }
  }
}

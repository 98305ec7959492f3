import * as tf from '@tensorflow/tfjs';
import { requireBackend } from '../backend/ensure-backend';
import { GraphError } from '../errors';
import type { Graph, SpliceRecord } from '../graph/graph';
import type { GraphNode } from '../graph/types';
import type { RunContext } from '../ops/op-def';
import { FUSED_KERNELS, hasFusedKernel } from '../ops/fused';
import { opRegistry } from '../ops/registry';
import type { BottleneckMatch } from './bottleneck-fusion';
import { matchBottleneck } from './bottleneck-fusion';
import { commonNodes } from './common-nodes';
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

/**
 * Runs a graph on tfjs. Nodes are evaluated on demand from the requested outputs, so a `switch`
 * evaluates only the branch it picks and unneeded heads cost nothing.
 */
export class Executor {
  private readonly spliceBySwitch: ReadonlyMap<string, SpliceRecord>;
  /** Node → earlier node with the same value (see commonNodes); each is evaluated once per run. */
  private readonly alias: ReadonlyMap<string, string>;

  constructor(
    readonly graph: Graph,
    readonly weights: WeightStore,
    options: { readonly mergeCommonNodes?: boolean } = {},
  ) {
    this.spliceBySwitch = new Map(graph.splices.map((s) => [s.switchNode, s]));
    this.alias = options.mergeCommonNodes === false ? new Map() : commonNodes(graph);
    for (const key of graph.usedParams()) weights.get(key);
  }

  /**
   * Forward pass inside tf.tidy: only the returned tensors survive. Not for use under a gradient tape: it may
   * run kernels without gradients (fused inference kernels), also with `training: true` (dropout on), e.g. for
   * a frozen prefix computed before a training step.
   */
  run(feeds: Feeds, options: RunOptions = {}): Record<string, tf.Tensor> {
    requireBackend('Executor.run');
    // No tape, so each activation is freed as soon as its last reader has run: peak memory is a few layers'
    // activations instead of the whole graph's (matters for stacked Parallel copies).
    return tf.tidy(() => this.forward(feeds, options, true));
  }

  /** Forward pass without tidy, for use inside a caller's tidy or gradient function. */
  forward(feeds: Feeds, options: RunOptions = {}, releaseIntermediates = false): Record<string, tf.Tensor> {
    const values = new Map<string, tf.Tensor>(options.constants ?? []);
    this.feed(values, feeds);
    const ctx = contextFor(options.training ?? false, options.seed ?? 0, releaseIntermediates);
    const skip = this.skipPredicate(options);
    const names = options.outputs ?? Object.keys(this.graph.outputs);
    const targets = names.map((name) => {
      const id = this.graph.outputs[name];
      if (id === undefined) throw new GraphError(`no output '${name}' (outputs: ${Object.keys(this.graph.outputs).join(', ')})`);
      return [name, id] as const;
    });
    for (const id of options.nodes ?? []) targets.push([id, this.graph.node(id).id]);
    const release = releaseIntermediates ? this.usePlan(targets.map(([, id]) => id), values, skip) : undefined;
    const out: Record<string, tf.Tensor> = {};
    for (const [name, id] of targets) out[name] = this.evaluate(id, values, ctx, skip, release);
    return out;
  }

  /**
   * How many evaluated readers each node has in this run (switches resolved), and the nodes that must survive
   * (fed inputs, constants, requested targets). The caller's tensors are never disposed.
   */
  private usePlan(targets: readonly string[], values: ReadonlyMap<string, tf.Tensor>, skip: (s: SpliceRecord) => boolean): Release {
    const uses = new Map<string, number>();
    this.walk(targets, values, skip, (_id, reads) => {
      for (const input of reads) uses.set(input, (uses.get(input) ?? 0) + 1);
    });
    return { uses, pinned: new Set([...values.keys(), ...targets.map((t) => this.resolve(t, values))]) };
  }

  /**
   * Calls `onNode` once for each node a run evaluates for `targets`, with the (alias-resolved) inputs it reads:
   * switches read only their chosen branch; nodes in `known` (fed or constant) are not evaluated.
   */
  private walk(targets: readonly string[], known: ReadonlyMap<string, tf.Tensor>, skip: (s: SpliceRecord) => boolean, onNode: (id: string, reads: readonly string[]) => void): void {
    const seen = new Set<string>();
    const visit = (raw: string): void => {
      const id = this.resolve(raw, known);
      if (seen.has(id) || known.has(id)) return;
      seen.add(id);
      const reads = this.readsOf(id, skip).map((input) => this.resolve(input, known));
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
    this.walk(targets, options.constants ?? new Map(), this.skipPredicate(options), (id) => {
      for (const key of Object.values(this.graph.node(id).params)) keys.add(key);
    });
    return keys;
  }

  /** The inputs a node reads in this run: a switch reads only its chosen branch. */
  private readsOf(id: string, skip: (s: SpliceRecord) => boolean): readonly string[] {
    const node = this.graph.node(id);
    if (node.op !== 'switch') return node.inputs;
    const splice = this.spliceBySwitch.get(id);
    return [(splice && skip(splice) ? node.inputs[1] : node.inputs[0]) as string];
  }

  /** Shapes of every evaluated node, for checking shape inference against reality. */
  traceShapes(feeds: Feeds, options: RunOptions = {}): Map<string, number[]> {
    const shapes = new Map<string, number[]>();
    tf.tidy(() => {
      const values = new Map<string, tf.Tensor>();
      this.feed(values, feeds);
      const ctx = contextFor(false, 0, false);
      const skip = this.skipPredicate(options);
      for (const id of Object.values(this.graph.outputs)) this.evaluate(id, values, ctx, skip);
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

  /** The node whose value stands for `id`: itself when fed or computed, else its common-subexpression alias. */
  private resolve(id: string, values: ReadonlyMap<string, tf.Tensor>): string {
    return values.has(id) ? id : (this.alias.get(id) ?? id);
  }

  private evaluate(raw: string, values: Map<string, tf.Tensor>, ctx: (id: string) => RunContext, skip: (s: SpliceRecord) => boolean, release?: Release): tf.Tensor {
    const id = this.resolve(raw, values);
    const known = values.get(id);
    if (known) return known;
    const node = this.graph.node(id);
    let result: tf.Tensor;
    if (node.op === 'switch') {
      const branch = this.readsOf(id, skip)[0] as string;
      const chosen = this.evaluate(branch, values, ctx, skip, release);
      // With early release the branch may be freed once read; a clone shares its data (no copy).
      result = release ? tf.clone(chosen) : chosen;
      if (release) this.releaseInputs([branch], values, release);
    } else if (release && node.op === 'layerNorm' && this.fusesAtInference(FUSED_KERNELS.bottleneck, ctx(id))) {
      const match = matchBottleneck(node, this.matchContext(values, release));
      result = (match && this.bottleneck(node, match, values, ctx, skip, release)) ?? this.layerNormAt(node, values, ctx, skip, release);
    } else if (release && node.op === 'layerNorm') {
      result = this.layerNormAt(node, values, ctx, skip, release);
    } else {
      result = this.evaluateOp(node, values, ctx, skip, release);
    }
    values.set(id, result);
    return result;
  }

  private evaluateOp(node: GraphNode, values: Map<string, tf.Tensor>, ctx: (id: string) => RunContext, skip: (s: SpliceRecord) => boolean, release?: Release): tf.Tensor {
    const inputs = node.inputs.map((i) => this.evaluate(i, values, ctx, skip, release));
    let result: tf.Tensor;
    try {
      result = opRegistry.get(node.op, node.id).run(inputs, this.paramsOf(node), node.attrs, ctx(node.id));
    } catch (e) {
      if (e instanceof GraphError) throw e;
      throw new GraphError(`node '${node.id}' (${node.op}) failed: ${(e as Error).message}`);
    }
    if (release) this.releaseInputs(node.inputs, values, release);
    return result;
  }

  /** A LayerNorm at inference: fused with the residual adds feeding it when possible. */
  private layerNormAt(node: GraphNode, values: Map<string, tf.Tensor>, ctx: (id: string) => RunContext, skip: (s: SpliceRecord) => boolean, release: Release): tf.Tensor {
    if (this.canFuseAddInto(node, values, ctx(node.id), release)) return this.addLayerNorm(node, values, ctx, skip, release);
    return this.evaluateOp(node, values, ctx, skip, release);
  }

  private fusesAtInference(kernel: string, ctx: RunContext): boolean {
    return ctx.gradientFree === true && hasFusedKernel(kernel);
  }

  private matchContext(values: ReadonlyMap<string, tf.Tensor>, release: Release) {
    return {
      node: (id: string) => this.graph.node(id),
      resolve: (raw: string) => this.resolve(raw, values),
      singleUse: (id: string) => !values.has(id) && !release.pinned.has(id) && release.uses.get(id) === 1,
    };
  }

  /**
   * Runs a matched sequential bottleneck adapter (see bottleneck-fusion.ts) as one AdaptersBottleneck kernel.
   * Returns undefined, having consumed nothing but h and x's values, when the operands' shapes or dtypes are not
   * the kernel's (the caller then evaluates the nodes one by one).
   */
  private bottleneck(post: GraphNode, match: BottleneckMatch, values: Map<string, tf.Tensor>, ctx: (id: string) => RunContext, skip: (s: SpliceRecord) => boolean, release: Release): tf.Tensor | undefined {
    const h = this.evaluate(match.h, values, ctx, skip, release);
    const x = this.evaluate(match.x, values, ctx, skip, release);
    const down = this.paramsOf(match.down) as { weight: tf.Tensor; bias: tf.Tensor };
    const up = this.paramsOf(match.up) as { weight: tf.Tensor; bias: tf.Tensor };
    const norm = this.paramsOf(post) as { weight: tf.Tensor; bias: tf.Tensor };
    const width = h.shape[h.rank - 1];
    const all = [h, x, down.weight, down.bias, up.weight, up.bias, norm.weight, norm.bias];
    if (!all.every((t) => t.dtype === 'float32') || !tf.util.arraysEqual(h.shape, x.shape) || down.weight.shape[0] !== width || up.weight.shape[1] !== width) return undefined;
    const pre = match.preNorm ? (this.paramsOf(match.preNorm) as { weight: tf.Tensor; bias: tf.Tensor }) : undefined;
    const inputs = { h, x, wDown: down.weight, bDown: down.bias, wUp: up.weight, bUp: up.bias, gamma: norm.weight, beta: norm.bias, ...(pre ? { preGamma: pre.weight, preBeta: pre.bias } : {}) };
    const attrs = { activation: match.activation, scale: match.scale, epsilon: Number(post.attrs['eps']), preEpsilon: match.preNorm ? Number(match.preNorm.attrs['eps']) : 0 };
    const result = tf.engine().runKernel(FUSED_KERNELS.bottleneck, inputs, attrs) as tf.Tensor;
    // Each edge from a replaced node to a node outside the match is one read of that outside node.
    const inside = new Set(match.consumed.map((n) => n.id));
    for (const n of match.consumed) this.releaseInputs(n.inputs.filter((i) => !inside.has(this.resolve(i, values))), values, release);
    return result;
  }

  /**
   * Inference peephole: layerNorm(add(a, b)) where this layerNorm is the add's only reader becomes one
   * AdaptersAddLayerNorm kernel when the backend has it, so the residual sum is never materialised; a
   * single-reader add feeding that add joins as a third summand (a Pfeiffer adapter's two residual adds).
   * Only in run() (no gradient tape, release planning): under a tape each add needs its own gradient path.
   */
  private canFuseAddInto(node: GraphNode, values: ReadonlyMap<string, tf.Tensor>, ctx: RunContext, release: Release): boolean {
    if (!this.fusesAtInference(FUSED_KERNELS.addLayerNorm, ctx)) return false;
    return this.isFusableAdd(node.inputs[0] as string, values, release);
  }

  /** An add of two float32 tensors that nothing else reads in this run and that is not computed yet. */
  private isFusableAdd(raw: string, values: ReadonlyMap<string, tf.Tensor>, release: Release): boolean {
    const id = this.resolve(raw, values);
    if (values.has(id) || release.pinned.has(id) || release.uses.get(id) !== 1) return false;
    const add = this.graph.node(id);
    return add.op === 'add' && add.inputs.length === 2 && add.type.dtype === 'float32';
  }

  private addLayerNorm(node: GraphNode, values: Map<string, tf.Tensor>, ctx: (id: string) => RunContext, skip: (s: SpliceRecord) => boolean, release: Release): tf.Tensor {
    const add = this.graph.node(this.resolve(node.inputs[0] as string, values));
    // (x + y) + z: with the inner add first, the kernel's summation order is the graph's (float addition
    // commutes exactly, so an inner add in second position is reordered to the front).
    const innerAt = add.inputs.findIndex((i) => this.isFusableAdd(i, values, release));
    const inner = innerAt >= 0 ? this.graph.node(this.resolve(add.inputs[innerAt] as string, values)) : undefined;
    const operandIds = inner ? [...inner.inputs, add.inputs[1 - innerAt] as string] : [...add.inputs];
    const operands = operandIds.map((i) => this.evaluate(i, values, ctx, skip, release));
    const first = operands[0] as tf.Tensor;
    if (!operands.every((t) => t.dtype === 'float32' && tf.util.arraysEqual(t.shape, first.shape))) {
      // Broadcasting adds take the ordinary path.
      let sum = tf.add(operands[0] as tf.Tensor, operands[1] as tf.Tensor);
      if (operands[2]) sum = tf.add(sum, operands[2]);
      const out = opRegistry.get('layerNorm', node.id).run([sum], this.paramsOf(node), node.attrs, ctx(node.id));
      this.releaseConsumed(innerAt, inner, add, values, release);
      return out;
    }
    const [a, b, c] = operands as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const { weight: gamma, bias: beta } = this.paramsOf(node) as { weight: tf.Tensor; bias: tf.Tensor };
    const result = tf.engine().runKernel(FUSED_KERNELS.addLayerNorm, { a, b, ...(c ? { c } : {}), gamma, beta }, { epsilon: Number(node.attrs['eps']) }) as tf.Tensor;
    this.releaseConsumed(innerAt, inner, add, values, release);
    return result;
  }

  private paramsOf(node: GraphNode): Record<string, tf.Tensor> {
    const params: Record<string, tf.Tensor> = {};
    for (const [local, key] of Object.entries(node.params)) params[local] = this.weights.get(key);
    return params;
  }

  /** Releases what the fused adds read (the adds themselves never got a value). */
  private releaseConsumed(innerAt: number, inner: GraphNode | undefined, add: GraphNode, values: Map<string, tf.Tensor>, release: Release): void {
    if (inner) this.releaseInputs(inner.inputs, values, release);
    this.releaseInputs(add.inputs.filter((_i, k) => k !== innerAt), values, release);
  }

  private releaseInputs(inputs: readonly string[], values: Map<string, tf.Tensor>, release: Release): void {
    for (const raw of inputs) {
      const input = this.resolve(raw, values);
      const left = (release.uses.get(input) ?? 0) - 1;
      release.uses.set(input, left);
      if (left > 0 || release.pinned.has(input)) continue;
      values.get(input)?.dispose();
      values.delete(input);
    }
  }
}

// Inference lowering for sequential bottleneck adapters (AdapterHub's Adapter.pre_forward → adapter →
// post_forward, as this plugin builds it in mode 'wrap'):
//
//   a   = layerNorm(add(h, x))            (original_ln_before; Houlsby's adapters read h itself: a = h)
//   u   = dense_up(act(dense_down(a)))    [· scale]
//   y   = layerNorm(add(add(u, h), x))    (original_ln_after, residual_before_ln: the residual is h)
//
// becomes one `bottleneckAdapter(h, x)` node, which runs core's AdaptersBottleneck kernel when the backend has it
// and the same stock ops otherwise. Matching is structural (ops, single readers, which nodes the residuals are),
// never by names. Registered through `bottleneckPackage`.
import * as tf from '@tensorflow/tfjs';
import type { GraphNode, Lowering, LoweringContext, OpDef } from '@adapters/core-graph';
import { CORE_OPS, createOpTable, defineLowering, defineOp, FUSED_KERNELS, GraphError, hasFusedKernel } from '@adapters/core-graph';

export const BOTTLENECK_ADAPTER_OP = 'bottleneckAdapter';

/** Activations the kernel contract covers (core-graph's ops/fused.ts). */
const KERNEL_ACTIVATIONS = new Set(['identity', 'relu', 'swish', 'gelu']);

/** Core's stock ops, for the composition the fused op falls back to. */
const stock = createOpTable(CORE_OPS);

const num = (attrs: Readonly<Record<string, unknown>>, name: string): number => {
  const v = attrs[name];
  if (typeof v !== 'number') throw new GraphError(`${BOTTLENECK_ADAPTER_OP}: attribute '${name}' must be a number, got ${JSON.stringify(v)}`);
  return v;
};

/**
 * A sequential bottleneck adapter with its residuals and the span's LayerNorm: inputs [h, x]; parameters
 * wDown, bDown, wUp, bUp, gamma, beta (and preGamma, preBeta when LayerNorm(h + x) feeds the adapter); attrs
 * activation, scale (null: no scaling node), epsilon, preEpsilon.
 */
export const bottleneckAdapterOp: OpDef = defineOp({
  name: BOTTLENECK_ADAPTER_OP,
  arity: 2,
  params: ['wDown', 'bDown', 'wUp', 'bUp', 'gamma', 'beta'],
  optionalParams: ['preGamma', 'preBeta'],
  pure: true,
  inferType(args) {
    const [h, x] = args.inputs as [GraphNode['type'], GraphNode['type']];
    if (!h || !x || h.shape.length !== x.shape.length || h.shape.some((d, i) => d !== x.shape[i])) {
      throw new GraphError(`node '${args.nodeId}': ${BOTTLENECK_ADAPTER_OP} needs h and x of one shape`);
    }
    return h;
  },
  run([h, x], p, attrs, ctx) {
    const hx = [h, x] as [tf.Tensor, tf.Tensor];
    const activation = String(attrs['activation']);
    const scale = attrs['scale'] === null ? undefined : num(attrs, 'scale');
    const epsilon = num(attrs, 'epsilon');
    const pre = p['preGamma'] && p['preBeta'] ? { weight: p['preGamma'], bias: p['preBeta'] } : undefined;
    const w = p as Record<'wDown' | 'bDown' | 'wUp' | 'bUp' | 'gamma' | 'beta', tf.Tensor>;
    const width = hx[0].shape[hx[0].rank - 1];
    const all = [...hx, ...Object.values(p)];
    const kernel = ctx.gradientFree === true && hasFusedKernel(FUSED_KERNELS.bottleneck) && all.every((t) => t.dtype === 'float32')
      && tf.util.arraysEqual(hx[0].shape, hx[1].shape) && w.wDown.shape[0] === width && w.wUp.shape[1] === width;
    if (kernel) {
      const inputs = { h: hx[0], x: hx[1], wDown: w.wDown, bDown: w.bDown, wUp: w.wUp, bUp: w.bUp, gamma: w.gamma, beta: w.beta, ...(pre ? { preGamma: pre.weight, preBeta: pre.bias } : {}) };
      const kattrs = { activation, scale: scale ?? 1, epsilon, preEpsilon: pre ? num(attrs, 'preEpsilon') : 0 };
      return tf.engine().runKernel(FUSED_KERNELS.bottleneck, inputs, kattrs) as tf.Tensor;
    }
    // The stock ops the lowering replaced, in the same order (float addition commutes exactly, so operand
    // order does not matter): bit for bit the unlowered graph.
    const run = (op: string, inputs: tf.Tensor[], params: Record<string, tf.Tensor> = {}, a: Readonly<Record<string, unknown>> = {}): tf.Tensor =>
      stock.get(op).run(inputs, params, a as never, ctx);
    const a = pre ? run('layerNorm', [run('add', hx)], pre, { eps: num(attrs, 'preEpsilon') }) : hx[0];
    let u = run('dense', [run(activation, [run('dense', [a], { weight: w.wDown, bias: w.bDown })])], { weight: w.wUp, bias: w.bUp });
    if (scale !== undefined) u = run('scale', [u], {}, { factor: scale });
    return run('layerNorm', [run('add', [run('add', [u, hx[0]]), hx[1]])], { weight: w.gamma, bias: w.beta }, { eps: epsilon });
  },
});

const isDense = (n: GraphNode): boolean =>
  n.op === 'dense' && n.params['bias'] !== undefined && n.attrs['transposeWeight'] !== true && n.type.dtype === 'float32' && Object.keys(n.params).length === 2;
const isAdd = (n: GraphNode): boolean => n.op === 'add' && n.inputs.length === 2 && n.type.dtype === 'float32';
const isNorm = (n: GraphNode): boolean => n.op === 'layerNorm' && n.params['weight'] !== undefined && n.params['bias'] !== undefined && typeof n.attrs['eps'] === 'number';

/** The node `id` if only the pattern reads it and it passes `test`. */
function single(ctx: LoweringContext, id: string, test: (n: GraphNode) => boolean): GraphNode | undefined {
  if (!ctx.singleReader(id)) return undefined;
  const n = ctx.node(id);
  return test(n) ? n : undefined;
}

/** The adapter branch u = up(act(down(a))) [· scale] ending at `id`. */
function branchAt(ctx: LoweringContext, id: string): { down: GraphNode; up: GraphNode; act: GraphNode; scaleNode?: GraphNode } | undefined {
  const scaleNode = single(ctx, id, (n) => n.op === 'scale' && typeof n.attrs['factor'] === 'number');
  const up = single(ctx, scaleNode ? (scaleNode.inputs[0] as string) : id, isDense);
  const act = up && single(ctx, up.inputs[0] as string, (n) => KERNEL_ACTIVATIONS.has(n.op) && n.inputs.length === 1);
  const down = act && single(ctx, act.inputs[0] as string, isDense);
  if (!up || !act || !down) return undefined;
  return scaleNode ? { down, up, act, scaleNode } : { down, up, act };
}

/**
 * The adapter's input LayerNorm(h + x), absorbed into the fused node. Unlike the inner nodes it may have other
 * readers, provided they are switches (the splice's bypass branch reads the same LayerNorm after cse): a switch
 * evaluates one branch, so the value is never computed twice in one run. It stays in the graph for them.
 */
function preNormOf(ctx: LoweringContext, a: string, h: string, x: string, down: string): { norm: GraphNode; add: GraphNode } | undefined {
  if (ctx.kept(a)) return undefined;
  const norm = ctx.node(a);
  if (!isNorm(norm) || !ctx.readers(a).every((r) => r === down || ctx.node(r).op === 'switch')) return undefined;
  const add = ctx.node(norm.inputs[0] as string);
  if (!isAdd(add) || ctx.kept(add.id) || ctx.readers(add.id).length !== 1) return undefined;
  const [p, q] = add.inputs;
  return (p === h && q === x) || (p === x && q === h) ? { norm, add } : undefined;
}

export const bottleneckLowering: Lowering = defineLowering({
  name: 'adapter-bottleneck/sequential',
  root: 'layerNorm',
  // Claims the span's LayerNorm before core's add+LayerNorm lowering (benefit 1) would.
  benefit: 10,
  ops: [bottleneckAdapterOp],
  match(post, ctx) {
    if (!isNorm(post)) return undefined;
    const outer = single(ctx, post.inputs[0] as string, isAdd);
    if (!outer) return undefined;
    for (const [i, j] of [[0, 1], [1, 0], [0, 0], [1, 1]] as const) {
      // outer = add(inner, x) with inner = add(u, h), in either operand order.
      const inner = single(ctx, outer.inputs[i] as string, isAdd);
      if (!inner) continue;
      const x = outer.inputs[1 - i] as string;
      const branch = branchAt(ctx, inner.inputs[j] as string);
      if (!branch) continue;
      const h = inner.inputs[1 - j] as string;
      const a = branch.down.inputs[0] as string;
      const pre = a === h ? undefined : preNormOf(ctx, a, h, x, branch.down.id);
      if (a !== h && !pre) continue;
      const dp = branch.down.params as { weight: string; bias: string };
      const up = branch.up.params as { weight: string; bias: string };
      const norm = post.params as { weight: string; bias: string };
      return {
        op: BOTTLENECK_ADAPTER_OP,
        inputs: [h, x],
        attrs: {
          activation: branch.act.op,
          scale: branch.scaleNode ? (branch.scaleNode.attrs['factor'] as number) : null,
          epsilon: post.attrs['eps'] as number,
          preEpsilon: pre ? (pre.norm.attrs['eps'] as number) : null,
        },
        params: { wDown: dp.weight, bDown: dp.bias, wUp: up.weight, bUp: up.bias, gamma: norm.weight, beta: norm.bias, ...(pre ? { preGamma: pre.norm.params['weight'] as string, preBeta: pre.norm.params['bias'] as string } : {}) },
        absorbed: [outer.id, inner.id, ...(branch.scaleNode ? [branch.scaleNode.id] : []), branch.up.id, branch.act.id, branch.down.id, ...(pre ? [pre.norm.id, pre.add.id] : [])],
      };
    }
    return undefined;
  },
});

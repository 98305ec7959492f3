// Inference peephole for sequential bottleneck adapters (AdapterHub's Adapter.pre_forward → adapter →
// post_forward, as adapter-bottleneck builds it in mode 'wrap'):
//
//   a   = layerNorm(add(h, x))            (original_ln_before; Houlsby's adapters read h itself: a = h)
//   u   = dense_up(act(dense_down(a)))    [· scale]
//   y   = layerNorm(add(add(u, h), x))    (original_ln_after, residual_before_ln: the residual is h)
//
// becomes one AdaptersBottleneck kernel when every intermediate has exactly one reader in the run. Matching is
// structural: ops, single readers and which nodes the residuals are, never node names.
import type { GraphNode } from '../graph/types';

/** Activations the kernel contract covers (ops/fused.ts). */
const KERNEL_ACTIVATIONS = new Set(['identity', 'relu', 'swish', 'gelu']);

export interface BottleneckMatch {
  /** The sublayer output h and the sublayer input x (node ids to evaluate). */
  readonly h: string;
  readonly x: string;
  readonly down: GraphNode;
  readonly up: GraphNode;
  readonly activation: string;
  readonly scale: number;
  /** The LayerNorm computing the adapter's input from h + x, when there is one. */
  readonly preNorm: GraphNode | undefined;
  /** Every node the kernel stands in for besides the final LayerNorm (none of them gets a value). */
  readonly consumed: readonly GraphNode[];
}

export interface MatchContext {
  readonly node: (id: string) => GraphNode;
  /** The id whose value stands for `raw` (common-subexpression alias). */
  readonly resolve: (raw: string) => string;
  /** Not yet computed, not a requested output, and read by exactly one node in this run. */
  readonly singleUse: (id: string) => boolean;
}

const isDense = (n: GraphNode): boolean =>
  n.op === 'dense' && n.params['bias'] !== undefined && n.attrs['transposeWeight'] !== true && n.type.dtype === 'float32';

/** The node behind `raw` if it has op `op` and a single reader in this run. */
function single(ctx: MatchContext, raw: string, test: (n: GraphNode) => boolean): GraphNode | undefined {
  const id = ctx.resolve(raw);
  if (!ctx.singleUse(id)) return undefined;
  const n = ctx.node(id);
  return test(n) ? n : undefined;
}

const isAdd = (n: GraphNode): boolean => n.op === 'add' && n.inputs.length === 2 && n.type.dtype === 'float32';
const isNorm = (n: GraphNode): boolean => n.op === 'layerNorm' && n.params['weight'] !== undefined && n.params['bias'] !== undefined;

/** The adapter branch u = up(act(down(a))) [· scale] ending at `raw`, or undefined. */
function branchAt(ctx: MatchContext, raw: string): { down: GraphNode; up: GraphNode; act: GraphNode; scaleNode?: GraphNode; scale: number } | undefined {
  const scaleNode = single(ctx, raw, (n) => n.op === 'scale' && typeof n.attrs['factor'] === 'number');
  const up = single(ctx, scaleNode ? (scaleNode.inputs[0] as string) : raw, isDense);
  if (!up) return undefined;
  const act = single(ctx, up.inputs[0] as string, (n) => KERNEL_ACTIVATIONS.has(n.op));
  const down = act && single(ctx, act.inputs[0] as string, isDense);
  if (!act || !down) return undefined;
  const scale = scaleNode ? Number(scaleNode.attrs['factor']) : 1;
  return scaleNode ? { down, up, act, scaleNode, scale } : { down, up, act, scale };
}

/** Matches the pattern above ending at the LayerNorm `post`; undefined when anything differs. */
export function matchBottleneck(post: GraphNode, ctx: MatchContext): BottleneckMatch | undefined {
  if (!isNorm(post)) return undefined;
  const outer = single(ctx, post.inputs[0] as string, isAdd);
  if (!outer) return undefined;
  for (const [i, j] of [[0, 1], [1, 0], [0, 0], [1, 1]] as const) {
    // outer = add(inner, x) with inner = add(u, h), in either operand order.
    const inner = single(ctx, outer.inputs[i] as string, isAdd);
    if (!inner) continue;
    const x = ctx.resolve(outer.inputs[1 - i] as string);
    const branch = branchAt(ctx, inner.inputs[j] as string);
    if (!branch) continue;
    const h = ctx.resolve(inner.inputs[1 - j] as string);
    const a = ctx.resolve(branch.down.inputs[0] as string);
    const common = [outer, inner, ...(branch.scaleNode ? [branch.scaleNode] : []), branch.up, branch.act, branch.down];
    const base = { h, x, down: branch.down, up: branch.up, activation: branch.act.op, scale: branch.scale };
    if (a === h) return { ...base, preNorm: undefined, consumed: common };
    const preNorm = single(ctx, a, isNorm);
    const preAdd = preNorm && single(ctx, preNorm.inputs[0] as string, isAdd);
    if (!preNorm || !preAdd) continue;
    const operands = preAdd.inputs.map((id) => ctx.resolve(id));
    if ((operands[0] === h && operands[1] === x) || (operands[0] === x && operands[1] === h)) {
      return { ...base, preNorm, consumed: [...common, preNorm, preAdd] };
    }
  }
  return undefined;
}

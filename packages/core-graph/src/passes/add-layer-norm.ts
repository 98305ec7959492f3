// Core's lowering: layerNorm(add(a, b)) → addLayerNorm(a, b), and layerNorm(add(add(a, b), c)) → addLayerNorm(a, b, c)
// when the adds have no other reader (every post-LN residual + LayerNorm; a Pfeiffer adapter's two residual adds).
import type { GraphNode } from '../graph/types';
import { ADD_LAYER_NORM_OP } from '../ops/fused-ops';
import type { Lowering, LoweringContext } from './lower';
import { defineLowering } from './lower';

/** An add of two float32 tensors that only the pattern reads. */
function fusableAdd(ctx: LoweringContext, id: string): GraphNode | undefined {
  if (!ctx.singleReader(id)) return undefined;
  const n = ctx.node(id);
  return n.op === 'add' && n.inputs.length === 2 && n.type.dtype === 'float32' ? n : undefined;
}

export const addLayerNormLowering: Lowering = defineLowering({
  name: 'core/add-layer-norm',
  root: 'layerNorm',
  benefit: 1,
  match(norm, ctx) {
    if (norm.params['weight'] === undefined || norm.params['bias'] === undefined) return undefined;
    const add = fusableAdd(ctx, norm.inputs[0] as string);
    if (!add) return undefined;
    // (x + y) + z with the inner add first, so the kernel sums in the graph's order (float addition commutes
    // exactly: an inner add in second position is moved to the front).
    const innerAt = add.inputs.findIndex((i) => fusableAdd(ctx, i) !== undefined);
    const inner = innerAt >= 0 ? ctx.node(add.inputs[innerAt] as string) : undefined;
    const inputs = inner ? [...inner.inputs, add.inputs[1 - innerAt] as string] : [...add.inputs];
    return {
      op: ADD_LAYER_NORM_OP,
      inputs,
      attrs: norm.attrs,
      params: { weight: norm.params['weight'], bias: norm.params['bias'] },
      absorbed: inner ? [add.id, inner.id] : [add.id],
    };
  },
});

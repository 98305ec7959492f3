import type { Graph } from '../graph/graph';

/**
 * Ops whose value is a function of (inputs, attrs, params) alone. Ops that draw random numbers (dropout,
 * attention's dropout), switches, inputs and plugin ops (whose purity we can't know) are never merged.
 */
const PURE_OPS: ReadonlySet<string> = new Set([
  'add', 'layerNorm', 'dense', 'gelu', 'gelu_new', 'relu', 'swish', 'tanh', 'sigmoid', 'identity', 'softmax', 'sum', 'scale',
  'scaleByParam', 'matmul', 'reshape', 'transpose', 'concat', 'slice', 'token', 'maskedMean', 'positions', 'embedding',
]);

/**
 * Common-subexpression map: node id → an earlier node computing exactly the same value (same pure op, same
 * inputs after merging, same attrs, same parameter keys). Fusing N adapters builds N copies of the same
 * pre-forward (residual add + the base LayerNorm, shared weights); evaluating one of them saves the
 * compute and the activations kept for the backward pass. Nodes are visited in topological order.
 */
export function commonNodes(graph: Graph): Map<string, string> {
  const alias = new Map<string, string>();
  const seen = new Map<string, string>();
  for (const node of graph.nodes) {
    if (!PURE_OPS.has(node.op)) continue;
    const inputs = node.inputs.map((i) => alias.get(i) ?? i);
    const params = Object.entries(node.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = `${node.op}\u0000${inputs.join(',')}\u0000${JSON.stringify(node.attrs)}\u0000${JSON.stringify(params)}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, node.id);
    else alias.set(node.id, first);
  }
  return alias;
}

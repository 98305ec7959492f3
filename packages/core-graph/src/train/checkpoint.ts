// Gradient checkpointing: each layer above the first (encoder or decoder) runs inside tf.customGrad, so the tape keeps
// only the tensors that cross layer boundaries instead of every activation inside each layer; the backward pass
// recomputes a layer's forward from its saved inputs and differentiates that. Dropout masks derive from (seed, node id), so the
// recomputation draws the very same masks, and fused inference kernels stay off under a gradient in both passes:
// the recomputed values are those of the plain forward, and so are the gradients, up to the order in which a tensor
// read by several layers (an encoder's output, by every decoder layer) sums its gradient.
import * as tf from '@tensorflow/tfjs';
import type { Executor, Feeds, RunOptions } from '../exec/executor';
import type { Graph } from '../graph/graph';

/**
 * The node each layer hands on to the next (the exit of each site of kind `output`: `layer.i.output` of an encoder,
 * `encoder.layers.i.output` then `decoder.layers.i.output` of an encoder-decoder), in layer order.
 */
export function layerBoundaries(graph: Graph): string[] {
  const sites = [...graph.sites.values()].filter((s) => s.kind === 'output' && s.layer !== undefined);
  return sites.sort((a, b) => (a.layer as number) - (b.layer as number)).map((s) => s.exit);
}

/** Whether checkpointedForward has layers to checkpoint in this graph (at least two boundaries); else it is a plain forward. */
export const canCheckpoint = (graph: Graph): boolean => layerBoundaries(graph).length >= 2;

/**
 * `executor.forward(feeds, options)` for `options.outputs`, with every layer after the first (or after the last
 * boundary already in `options.constants`) checkpointed. `trainable(key)` says which parameters take gradients:
 * those a layer reads become inputs of its customGrad, so their gradients flow through the recomputation.
 * A layer's inputs are the earlier boundaries it reads: the previous layer's output, and for a decoder layer
 * the encoder's last one too (cross-attention).
 * For use inside a gradient tape (a trainer's loss function); without layer sites it is a plain forward.
 */
export function checkpointedForward(executor: Executor, feeds: Feeds, options: RunOptions, trainable: (key: string) => boolean): Record<string, tf.Tensor> {
  const bounds = layerBoundaries(executor.graph);
  const given = options.constants ?? new Map<string, tf.Tensor>();
  let first = -1;
  bounds.forEach((b, i) => {
    if (given.has(b)) first = i;
  });
  // Boundary values so far: the given ones and each layer's (customGrad) output.
  const computed = new Map(given);
  if (first < 0) {
    if (bounds.length < 2) return executor.forward(feeds, options);
    first = 0;
    computed.set(bounds[0]!, executor.forward(feeds, { ...options, outputs: [], nodes: [bounds[0]!], constants: given })[bounds[0]!]!);
  }
  const isBoundary = new Set(bounds);
  for (const to of bounds.slice(first + 1)) {
    const withBounds = { ...options, constants: computed };
    const read = [...executor.constantsRead([to], withBounds)];
    const from = read.filter((b) => isBoundary.has(b));
    // The given constants the layer reads (mask, empty caches) are kept for its recomputation: the caller may
    // create them inside a tidy around the loss, which frees them before the backward pass.
    const fixed = read.filter((b) => !isBoundary.has(b));
    // Everything else the segment reads (positions, a frozen prefix's inputs) is recomputed from the feeds.
    const segment = (xs: readonly tf.Tensor[]): tf.Tensor =>
      executor.forward(feeds, { ...options, outputs: [], nodes: [to], constants: new Map([...given, ...[...from, ...fixed].map((b, i) => [b, xs[i]!] as const)]) })[to]!;
    const vars = [...executor.paramsRead([to], withBounds)].filter(trainable).map((k) => executor.weights.get(k));
    const fixedValues = fixed.map((b) => given.get(b)!);
    // A layer that reads nothing with a gradient is a constant of the tape: nothing to recompute.
    computed.set(to, from.length + vars.length === 0 ? segment(fixedValues) : checkpointed(segment, from.map((b) => computed.get(b)!), fixedValues, vars));
  }
  return executor.forward(feeds, { ...options, constants: computed });
}

/**
 * y = f([...xs, ...kept]) with f's intermediates dropped after the forward and recomputed for the gradient w.r.t. xs
 * and vars; `kept` (no gradient) is saved with xs for the recomputation.
 */
function checkpointed(f: (xs: readonly tf.Tensor[]) => tf.Tensor, inputs: readonly tf.Tensor[], kept: readonly tf.Tensor[], vars: readonly tf.Tensor[]): tf.Tensor {
  const n = inputs.length;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    save([...xs, ...kept]);
    return {
      value: f([...xs, ...kept]),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const all = [...saved.slice(0, n), ...vars];
        const constants = saved.slice(n);
        // This runs inside the outer backward pass, where tfjs's gradient depth is back at 0: a nested
        // gradients() would start a fresh tape in the engine's state and leave it null when done, and the outer
        // pass then fails disposing its own tape. Keep the outer tape aside and put it back.
        const state = tf.engine().state;
        const outerTape = state.activeTape;
        try {
          // The variables are read by f from the store (the same tensors as `vars`), so the tape finds them by id.
          const { grads } = tf.engine().gradients(() => f([...all.slice(0, n), ...constants]), all, dy as tf.Tensor, true);
          return all.map((t, i) => grads[i] ?? tf.zerosLike(t));
        } finally {
          state.activeTape = outerTape;
        }
      },
    };
  });
  return (op as (...xs: tf.Tensor[]) => tf.Tensor)(...inputs, ...vars);
}

// Gradient checkpointing: each encoder layer above the first runs inside tf.customGrad, so the tape keeps only the
// tensors that cross layer boundaries instead of every activation inside each layer; the backward pass recomputes a
// layer's forward from its saved input and differentiates that. Dropout masks derive from (seed, node id), so the
// recomputation draws the very same masks, and fused inference kernels stay off under a gradient in both passes:
// the recomputed values, and so the gradients, are those of the plain forward.
import * as tf from '@tensorflow/tfjs';
import type { Executor, Feeds, RunOptions } from '../exec/executor';
import type { Graph } from '../graph/graph';

/** The node each layer hands on to the next (the exit of site `layer.i.output`), in layer order. */
export function layerBoundaries(graph: Graph): string[] {
  const out: string[] = [];
  for (let i = 0; graph.sites.has(`layer.${i}.output`); i++) out.push(graph.site(`layer.${i}.output`).exit);
  return out;
}

/**
 * `executor.forward(feeds, options)` for `options.outputs`, with every layer after the first (or after the last
 * boundary already in `options.constants`) checkpointed. `trainable(key)` says which parameters take gradients:
 * those a layer reads become inputs of its customGrad, so their gradients flow through the recomputation.
 * For use inside a gradient tape (a trainer's loss function); without layer sites it is a plain forward.
 */
export function checkpointedForward(executor: Executor, feeds: Feeds, options: RunOptions, trainable: (key: string) => boolean): Record<string, tf.Tensor> {
  const bounds = layerBoundaries(executor.graph);
  const given = options.constants ?? new Map<string, tf.Tensor>();
  let first = -1;
  bounds.forEach((b, i) => {
    if (given.has(b)) first = i;
  });
  const constants = new Map(given);
  let h: tf.Tensor;
  if (first < 0) {
    if (bounds.length < 2) return executor.forward(feeds, options);
    first = 0;
    h = executor.forward(feeds, { ...options, outputs: [], nodes: [bounds[0]!], constants })[bounds[0]!]!;
  } else {
    h = given.get(bounds[first]!)!;
  }
  for (let i = first + 1; i < bounds.length; i++) {
    const [from, to] = [bounds[i - 1]!, bounds[i]!];
    // Everything the segment reads apart from the boundary (mask, positions) is recomputed from the feeds.
    const segment = (input: tf.Tensor): tf.Tensor =>
      executor.forward(feeds, { ...options, outputs: [], nodes: [to], constants: new Map([...given, [from, input]]) })[to]!;
    const keys = [...executor.paramsRead([to], { ...options, constants: new Map([...given, [from, h]]) })].filter(trainable);
    const vars = keys.map((k) => executor.weights.get(k));
    h = checkpointed(segment, h, vars);
  }
  constants.set(bounds[bounds.length - 1]!, h);
  return executor.forward(feeds, { ...options, constants });
}

/** y = f(x) with f's intermediates dropped after the forward and recomputed for the gradient w.r.t. x and vars. */
function checkpointed(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, vars: readonly tf.Tensor[]): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor;
    save([input]);
    return {
      value: f(input),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const xs = [saved[0]!, ...vars];
        // This runs inside the outer backward pass, where tfjs's gradient depth is back at 0: a nested
        // gradients() would start a fresh tape in the engine's state and leave it null when done, and the outer
        // pass then fails disposing its own tape. Keep the outer tape aside and put it back.
        const state = tf.engine().state;
        const outerTape = state.activeTape;
        try {
          // The variables are read by f from the store (the same tensors as `vars`), so the tape finds them by id.
          const { grads } = tf.engine().gradients(() => f(xs[0]!), xs, dy as tf.Tensor, true);
          return xs.map((t, i) => grads[i] ?? tf.zerosLike(t));
        } finally {
          state.activeTape = outerTape;
        }
      },
    };
  });
  return (op as (...inputs: tf.Tensor[]) => tf.Tensor)(x, ...vars);
}

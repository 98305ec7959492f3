// `prefixTable`: a node whose value is its own parameter (the flat prefix, or the MLP's input embedding of the
// ids 0..prefix_length-1, which is the whole embedding table in order).
import * as tf from '@tensorflow/tfjs';
import { defineOp, GraphError, opRegistry } from '@adapters/core-graph';

export const PREFIX_TABLE_OP = 'prefixTable';

export const prefixTableOp = defineOp({
  name: PREFIX_TABLE_OP,
  arity: 0,
  params: ['weight'],
  inferType(args) {
    const w = args.params['weight'];
    if (!w || w.shape.length !== 2) throw new GraphError(`node '${args.nodeId}': ${PREFIX_TABLE_OP} needs a [rows, width] parameter 'weight'`);
    return { shape: [...w.shape], dtype: 'float32' };
  },
  // clone: the executor may dispose what an op returns; a Variable must never be.
  run: (_x, p) => tf.clone(p['weight'] as tf.Tensor),
});

/**
 * Adds `prefixTable` to the default runtime's op vocabulary (idempotent). Not needed by graphs the plugin builds
 * (they carry the op; see `prefixPackage`): kept for code that builds prefix-table nodes by hand.
 */
export function registerPrefixOps(): void {
  if (!opRegistry.has(PREFIX_TABLE_OP)) opRegistry.register(prefixTableOp);
}

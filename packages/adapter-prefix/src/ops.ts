// `prefixTable`: a node whose value is its own parameter (the flat prefix, or the MLP's input embedding of the
// ids 0..prefix_length-1, which is the whole embedding table in order). A 1-D parameter (the flat prefix, stored as
// AdapterHub stores it: control_trans [P·L·2·hidden]) is read as `rows` rows in row-major order.
import * as tf from '@tensorflow/tfjs';
import { defineOp, GraphError, opRegistry } from '@adapters/core-graph';

export const PREFIX_TABLE_OP = 'prefixTable';

export const prefixTableOp = defineOp({
  name: PREFIX_TABLE_OP,
  arity: 0,
  params: ['weight'],
  inferType(args) {
    const w = args.params['weight'];
    const rows = args.attrs['rows'];
    if (w && w.shape.length === 1) {
      const n = w.shape[0] as number;
      if (typeof rows !== 'number' || !Number.isInteger(rows) || rows < 1 || n % rows !== 0) {
        throw new GraphError(`node '${args.nodeId}': ${PREFIX_TABLE_OP} with a 1-D parameter 'weight' [${n}] needs an integer attr 'rows' dividing ${n}, got ${JSON.stringify(rows)}`);
      }
      return { shape: [rows, n / rows], dtype: 'float32' };
    }
    if (!w || w.shape.length !== 2) throw new GraphError(`node '${args.nodeId}': ${PREFIX_TABLE_OP} needs a [rows, width] parameter 'weight' (or a 1-D one with attr 'rows')`);
    return { shape: [...w.shape], dtype: 'float32' };
  },
  // clone/reshape: the executor may dispose what an op returns; a Variable must never be.
  run: (_x, p, attrs) => {
    const w = p['weight'] as tf.Tensor;
    return w.rank === 1 ? tf.reshape(w, [attrs['rows'] as number, -1]) : tf.clone(w);
  },
});

/**
 * Adds `prefixTable` to the default runtime's op vocabulary (idempotent). Not needed by graphs the plugin builds
 * (they carry the op; see `prefixPackage`): kept for code that builds prefix-table nodes by hand.
 */
export function registerPrefixOps(): void {
  if (!opRegistry.has(PREFIX_TABLE_OP)) opRegistry.register(prefixTableOp);
}

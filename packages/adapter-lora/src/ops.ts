// `loraGateMean`: AdapterHub's gate pooling, mean over the sequence axis of every position (padding included,
// as AdapterHub's torch.mean(gate, dim=1)): [batch, seq, heads] → [batch, 1, heads], broadcast over positions.
import * as tf from '@tensorflow/tfjs';
import { defineOp, GraphError, opRegistry } from '@adapters/core-graph';

export const GATE_MEAN_OP = 'loraGateMean';

export const gateMeanOp = defineOp({
  name: GATE_MEAN_OP,
  arity: 1,
  inferType(args) {
    const x = args.inputs[0];
    if (!x || x.shape.length !== 3) throw new GraphError(`node '${args.nodeId}': ${GATE_MEAN_OP} expects [batch, seq, heads]`);
    return { shape: [x.shape[0] as number | 'batch', 1, x.shape[2] as number], dtype: 'float32' };
  },
  run: ([x]) => tf.mean(x as tf.Tensor, 1, true),
});

/**
 * Adds `loraGateMean` to the default runtime's op vocabulary (idempotent). Not needed by graphs the `lora` plugin
 * builds (they carry the op; see `loraPackage`): kept for code that builds gate nodes by hand.
 */
export function registerLoraOps(): void {
  if (!opRegistry.has(GATE_MEAN_OP)) opRegistry.register(gateMeanOp);
}

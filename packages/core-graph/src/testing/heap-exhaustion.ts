// A real out-of-heap needs ~4 GiB of wasm memory; tests of the checkpointLayers 'auto' retry provoke the malloc
// guard's error instead: a chosen forward pass runs and then throws it, as an allocation late in the forward would.
import * as tf from '@tensorflow/tfjs';
import { WasmHeapExhaustedError } from '../backend/wasm-heap-guard';
import type { RunOptions } from '../exec/executor';
import { Executor } from '../exec/executor';

/** Which forward passes count: by default the plain training ones (no `nodes`, no `constants`: none of checkpointedForward's). */
export type ForwardFilter = (options: RunOptions) => boolean;

const plainTraining: ForwardFilter = (o) => o.training === true && o.nodes === undefined && o.constants === undefined;

/**
 * Makes the `n`-th counted `Executor.forward` call from now (1-based) free its outputs and throw
 * WasmHeapExhaustedError (every later call runs normally; `n` 0: none, `Infinity`: every counted one). Returns the undo.
 */
export function failForwardOnce(n: number, counts: ForwardFilter = plainTraining): () => void {
  const forward = Executor.prototype.forward;
  let calls = 0;
  const failing = function (this: Executor, ...args: Parameters<Executor['forward']>): ReturnType<Executor['forward']> {
    const out = forward.apply(this, args);
    if (counts(args[1] ?? {}) && (++calls === n || n === Infinity)) {
      tf.dispose(Object.values(out));
      throw new WasmHeapExhaustedError(6 * 2 ** 20, 4096 * 2 ** 20);
    }
    return out;
  };
  Executor.prototype.forward = failing;
  return () => {
    Executor.prototype.forward = forward;
  };
}

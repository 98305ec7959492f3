// tfjs-wasm 4.22 allocates every tensor with `_malloc(bytes) >>> 0` and never checks the result: when the heap
// cannot grow any more (wasm32 stops at 4 GiB) malloc returns 0 and the tensor silently aliases the start of the
// heap. Writes to it then corrupt whatever lives there; what the user sees later is "memory access out of bounds"
// or a native kernel refusing an operand (how XLM-R-base-sized full fine-tuning failed in `npm run capacity`).
// This guard makes the failed allocation itself throw, naming the size and the heap. (Offsets past 2 GiB are
// fine: tfjs reads them unsigned, and the native kernels take them as doubles; checked by hand up to 3.7 GiB.)
import * as tf from '@tensorflow/tfjs';
import { AdapterGraphError } from '../errors';

/** The wasm heap cannot hold one more tensor. */
export class WasmHeapExhaustedError extends AdapterGraphError {
  readonly bytes: number;

  constructor(bytes: number, heapBytes: number) {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    super(
      `wasm heap exhausted: cannot allocate ${mib(bytes)} for a tensor (heap ${mib(heapBytes)}; ` +
        'wasm32 stops at 4096 MiB); use a smaller batch, checkpointLayers, or train adapters instead of every weight',
      'E_WASM_HEAP',
    );
    this.bytes = bytes;
  }
}

interface WasmBackendLike {
  wasm: { _malloc(bytes: number): number; _free?(p: number): void; HEAPU8: Uint8Array };
}

type Malloc = ((bytes: number) => number) & { adaptersHeapGuard?: true };

/**
 * Wraps the wasm module's `_malloc` (through which tfjs-wasm allocates every tensor, before it copies any data
 * in) so a failed allocation throws WasmHeapExhaustedError instead of handing out offset 0; nothing is
 * registered or written then. Idempotent; a no-op off wasm. Returns whether the guard is installed.
 */
export function guardWasmAllocations(backend: unknown = tf.findBackend('wasm')): boolean {
  const wasm = (backend as WasmBackendLike | null | undefined)?.wasm;
  if (wasm === undefined || typeof wasm._malloc !== 'function') return false;
  if ((wasm._malloc as Malloc).adaptersHeapGuard === true) return true;
  // Emscripten's glue binds lazily: the first call of Module._malloc replaces Module._malloc with the raw wasm
  // export, which would silently drop a wrapper installed before it. One call first makes the binding final.
  const warm = wasm._malloc(8);
  if (warm !== 0) wasm._free?.(warm);
  const malloc = wasm._malloc as Malloc;
  const guarded: Malloc = (bytes: number) => {
    const p = malloc(bytes);
    // malloc returns 0 only when it failed (tfjs-wasm allocates at least a byte-sized chunk for empty tensors).
    if (p === 0 && bytes > 0) throw new WasmHeapExhaustedError(bytes, wasm.HEAPU8.buffer.byteLength);
    return p;
  };
  guarded.adaptersHeapGuard = true;
  wasm._malloc = guarded;
  return true;
}

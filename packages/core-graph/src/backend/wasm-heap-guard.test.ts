import * as tf from '@tensorflow/tfjs';
import { AdapterGraphError } from '../errors';
import { guardWasmAllocations, WasmHeapExhaustedError } from './wasm-heap-guard';

// The jest setup runs every test on the wasm backend. A real exhaustion needs a 4 GiB heap (measured by hand:
// the fifth 1 GB tf.zeros came back at offset 0, silently); here malloc is made to fail once instead.
interface WasmInternals {
  wasm: { _malloc(bytes: number): number; HEAPU8: Uint8Array };
  dataIdMap: { numDataIds(): number };
}

describe('wasm heap guard', () => {
  it('turns a failed malloc into WasmHeapExhaustedError, leaking nothing, and later allocations work', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(guardWasmAllocations()).toBe(true);
    expect(guardWasmAllocations()).toBe(true); // idempotent
    const b = tf.backend() as unknown as WasmInternals;
    tf.dispose([tf.zeros([4]), tf.zeros([5])]);
    // Still in place after allocations (emscripten's lazy binding replaces Module._malloc on its first call).
    expect((b.wasm._malloc as { adaptersHeapGuard?: boolean }).adaptersHeapGuard).toBe(true);
    const malloc = b.wasm._malloc;
    const before = { tensors: tf.memory().numTensors, ids: b.dataIdMap.numDataIds() };
    b.wasm._malloc = () => 0; // what emscripten's malloc returns when the heap cannot grow
    expect(guardWasmAllocations()).toBe(true); // guards the failing malloc
    let caught: unknown;
    try {
      tf.zeros([1000, 256]);
    } catch (e) {
      caught = e;
    } finally {
      b.wasm._malloc = malloc;
    }
    expect(caught).toBeInstanceOf(WasmHeapExhaustedError);
    expect(caught).toBeInstanceOf(AdapterGraphError);
    expect((caught as WasmHeapExhaustedError).code).toBe('E_WASM_HEAP');
    expect((caught as Error).message).toMatch(/^wasm heap exhausted: cannot allocate 1\.0 MiB for a tensor \(heap \d+\.\d MiB; wasm32 stops at 4096 MiB\)/);
    expect({ tensors: tf.memory().numTensors, ids: b.dataIdMap.numDataIds() }).toEqual(before);
    const ok = tf.ones([3]);
    expect([...ok.dataSync()]).toEqual([1, 1, 1]);
    ok.dispose();
  });

  it('is a no-op for a backend that is not wasm', () => {
    expect(guardWasmAllocations({})).toBe(false);
    expect(guardWasmAllocations(null)).toBe(false);
    expect(guardWasmAllocations({ wasm: {} })).toBe(false);
  });
});

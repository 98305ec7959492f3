// First use without setup: async entry points pick a backend themselves; sync ones fail with one clear error.
// tfjs would otherwise throw "The highest priority backend 'wasm' has not yet been initialized" from deep inside
// a kernel, or silently initialise whatever backend registered first.
import * as tf from '@tensorflow/tfjs';
import { AdapterGraphError } from '../errors';
import { selectBackend, type SelectBackendOptions } from './select-backend';

/** A graph was run or weights were created before any TensorFlow.js backend was initialised. */
export class BackendNotReadyError extends AdapterGraphError {
  constructor(message: string) {
    super(message, 'E_BACKEND_NOT_READY');
  }
}

/** True once some backend is active (set by `selectBackend`, `tf.setBackend` or `tf.ready`). */
export function backendReady(): boolean {
  // `backendName` stays undefined until a backend was initialised; reading it never starts an initialisation.
  return Boolean(tf.engine().backendName);
}

let pending: Promise<void> | undefined;

/**
 * Makes sure a backend is active: keeps the one the user chose, else runs `selectBackend(options)` once
 * (concurrent callers share the same selection).
 */
export async function ensureBackend(options: SelectBackendOptions = {}): Promise<void> {
  if (backendReady()) return;
  pending ??= selectBackend(options).then(
    () => undefined,
    (err: unknown) => {
      pending = undefined;
      throw err;
    },
  );
  await pending;
}

/** Sync guard for operations that allocate tensors: names the one call that fixes it. */
export function requireBackend(operation: string): void {
  if (backendReady()) return;
  throw new BackendNotReadyError(
    `${operation} needs a TensorFlow.js backend, and none is initialised yet: ` +
      "call `await selectBackend()` from '@adapters/core-graph' first (or `await tf.setBackend(name)`)",
  );
}

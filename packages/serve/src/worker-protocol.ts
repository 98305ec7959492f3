// Messages between the main thread (worker-pool.ts) and its worker threads (worker.ts). Plain data only.
export interface WorkerInit {
  readonly model: string;
  /** Module names (or paths) whose `plugins` export the worker registers. */
  readonly pluginModules: readonly string[];
  readonly seed: number;
  readonly maxLength?: number;
}

export type WorkerRequest =
  | { readonly id: number; readonly type: 'load'; readonly name: string; readonly dir: string }
  | { readonly id: number; readonly type: 'remove'; readonly name: string }
  | { readonly id: number; readonly type: 'batch'; readonly groups: ReadonlyArray<{ readonly name: string; readonly texts: readonly string[] }> }
  | { readonly id: number; readonly type: 'multi'; readonly names: readonly string[]; readonly sets: ReadonlyArray<readonly string[]>; readonly sharedLayers: number }
  | { readonly id: number; readonly type: 'close' };

/** id 0 answers the start-up (value `{ maxLength }`). */
export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { readonly reason: unknown; readonly message: string } };

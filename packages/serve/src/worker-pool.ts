// Worker-thread mode: N worker threads each hold the model and every loaded adapter (loads and unloads go to all),
// and each runs one forward pass at a time. The main thread keeps HTTP, the queue, limits and metrics, so it answers
// (/healthz, /metrics, new requests) while passes run.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PassRunner } from './batcher';
import type { BatchGroup, Prediction } from './engine';
import { isServeErrorReason, ServeError } from './errors';
import type { AdapterHost, LoadedAdapter, ServableAdapter } from './pool';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker-protocol';

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };
/** Distributes Omit over the request union, so each variant keeps its own fields. */
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

class WorkerHandle {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: ServeError | undefined;
  readonly ready: Promise<{ maxLength: number }>;

  constructor(private readonly worker: Worker) {
    this.ready = new Promise((ok, fail) => this.pending.set(0, { resolve: ok as (v: unknown) => void, reject: fail }));
    worker.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(isServeErrorReason(m.error.reason) ? new ServeError(m.error.reason, m.error.message) : new ServeError('worker_failed', `worker: ${m.error.message}`));
    });
    const fail = (why: string) => {
      this.failure ??= new ServeError('worker_failed', why);
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(`a worker thread failed: ${e.message}`));
    worker.on('exit', (code) => fail(`a worker thread exited (code ${code})`));
  }

  /** Requests (passes, loads) sent and not answered yet. */
  get load(): number {
    return this.pending.size;
  }

  call<T>(request: RequestBody): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((ok, fail) => {
      this.pending.set(id, { resolve: ok as (v: unknown) => void, reject: fail });
      this.worker.postMessage({ ...request, id });
    });
  }

  async close(): Promise<void> {
    if (!this.failure) await this.call({ type: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

export interface WorkerPoolOptions extends Omit<WorkerInit, 'seed'> {
  readonly workers: number;
  readonly seed?: number;
}

export class WorkerPool implements PassRunner, AdapterHost {
  private constructor(private readonly handles: readonly WorkerHandle[], readonly maxLength: number) {}

  /** Starts the worker threads and waits until each has loaded the model. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    const init: WorkerInit = { model: options.model, pluginModules: [...options.pluginModules], seed: options.seed ?? 0, ...(options.maxLength !== undefined ? { maxLength: options.maxLength } : {}) };
    const handles = Array.from({ length: options.workers }, () => new WorkerHandle(spawnWorker(init)));
    try {
      const ready = await Promise.all(handles.map((h) => h.ready));
      return new WorkerPool(handles, ready[0]!.maxLength);
    } catch (e) {
      await Promise.all(handles.map((h) => h.close()));
      throw e;
    }
  }

  get size(): number {
    return this.handles.length;
  }

  runBatch(groups: readonly BatchGroup[]): Promise<Prediction[][]> {
    return this.idlest().call({ type: 'batch', groups: groups.map((g) => ({ name: g.adapter.name, texts: g.texts })) });
  }

  runMultiSets(adapters: readonly LoadedAdapter[], sets: ReadonlyArray<readonly string[]>, sharedLayers: number): Promise<Prediction[][][]> {
    return this.idlest().call({ type: 'multi', names: adapters.map((a) => a.name), sets, sharedLayers });
  }

  /** Loads into every worker; if one refuses, the others drop it again. */
  async load(name: string, dir: string): Promise<ServableAdapter> {
    const results = await Promise.allSettled(this.handles.map((h) => h.call<LoadedAdapter>({ type: 'load', name, dir })));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.removeByName(name);
      throw failed.reason;
    }
    const { generation: _g, ...servable } = (results[0] as PromiseFulfilledResult<LoadedAdapter>).value;
    return servable;
  }

  remove(adapter: LoadedAdapter): void {
    this.removeByName(adapter.name);
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.close()));
  }

  private removeByName(name: string): void {
    // Messages to a worker are handled in order, so no later pass can see the adapter.
    for (const h of this.handles) void h.call({ type: 'remove', name }).catch(() => undefined);
  }

  private idlest(): WorkerHandle {
    return this.handles.reduce((best, h) => (h.load < best.load ? h : best));
  }
}

/** The worker entry: the compiled worker.js, or from TypeScript sources (tests, bench) through the workspace's hook. */
function spawnWorker(init: WorkerInit): Worker {
  const compiled = join(__dirname, 'worker.js');
  if (existsSync(compiled)) return new Worker(compiled, { workerData: init });
  const source = join(__dirname, 'worker.ts');
  const register = resolve(__dirname, '..', '..', '..', 'scripts', 'register-source.js');
  if (!existsSync(source) || !existsSync(register)) throw new ServeError('worker_failed', `no worker entry next to ${__filename} (build the package: worker.js)`);
  return new Worker(`require(${JSON.stringify(register)}); require(${JSON.stringify(source)});`, { eval: true, workerData: init });
}

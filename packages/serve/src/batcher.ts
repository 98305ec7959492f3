// The queue between HTTP handlers and the engine. Requests for any adapters wait up to `maxWaitMs` (or until
// `maxBatch` texts are queued) and then run together: one forward pass per placement, a BatchSplit over the
// adapters present; predict-multi requests for the same adapters share one Parallel pass. Bounded: a full queue refuses at once (503 + Retry-After), a request queued longer than
// `timeoutMs` is answered 504 and dropped. Forward passes run one at a time (or one per worker thread), with the
// event loop free in between (and, with worker threads, during them).
import type { BatchGroup, Prediction } from './engine';
import { ServeError } from './errors';
import type { LoadedAdapter } from './pool';

export interface BatcherOptions {
  /** Most texts in one forward pass. */
  readonly maxBatch: number;
  /** How long the first queued request waits for company. */
  readonly maxWaitMs: number;
  /** Most requests waiting (not counting the batch running). */
  readonly queueLimit: number;
  /** A request still queued after this long is answered 504. */
  readonly timeoutMs: number;
  /** false: one request = one forward pass (the naive baseline the load test compares against). */
  readonly batching?: boolean;
  /** Forward passes in flight at once (default 1; the number of worker threads in worker mode). */
  readonly concurrency?: number;
  readonly onBatch?: (rows: number, adapters: number) => void;
}

interface Job {
  readonly kind: 'single' | 'multi';
  readonly adapters: readonly LoadedAdapter[];
  readonly texts: readonly string[];
  readonly sharedLayers: number;
  readonly resolve: (p: Prediction[][]) => void;
  readonly reject: (e: unknown) => void;
  readonly enqueuedAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** What runs forward passes: a BatchEngine on this thread, or worker threads (WorkerPassRunner). */
export interface PassRunner {
  runBatch(groups: readonly BatchGroup[]): Prediction[][] | Promise<Prediction[][]>;
  runMultiSets(adapters: readonly LoadedAdapter[], textSets: ReadonlyArray<readonly string[]>, sharedLayers: number): Prediction[][][] | Promise<Prediction[][][]>;
}

export class Batcher {
  private readonly queue: Job[] = [];
  private running = 0;
  private waitTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly engine: PassRunner, private readonly options: BatcherOptions) {}

  private get concurrency(): number {
    return this.options.concurrency ?? 1;
  }

  get depth(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running > 0 || this.queue.length > 0;
  }

  /** Predictions of `texts` with one adapter. */
  predict(adapter: LoadedAdapter, texts: readonly string[]): Promise<Prediction[]> {
    return this.submit('single', [adapter], texts, 0).then((r) => r[0]!);
  }

  /** Predictions of `texts` with each adapter (one forward pass, a Parallel over them). */
  predictMulti(adapters: readonly LoadedAdapter[], texts: readonly string[], sharedLayers: number): Promise<Prediction[][]> {
    return this.submit('multi', adapters, texts, sharedLayers);
  }

  /** Refuses new work; resolves when the queue is empty and no batch runs. */
  drain(): Promise<void> {
    this.closed = true;
    if (!this.busy) return Promise.resolve();
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.schedule(); // no more company is coming: run what waits now
    return idle;
  }

  private submit(kind: Job['kind'], adapters: readonly LoadedAdapter[], texts: readonly string[], sharedLayers: number): Promise<Prediction[][]> {
    if (this.closed) return Promise.reject(new ServeError('shutting_down', 'the server is shutting down'));
    if (this.queue.length >= this.options.queueLimit) {
      return Promise.reject(new ServeError('overloaded', `the queue is full (${this.options.queueLimit} requests waiting); retry later`));
    }
    return new Promise((resolve, reject) => {
      const job: Job = { kind, adapters, texts, sharedLayers, resolve, reject, enqueuedAt: Date.now(), timer: undefined };
      job.timer = setTimeout(() => {
        const at = this.queue.indexOf(job);
        if (at < 0) return; // already running: its answer comes when the forward pass ends
        this.queue.splice(at, 1);
        this.settleIdle();
        job.reject(new ServeError('timeout', `the request waited ${this.options.timeoutMs} ms in the queue without being served`));
      }, this.options.timeoutMs);
      job.timer.unref(); // the HTTP server keeps the process alive, not a queued request's deadline
      this.queue.push(job);
      this.schedule();
    });
  }

  private queuedRows(): number {
    return this.queue.reduce((n, j) => n + j.texts.length, 0);
  }

  private schedule(): void {
    if (this.running >= this.concurrency || this.queue.length === 0) return;
    const now = this.options.batching === false || this.queuedRows() >= this.options.maxBatch || this.closed;
    if (now) {
      if (this.waitTimer) clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
      this.running += 1;
      setImmediate(() => void this.runOne());
    } else if (!this.waitTimer) {
      this.waitTimer = setTimeout(() => {
        this.waitTimer = undefined;
        if (this.running >= this.concurrency || this.queue.length === 0) return;
        this.running += 1;
        void this.runOne();
      }, Math.max(0, this.queue[0]!.enqueuedAt + this.options.maxWaitMs - Date.now()));
      this.waitTimer.unref();
    }
  }

  /**
   * The jobs of the next forward pass: the oldest job, plus (when batching) the later jobs that fit in maxBatch texts
   * and can share its pass: single jobs of its placement, or multi jobs for the same adapters and sharedLayers.
   */
  private take(): Job[] {
    const head = this.queue.shift()!;
    if (this.options.batching === false) return [head];
    const taken = [head];
    let rows = head.texts.length;
    const key = companyKey(head);
    for (let i = 0; i < this.queue.length && rows < this.options.maxBatch; ) {
      const j = this.queue[i]!;
      if (companyKey(j) === key && rows + j.texts.length <= this.options.maxBatch) {
        taken.push(j);
        rows += j.texts.length;
        this.queue.splice(i, 1);
      } else i++;
    }
    return taken;
  }

  private async runOne(): Promise<void> {
    const jobs = this.take();
    for (const j of jobs) clearTimeout(j.timer);
    // Another pass may start now (worker threads); the queue is re-examined when this one ends too.
    setImmediate(() => this.schedule());
    try {
      if (jobs[0]!.kind === 'multi') {
        const { adapters, sharedLayers } = jobs[0]!;
        const out = await this.engine.runMultiSets(adapters, jobs.map((j) => j.texts), sharedLayers);
        this.options.onBatch?.(jobs.reduce((n, j) => n + j.texts.length, 0) * adapters.length, adapters.length);
        jobs.forEach((j, i) => j.resolve(out[i]!));
      } else {
        await this.runSingles(jobs);
      }
    } catch (e) {
      for (const j of jobs) j.reject(e);
    }
    this.running -= 1;
    this.settleIdle();
    // Let the event loop accept requests between passes; they join the next batch.
    setImmediate(() => this.schedule());
  }

  private settleIdle(): void {
    if (this.busy) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Groups the jobs' texts by adapter (one BatchSplit child each) and hands each job its rows back. */
  private async runSingles(jobs: readonly Job[]): Promise<void> {
    const byAdapter = new Map<string, { adapter: LoadedAdapter; texts: string[]; owners: Array<{ job: Job; from: number }> }>();
    for (const job of jobs) {
      const a = job.adapters[0]!;
      const g = byAdapter.get(a.name) ?? { adapter: a, texts: [], owners: [] };
      g.owners.push({ job, from: g.texts.length });
      g.texts.push(...job.texts);
      byAdapter.set(a.name, g);
    }
    // Sorted by name: the same adapters with the same row counts reuse one cached batch graph, whatever the arrival order.
    const groups = [...byAdapter.values()].sort((a, b) => (a.adapter.name < b.adapter.name ? -1 : a.adapter.name > b.adapter.name ? 1 : 0));
    const out = await this.engine.runBatch(groups.map((g): BatchGroup => ({ adapter: g.adapter, texts: g.texts })));
    this.options.onBatch?.(groups.reduce((n, g) => n + g.texts.length, 0), groups.length);
    groups.forEach((g, i) => {
      for (const { job, from } of g.owners) job.resolve([out[i]!.slice(from, from + job.texts.length)]);
    });
  }
}

/** Jobs with equal keys can share a forward pass. */
function companyKey(job: Job): string {
  if (job.kind === 'single') return `single|${job.adapters[0]!.placementKey}`;
  return `multi|${job.sharedLayers}|${job.adapters.map((a) => `${a.name}@${a.generation}`).join(',')}`;
}

// The fleet's queue on BullMQ: submitting a grid, reading the jobs' states, the results table. Job ids are the
// grid's stable ids, so BullMQ itself refuses duplicates: re-submitting a grid adds only the jobs it lacks.
import type { ConnectionOptions, Job, JobType } from 'bullmq';
import { Queue } from 'bullmq';
import type { FleetJob, FleetJobSpec, Grid } from './grid';

export const DEFAULT_QUEUE = 'adapters-fleet';
/** Tries per job after failures that may be transient (a worker's crash, an I/O error); bad configs fail at once. */
export const DEFAULT_ATTEMPTS = 3;

/** What BullMQ stores per job (job.data). */
export interface FleetJobData {
  readonly name: string;
  readonly spec: FleetJobSpec;
  /** Where the worker publishes the run (directory or s3:// URL); credentials stay on the machines. */
  readonly store: string;
}

/** What a worker returns for a finished job (job.returnvalue): the run's summary numbers. */
export interface FleetResult {
  readonly location: string;
  readonly worker: string;
  readonly accuracy: number | null;
  readonly f1: number | null;
  readonly evalLoss: number | null;
  readonly steps: number;
  readonly trainSeconds: number;
  readonly seconds: number;
}

export function redisConnection(url: string): ConnectionOptions {
  // BullMQ's blocking commands need maxRetriesPerRequest: null (ioredis otherwise gives up on a slow Redis).
  return { url, maxRetriesPerRequest: null };
}

export function openQueue(name: string, connection: ConnectionOptions): Queue<FleetJobData, FleetResult> {
  return new Queue<FleetJobData, FleetResult>(name, { connection });
}

export interface SubmitResult {
  readonly added: readonly FleetJob[];
  readonly existing: readonly FleetJob[];
}

/** Adds the grid's jobs that the queue does not hold yet (any state); returns which were new. */
export async function submitGrid(queue: Queue<FleetJobData, FleetResult>, grid: Grid, store: string, attempts = DEFAULT_ATTEMPTS): Promise<SubmitResult> {
  const present = await Promise.all(grid.jobs.map((j) => queue.getJob(j.id)));
  const missing = grid.jobs.filter((_, i) => present[i] === undefined);
  // addBulk with fixed jobIds is idempotent too (BullMQ keeps the first job of an id), so a concurrent submit is safe.
  await queue.addBulk(
    missing.map((j) => ({
      name: j.name,
      data: { name: j.name, spec: j.spec, store },
      opts: { jobId: j.id, attempts, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
    })),
  );
  return { added: missing, existing: grid.jobs.filter((_, i) => present[i] !== undefined) };
}

export type FleetState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'unknown';

export interface JobStatus {
  readonly id: string;
  readonly name: string;
  readonly fleet: string;
  readonly state: FleetState;
  /** 0..1 while training (steps done / steps), 1 when completed. */
  readonly progress: number;
  /** Tries that ended in an error (a stalled try after a worker died counts in `stalls`, not here). */
  readonly attemptsMade: number;
  /** Tries started, including ones whose worker died. */
  readonly attemptsStarted: number;
  readonly stalls: number;
  readonly error?: string;
  readonly result?: FleetResult;
  readonly spec: FleetJobSpec;
}

const STATES: readonly JobType[] = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children'];

function progressOf(job: Job<FleetJobData, FleetResult>): number {
  const p = job.progress as unknown;
  if (typeof p === 'number') return p;
  if (p !== null && typeof p === 'object' && typeof (p as { fraction?: unknown }).fraction === 'number') return (p as { fraction: number }).fraction;
  return 0;
}

/** Every fleet job in the queue with its state, optionally only one grid's (by grid name). */
export async function jobStatuses(queue: Queue<FleetJobData, FleetResult>, fleet?: string): Promise<JobStatus[]> {
  const out: JobStatus[] = [];
  for (const state of STATES) {
    const jobs = await queue.getJobs([state], 0, -1);
    for (const job of jobs) {
      if (job?.id === undefined || (fleet !== undefined && job.data.spec.fleet !== fleet)) continue;
      const st: FleetState = state === 'prioritized' || state === 'waiting-children' ? 'waiting' : (state as FleetState);
      const raw = job as unknown as { attemptsStarted?: number; stc?: number; stalledCounter?: number };
      out.push({
        id: job.id,
        name: job.data.name,
        fleet: job.data.spec.fleet,
        state: st,
        progress: st === 'completed' ? 1 : progressOf(job),
        attemptsMade: job.attemptsMade,
        attemptsStarted: raw.attemptsStarted ?? job.attemptsMade,
        stalls: raw.stalledCounter ?? raw.stc ?? 0,
        ...(job.failedReason ? { error: job.failedReason.split('\n')[0] as string } : {}),
        ...(job.returnvalue ? { result: job.returnvalue } : {}),
        spec: job.data.spec,
      });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface ResultRow {
  readonly id: string;
  readonly task: string;
  readonly method: string;
  readonly seed: number;
  readonly accuracy: number | null;
  readonly f1: number | null;
  readonly evalLoss: number | null;
  readonly steps: number;
  readonly location: string;
}

export interface Results {
  readonly rows: readonly ResultRow[];
  /** Per task, the completed run with the best accuracy (then F1, then lower eval loss, then job id). */
  readonly best: ReadonlyMap<string, ResultRow>;
}

const orNegInf = (x: number | null) => (x === null ? -Infinity : x);

export function resultsTable(statuses: readonly JobStatus[]): Results {
  const rows: ResultRow[] = statuses
    .filter((s) => s.state === 'completed' && s.result !== undefined)
    .map((s) => {
      const r = s.result as FleetResult;
      return { id: s.id, task: s.spec.task, method: s.spec.methodLabel, seed: s.spec.seed, accuracy: r.accuracy, f1: r.f1, evalLoss: r.evalLoss, steps: r.steps, location: r.location };
    })
    .sort((a, b) => (a.task !== b.task ? (a.task < b.task ? -1 : 1) : a.method !== b.method ? (a.method < b.method ? -1 : 1) : a.seed - b.seed));
  const best = new Map<string, ResultRow>();
  const better = (a: ResultRow, b: ResultRow): boolean => {
    if (orNegInf(a.accuracy) !== orNegInf(b.accuracy)) return orNegInf(a.accuracy) > orNegInf(b.accuracy);
    if (orNegInf(a.f1) !== orNegInf(b.f1)) return orNegInf(a.f1) > orNegInf(b.f1);
    const la = a.evalLoss ?? Infinity;
    const lb = b.evalLoss ?? Infinity;
    if (la !== lb) return la < lb;
    return a.id < b.id;
  };
  for (const row of rows) {
    const cur = best.get(row.task);
    if (cur === undefined || better(row, cur)) best.set(row.task, row);
  }
  return { rows, best };
}

// A fleet worker: takes jobs from the BullMQ queue, trains each with the normal `adapters train` (in a child process,
// see trainer-pool.ts) into a private scratch folder, then publishes the folder to the artifact store in one step.
// BullMQ holds a lock per active job that the worker renews; if the worker dies the lock expires, another worker's
// stalled-job check puts the job back in the queue and it is trained again (bounded by maxStalledCount and attempts).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ConnectionOptions, Job } from 'bullmq';
import { UnrecoverableError, Worker } from 'bullmq';
import { trainArgv } from './grid';
import type { FleetJobData, FleetResult } from './queue';
import type { ArtifactStore } from './store';
import { openStore } from './store';
import type { TrainOutcome, TrainRequest } from './trainer-pool';

export interface JobTrainer {
  train(request: TrainRequest, onProgress: (step: number, total: number) => void): Promise<TrainOutcome>;
  close(): Promise<void>;
}

export interface FleetWorkerOptions {
  readonly queue: string;
  readonly connection: ConnectionOptions;
  readonly trainer: JobTrainer;
  /** Jobs trained at once by this worker (one training child each). */
  readonly concurrency?: number;
  /** Scratch space for runs being trained (local disk). */
  readonly workDir: string;
  /** Where the training child looks for plugin packages. */
  readonly pluginSearchPaths: readonly string[];
  /** Makes sure the job's base model is on this machine before training (fetched once per machine). */
  readonly prepareModel?: (model: string) => Promise<void>;
  /** Store by URL (default: openStore with this process's environment). */
  readonly openStore?: (url: string) => ArtifactStore;
  /** A job whose worker stops renewing its lock for this long is taken for dead (default 30 s). */
  readonly lockDurationMs?: number;
  /** How often this worker looks for such jobs (default 15 s). */
  readonly stalledIntervalMs?: number;
  /** A job whose worker died more than this many times fails (default 2). */
  readonly maxStalledCount?: number;
  /** Name in logs and results (default host:pid). */
  readonly name?: string;
  readonly log?: (line: string) => void;
}

export interface FleetWorker {
  readonly name: string;
  /** Resolves when the worker has stopped (after close()). */
  close(): Promise<void>;
}

function resultFromSummary(summary: Record<string, unknown>, location: string, worker: string): FleetResult {
  const num = (k: string): number | null => (typeof summary[k] === 'number' ? (summary[k] as number) : null);
  return { location, worker, accuracy: num('accuracy'), f1: num('f1'), evalLoss: num('evalLoss'), steps: num('steps') ?? 0, trainSeconds: num('trainSeconds') ?? 0, seconds: num('seconds') ?? 0 };
}

export function startFleetWorker(options: FleetWorkerOptions): FleetWorker {
  const name = options.name ?? `${os.hostname()}:${process.pid}`;
  const log = options.log ?? (() => undefined);
  const open = options.openStore ?? ((url: string) => openStore(url));

  async function processJob(job: Job<FleetJobData, FleetResult>): Promise<FleetResult> {
    const id = job.id as string;
    const spec = job.data.spec;
    const store = open(job.data.store);
    log(`start ${id} ${job.data.name} (try ${job.attemptsStarted})`);
    // A worker taken for dead may only have been slow and published meanwhile: then the job is done.
    const published = await store.readFile(id, 'summary.json');
    if (published !== undefined) {
      log(`already published ${id}`);
      return resultFromSummary(JSON.parse(published.toString('utf8')) as Record<string, unknown>, store.url, name);
    }
    if (options.prepareModel) await options.prepareModel(spec.model);
    const out = path.join(options.workDir, `${id}-${randomBytes(4).toString('hex')}`);
    try {
      let lastReport = 0;
      const outcome = await options.trainer.train({ argv: trainArgv(spec, out), cwd: options.workDir, pluginSearchPaths: options.pluginSearchPaths }, (step, total) => {
        if (step === total || Date.now() - lastReport > 1000) {
          lastReport = Date.now();
          void job.updateProgress({ fraction: step / total, step, total }).catch(() => undefined);
          log(`progress ${id} ${step}/${total}`);
        }
      });
      if (outcome.code === 2) throw new UnrecoverableError(`bad job configuration: ${outcome.errorLine ?? 'usage error'}`);
      if (outcome.code !== 0) throw new Error(outcome.errorLine ?? `adapters train exited with code ${outcome.code}`);
      const summary = JSON.parse(await fs.readFile(path.join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
      const fleetInfo = { jobId: id, name: job.data.name, spec, worker: name, try: job.attemptsStarted, finishedAt: new Date().toISOString() };
      await fs.writeFile(path.join(out, 'fleet.json'), `${JSON.stringify(fleetInfo, null, 2)}\n`);
      const result = await store.publish(id, out);
      log(`${result.published ? 'published' : 'already published'} ${id} ${result.location}`);
      return resultFromSummary(summary, result.location, name);
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  }

  const worker = new Worker<FleetJobData, FleetResult>(options.queue, processJob, {
    connection: options.connection,
    concurrency: options.concurrency ?? 1,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 15_000,
    maxStalledCount: options.maxStalledCount ?? 2,
    autorun: true,
  });
  worker.on('failed', (job, err) => {
    if (job) log(`failed ${job.id} (try ${job.attemptsMade}): ${err.message.split('\n')[0]}`);
  });
  worker.on('error', (err) => log(`worker error: ${err.message}`));
  return {
    name,
    async close() {
      await worker.close();
      await options.trainer.close();
    },
  };
}

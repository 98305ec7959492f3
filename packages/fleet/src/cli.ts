// `adapters fleet submit|worker|status|collect`: the fleet as subcommands of the `adapters` CLI (found by plugin
// discovery through this package's `./cli` entry, like adapter-fusion's).
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CliCommand, CliContext, CommandSpec, OptionSpec, ParsedArgs } from '@adapters/cli';
import { option, resolveModel, UsageError } from '@adapters/cli';
import { UnrecoverableError } from 'bullmq';
import { cacheRoot, isModelDirComplete, modelCacheDir } from '@adapters/core-graph';
import { parseGrid } from './grid';
import { fetchOncePerMachine } from './machine-lock';
import type { JobStatus, Results } from './queue';
import { DEFAULT_ATTEMPTS, DEFAULT_QUEUE, jobStatuses, openQueue, redisConnection, resultsTable, submitGrid } from './queue';
import { openStore } from './store';
import { TrainerPool } from './trainer-pool';
import { startFleetWorker } from './worker';

const REDIS: OptionSpec = { name: 'redis', type: 'string', metavar: 'URL', help: 'Redis every machine reaches (also $ADAPTERS_REDIS_URL)', defaultText: 'redis://127.0.0.1:6379' };
const QUEUE: OptionSpec = { name: 'queue', type: 'string', metavar: 'NAME', help: 'queue name (one Redis can hold several fleets)', defaultText: DEFAULT_QUEUE };
const FLEET: OptionSpec = { name: 'fleet', type: 'string', metavar: 'NAME', help: "only this grid's jobs (the grid's name)" };
const JSON_OUT: OptionSpec = { name: 'json', type: 'boolean', help: 'print JSON instead of a table' };

export const SUBMIT_SPEC: CommandSpec = {
  name: 'fleet submit',
  brief: 'queue the training jobs of a grid (idempotent: re-submitting adds only missing jobs)',
  summary:
    'Expands GRID.yaml (model, methods × tasks or languages × seeds, hyper-parameters) into one `adapters train` job per cell and adds the jobs to the ' +
    'BullMQ queue in Redis. A job id is a hash of its settings, so submitting the same grid again adds nothing twice. Data paths are relative to the grid ' +
    'file and must be readable by every worker (a shared mount).',
  usage: 'GRID.yaml --store DIR|s3://BUCKET/PREFIX [--redis URL] [options]',
  positional: 'grid',
  options: [
    { name: 'grid', type: 'string', metavar: 'FILE', help: 'the grid file (YAML or JSON)' },
    { name: 'store', type: 'string', metavar: 'DIR|URL', help: 'where workers publish runs: a shared directory, or s3://BUCKET/PREFIX (credentials from AWS_* variables on each machine)' },
    { name: 'attempts', type: 'int', min: 1, max: 20, metavar: 'N', help: 'tries per job after failures that may be transient', defaultText: String(DEFAULT_ATTEMPTS) },
    REDIS,
    QUEUE,
  ],
  examples: ['adapters fleet submit grid.yaml --store /shared/runs --redis redis://queue-host:6379'],
};

export const WORKER_SPEC: CommandSpec = {
  name: 'fleet worker',
  brief: 'train queued jobs and publish their runs (one per machine or core budget)',
  summary:
    'Takes jobs from the queue, trains each with `adapters train` in a child process, and publishes the run folder to the store in one step. ' +
    'The base model is fetched once per machine (model cache + lock file). If this process dies, its jobs are retried by other workers once their lock ' +
    'expires; jobs with a bad configuration fail once, without retries. Stops on SIGINT / SIGTERM after the running jobs.',
  usage: '[--redis URL] [--concurrency N] [options]',
  options: [
    { name: 'concurrency', type: 'int', min: 1, max: 64, metavar: 'N', help: 'jobs trained at once (one training process each)', defaultText: '1' },
    { name: 'work-dir', type: 'string', metavar: 'DIR', help: 'local scratch space for runs in training', defaultText: 'a temp directory' },
    { name: 'lock-ms', type: 'int', min: 1000, metavar: 'MS', help: 'a job whose worker has not renewed its lock for this long is retried elsewhere', defaultText: '30000' },
    { name: 'stalled-ms', type: 'int', min: 500, metavar: 'MS', help: 'how often this worker checks for such jobs', defaultText: '15000' },
    { name: 'max-stalls', type: 'int', min: 0, max: 20, metavar: 'N', help: 'a job whose worker died more often fails', defaultText: '2' },
    { name: 'until-empty', type: 'boolean', help: 'exit once the queue has no waiting, delayed or active jobs' },
    REDIS,
    QUEUE,
  ],
  examples: ['adapters fleet worker --redis redis://queue-host:6379 --concurrency 2'],
};

export const STATUS_SPEC: CommandSpec = {
  name: 'fleet status',
  brief: 'progress of every job; failures with their error line',
  summary: 'Lists the jobs of the queue with their state, progress, tries and, for failed jobs, the error line.',
  usage: '[--redis URL] [--fleet NAME] [--json]',
  options: [FLEET, JSON_OUT, REDIS, QUEUE],
};

export const COLLECT_SPEC: CommandSpec = {
  name: 'fleet collect',
  brief: 'results table of finished jobs and the best run per task',
  summary: 'Prints one row per finished job (task, method, seed, accuracy, F1, eval loss, steps, where the run is) and the best run per task (accuracy, then F1, then eval loss).',
  usage: '[--redis URL] [--fleet NAME] [--out FILE.tsv] [--json]',
  options: [FLEET, option('out', { metavar: 'FILE', help: 'also write the table as TSV' }), JSON_OUT, REDIS, QUEUE],
};

function connectionOf(args: ParsedArgs, ctx: CliContext) {
  const url = args.string('redis') ?? ctx.env['ADAPTERS_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\//.test(url)) throw new UsageError(`--redis '${url}' must be a redis:// or rediss:// URL`, args.command);
  return redisConnection(url);
}

const queueName = (args: ParsedArgs) => args.string('queue') ?? DEFAULT_QUEUE;

export async function submitCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const file = path.resolve(ctx.cwd, args.requireString('grid', 'the grid file'));
  const store = args.requireString('store', 'a shared directory or s3://BUCKET/PREFIX');
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, 'fleet submit');
  });
  const grid = parseGrid(text, file);
  const storeUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(store) ? store : path.resolve(ctx.cwd, store);
  openStore(storeUrl, ctx.env); // checks the URL (and S3 credentials) before anything is queued
  const queue = openQueue(queueName(args), connectionOf(args, ctx));
  try {
    const { added, existing } = await submitGrid(queue, grid, storeUrl, args.number('attempts') ?? DEFAULT_ATTEMPTS);
    for (const j of added) ctx.stdout.write(`added ${j.id} ${j.name}\n`);
    ctx.stdout.write(`${grid.name}: ${grid.jobs.length} jobs, ${added.length} added, ${existing.length} already queued\n`);
  } finally {
    await queue.close();
  }
}

/** Makes sure a named model is in this machine's cache, downloading it at most once per machine. */
async function prepareModel(model: string, ctx: CliContext): Promise<void> {
  const stat = await fs.stat(model).catch(() => undefined);
  if (stat?.isDirectory()) return;
  let cached: string | undefined;
  try {
    cached = modelCacheDir(model, cacheRoot());
  } catch {
    cached = undefined;
  }
  const lock = path.join(cacheRoot(), 'models', `.fleet-${model.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
  const state = await fetchOncePerMachine(
    lock,
    async () => cached !== undefined && (await isModelDirComplete(cached)),
    async () => {
      try {
        await resolveModel(model, ctx.cwd, (line) => ctx.stderr.write(`${line}\n`));
      } catch (e) {
        // An unknown model name fails the same way on every machine: not worth retrying.
        if (e instanceof UsageError) throw new UnrecoverableError(`bad job configuration: ${e.message}`);
        throw e;
      }
    },
  );
  if (state === 'fetched') ctx.stderr.write(`model ${model} fetched into this machine's cache\n`);
}

export async function workerCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const connection = connectionOf(args, ctx);
  const workDir = args.string('work-dir') !== undefined ? path.resolve(ctx.cwd, args.string('work-dir') as string) : await fs.mkdtemp(path.join(os.tmpdir(), 'adapters-fleet-'));
  await fs.mkdir(workDir, { recursive: true });
  const log = (line: string) => ctx.stdout.write(`${line}\n`);
  const lockMs = args.number('lock-ms');
  const stalledMs = args.number('stalled-ms');
  const maxStalls = args.number('max-stalls');
  const concurrency = args.number('concurrency') ?? 1;
  const worker = startFleetWorker({
    queue: queueName(args),
    connection,
    trainer: new TrainerPool({ prewarm: concurrency }),
    concurrency,
    workDir,
    pluginSearchPaths: ctx.pluginSearchPaths,
    prepareModel: (model) => prepareModel(model, ctx),
    openStore: (url) => openStore(url, ctx.env),
    ...(lockMs !== undefined ? { lockDurationMs: lockMs } : {}),
    ...(stalledMs !== undefined ? { stalledIntervalMs: stalledMs } : {}),
    ...(maxStalls !== undefined ? { maxStalledCount: maxStalls } : {}),
    log,
  });
  log(`worker ${worker.name} on queue ${queueName(args)} (concurrency ${args.number('concurrency') ?? 1})`);
  const queue = args.flag('until-empty') ? openQueue(queueName(args), connection) : undefined;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (queue) {
      const timer = setInterval(() => {
        void queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized').then((c) => {
          if (Object.values(c).every((n) => n === 0)) {
            clearInterval(timer);
            resolve();
          }
        }, () => undefined);
      }, 1000);
    }
  });
  log('stopping: finishing running jobs');
  await worker.close();
  await queue?.close();
  log('stopped');
}

const fmt = (x: number | null | undefined, digits = 4) => (x === null || x === undefined ? '-' : x.toFixed(digits));

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export function statusTable(statuses: readonly JobStatus[]): string {
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const head = ['job', 'name', 'state', 'progress', 'tries', 'error'];
  const rows = statuses.map((s) => [s.id, s.name, s.state, `${Math.round(s.progress * 100)}%`, String(Math.max(s.attemptsStarted, s.attemptsMade)), s.error ?? '']);
  return `${table([head, ...rows])}\n${statuses.length} jobs: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'}`;
}

export async function statusCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const queue = openQueue(queueName(args), connectionOf(args, ctx));
  try {
    const statuses = await jobStatuses(queue, args.string('fleet'));
    ctx.stdout.write(args.flag('json') ? `${JSON.stringify(statuses, null, 2)}\n` : `${statusTable(statuses)}\n`);
  } finally {
    await queue.close();
  }
}

export function resultsText(results: Results): { table: string; tsv: string } {
  const head = ['task', 'method', 'seed', 'accuracy', 'f1', 'eval_loss', 'steps', 'job', 'run'];
  const rows = results.rows.map((r) => [r.task, r.method, String(r.seed), fmt(r.accuracy), fmt(r.f1), fmt(r.evalLoss), String(r.steps), r.id, r.location]);
  const best = [...results.best.values()].map((r) => `best for ${r.task}: ${r.method} seed ${r.seed} (accuracy ${fmt(r.accuracy)}, F1 ${fmt(r.f1)}) ${r.location}`);
  return { table: [table([head, ...rows]), '', ...best].join('\n'), tsv: [head, ...rows].map((r) => r.join('\t')).join('\n') };
}

export async function collectCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const queue = openQueue(queueName(args), connectionOf(args, ctx));
  try {
    const statuses = await jobStatuses(queue, args.string('fleet'));
    const results = resultsTable(statuses);
    const unfinished = statuses.filter((s) => s.state !== 'completed');
    const text = resultsText(results);
    if (args.string('out') !== undefined) await fs.writeFile(path.resolve(ctx.cwd, args.string('out') as string), `${text.tsv}\n`);
    if (args.flag('json')) ctx.stdout.write(`${JSON.stringify({ rows: results.rows, best: Object.fromEntries(results.best) }, null, 2)}\n`);
    else ctx.stdout.write(`${text.table}\n`);
    if (unfinished.length > 0) ctx.stderr.write(`${unfinished.length} jobs not finished (see 'adapters fleet status')\n`);
  } finally {
    await queue.close();
  }
}

/** The subcommands this package adds to the `adapters` CLI. */
export const commands: CliCommand[] = [
  { spec: SUBMIT_SPEC, run: submitCommand },
  { spec: WORKER_SPEC, run: workerCommand },
  { spec: STATUS_SPEC, run: statusCommand },
  { spec: COLLECT_SPEC, run: collectCommand },
];

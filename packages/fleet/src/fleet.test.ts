// The fleet end to end on a real redis-server: `adapters fleet submit` a grid of small jobs (tiny BERT, real
// seq_bn / par_bn adapters, the normal trainer), two `adapters fleet worker` processes, one SIGKILLed (with its
// training child) in the middle of a job. Checks: every job completes and is published exactly once; the killed job
// was started again elsewhere; the published runs equal single-process `adapters train` runs with the same seeds
// bit for bit (adapter weights, run.json, metrics); a bad config fails once without retries; re-submitting adds
// nothing; status and collect report it all.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { parseGrid, trainArgv } from './grid';
import { jobStatuses, openQueue, redisConnection } from './queue';
import type { JobStatus } from './queue';
import { listFiles } from './files';
import type { RedisServer } from './__tests__/redis-server';
import { redisServerAvailable, startRedis } from './__tests__/redis-server';

const REPO = path.resolve(__dirname, '..', '..', '..');
const POSITIVE = ['good', 'great', 'fun', 'lovely', 'superb', 'charming'];
const NEGATIVE = ['bad', 'awful', 'boring', 'dull', 'poor', 'tedious'];
const FILLER = ['the', 'movie', 'film', 'was', 'is', 'a', 'very', 'plot', 'and', 'acting'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POSITIVE, ...NEGATIVE, ...FILLER];

/** Label = whether the sentence has a positive word (`flip`: the opposite task); deterministic. */
function writeData(file: string, count: number, offset: number, flip: boolean): void {
  const rows = ['sentence\tlabel'];
  for (let i = 0; i < count; i++) {
    const positive = (i + offset) % 2 === 0;
    const words = positive ? POSITIVE : NEGATIVE;
    rows.push(`${FILLER[(i * 3 + offset) % FILLER.length]} ${FILLER[(i + 1) % FILLER.length]} ${words[(i + offset) % words.length]}\t${positive !== flip ? 'yes' : 'no'}`);
  }
  writeFileSync(file, `${rows.join('\n')}\n`);
}

const GRID = `# a small grid: 2 tasks x 2 methods x 2 seeds = 8 jobs
name: tiny
model: ./model
backend: cpu
methods: [seq_bn, "par_bn"]
tasks:
  sent: { data: data/sent-train.tsv, eval: data/sent-dev.tsv }
  flip: { data: data/flip-train.tsv, eval: data/flip-dev.tsv }
seeds: [1, 2]
hyper: { epochs: 1, max-steps: 40, batch-size: 4, max-length: 12, lr: 0.01, eval-every: 20 }
`;

const BAD_GRID = `name: bad
model: ./model
backend: cpu
methods: ["seq_bn:reduction_factor=-4"]
tasks: { sent: { data: data/sent-train.tsv } }
seeds: [1]
hyper: { max-steps: 5 }
`;

const haveRedis = redisServerAvailable();
if (!haveRedis && process.env['CI'] !== undefined) throw new Error('redis-server is not installed (apt-get install redis-server; .ci/run does this)');
const suite = haveRedis ? describe : describe.skip;
if (!haveRedis) console.warn('fleet tests skipped: redis-server is not installed (apt-get install redis-server)');

interface WorkerProc {
  readonly proc: ChildProcess;
  readonly lines: string[];
  waitFor(re: RegExp, after?: number, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

let redis: RedisServer;
let tmp: string;
let project: string;
let store: string;
const procs: ChildProcess[] = [];

/** `adapters ARGV` in a child process (from source), as its own process group so a SIGKILL takes its children too. */
function startWorker(argv: readonly string[]): WorkerProc {
  const proc = spawn(process.execPath, ['-r', path.join(REPO, 'scripts', 'register-source.js'), path.join(tmp, 'adapters.js'), ...argv], {
    cwd: project, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  procs.push(proc);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const waitFor = (re: RegExp, after = 0, timeoutMs = 240_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in worker output:\n${lines.join('\n')}\n${err.slice(-2000)}`)), timeoutMs);
      const check = () => {
        for (let i = after; i < lines.length; i++) {
          const m = re.exec(lines[i] as string);
          if (m) {
            clearTimeout(timer);
            return resolve(m);
          }
        }
        waiters.push(check);
      };
      check();
    });
  return { proc, lines, waitFor, exited };
}

async function statuses(fleet?: string): Promise<JobStatus[]> {
  const queue = openQueue('adapters-fleet', redisConnection(redis.url));
  try {
    return await jobStatuses(queue, fleet);
  } finally {
    await queue.close();
  }
}

async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Every file of a run folder except the fleet's own record and the timing-dependent ones, for exact comparison. */
function comparable(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(path.join(dir, 'adapter'))) out[`adapter/${f}`] = readFileSync(path.join(dir, 'adapter', f)).toString('base64');
  out['run.json'] = readFileSync(path.join(dir, 'run.json'), 'utf8');
  const untimed = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([k]) => !/seconds|backend/i.test(k)));
  out['summary.json'] = JSON.stringify(untimed(JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>));
  out['metrics.jsonl'] = readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.stringify(untimed(JSON.parse(l) as Record<string, unknown>))).join('\n');
  return out;
}

suite('fleet on a real redis-server', () => {
  beforeAll(async () => {
    redis = await startRedis();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'fleet-e2e-'));
    project = path.join(tmp, 'project');
    mkdirSync(path.join(project, 'data'), { recursive: true });
    writeTinyModelDir(path.join(project, 'model'), VOCAB);
    writeData(path.join(project, 'data', 'sent-train.tsv'), 48, 0, false);
    writeData(path.join(project, 'data', 'sent-dev.tsv'), 16, 1, false);
    writeData(path.join(project, 'data', 'flip-train.tsv'), 48, 2, true);
    writeData(path.join(project, 'data', 'flip-dev.tsv'), 16, 3, true);
    writeFileSync(path.join(project, 'grid.yaml'), GRID);
    writeFileSync(path.join(project, 'bad.yaml'), BAD_GRID);
    linkAdapterPackages(project, ['adapter-bottleneck', 'fleet'].map((p) => path.join(REPO, 'packages', p)));
    writeFileSync(
      path.join(tmp, 'adapters.js'),
      `const { main } = require(${JSON.stringify(path.join(REPO, 'packages', 'cli', 'src', 'cli', 'main.ts'))});\n` +
        `main(process.argv.slice(2), { pluginSearchPaths: [process.cwd()] }).then((code) => { process.exitCode = code; });\n`,
    );
    store = path.join(tmp, 'store');
  });

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await redis?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('two workers, one SIGKILLed mid-job: every job published exactly once, equal to single-process runs', async () => {
    const submit = await runCliIn(project, ['fleet', 'submit', 'grid.yaml', '--store', store, '--redis', redis.url]);
    expect(submit.err).toBe('');
    expect(submit.code).toBe(0);
    expect(submit.out).toMatch(/tiny: 8 jobs, 8 added, 0 already queued/);
    const again = await runCliIn(project, ['fleet', 'submit', 'grid.yaml', '--store', store, '--redis', redis.url]);
    expect(again.out).toMatch(/tiny: 8 jobs, 0 added, 8 already queued/);

    const opts = ['--redis', redis.url, '--lock-ms', '3000', '--stalled-ms', '1000', '--work-dir'];
    const a = startWorker(['fleet', 'worker', ...opts, path.join(tmp, 'work-a')]);
    const b = startWorker(['fleet', 'worker', ...opts, path.join(tmp, 'work-b')]);
    // Let A finish one job, then kill it (and its training child) in the middle of its next one.
    const firstDone = await a.waitFor(/^published (j[0-9a-f]+)/);
    const next = await a.waitFor(/^start (j[0-9a-f]+)/, a.lines.indexOf(firstDone.input) + 1);
    const killed = next[1] as string;
    await a.waitFor(new RegExp(`^progress ${killed} \\d+/\\d+`), a.lines.indexOf(next.input));
    process.kill(-(a.proc.pid as number), 'SIGKILL');
    await a.exited;

    await waitUntil('all 8 jobs completed', async () => (await statuses('tiny')).filter((s) => s.state === 'completed').length === 8, 240_000);
    const all = await statuses('tiny');
    const published = [...a.lines, ...b.lines].map((l) => /^published (j[0-9a-f]+)/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
    expect(published.sort()).toEqual(all.map((s) => s.id).sort()); // each job published once, by one worker
    expect(a.lines.some((l) => l === `published ${killed}` || l.startsWith(`published ${killed} `))).toBe(false);
    expect(b.lines.filter((l) => l.startsWith(`start ${killed} `))).toHaveLength(1);
    expect(all.find((s) => s.id === killed)?.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(readdirSync(path.join(store, 'runs')).sort()).toEqual(all.map((s) => s.id).sort());
    expect(readdirSync(path.join(store, '.staging'))).toEqual([]);

    // Same jobs in this process with plain `adapters train`: bit-exact equal runs (the killed job and one other).
    const grid = parseGrid(GRID, path.join(project, 'grid.yaml'));
    const other = grid.jobs.find((j) => j.id !== killed) as (typeof grid.jobs)[number];
    for (const job of [grid.jobs.find((j) => j.id === killed), other]) {
      const out = path.join(tmp, `single-${job!.id}`);
      const run = await runCliIn(project, trainArgv(job!.spec, out));
      expect(run.code).toBe(0);
      expect(comparable(path.join(store, 'runs', job!.id))).toEqual(comparable(out));
      expect(await listFiles(path.join(store, 'runs', job!.id))).toEqual([...(await listFiles(out)), 'fleet.json'].sort());
    }

    // A bad configuration fails on the first try, without retries, with its error line.
    const bad = await runCliIn(project, ['fleet', 'submit', 'bad.yaml', '--store', store, '--redis', redis.url]);
    expect(bad.code).toBe(0);
    await waitUntil('the bad job failed', async () => (await statuses('bad')).some((s) => s.state === 'failed'), 60_000);
    await new Promise((r) => setTimeout(r, 2500)); // a retry, if there were one, would have started by now
    const [failed] = await statuses('bad');
    expect(failed?.state).toBe('failed');
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.error).toMatch(/bad job configuration: .*reduction_factor/);
    expect(b.lines.filter((l) => l.startsWith(`start ${failed!.id} `))).toHaveLength(1);
    expect(readdirSync(path.join(store, 'runs'))).not.toContain(failed!.id);

    const status = await runCliIn(project, ['fleet', 'status', '--redis', redis.url]);
    expect(status.out).toMatch(new RegExp(`${failed!.id}\\s+sent/seq_bn:reduction_factor=-4/s1\\s+failed\\s+0%\\s+1\\s+bad job configuration`));
    expect(status.out).toMatch(/9 jobs: 8 completed, 1 failed/);
    const collect = await runCliIn(project, ['fleet', 'collect', '--fleet', 'tiny', '--redis', redis.url, '--out', 'results.tsv']);
    expect(collect.code).toBe(0);
    expect(readFileSync(path.join(project, 'results.tsv'), 'utf8').trim().split('\n')).toHaveLength(9);
    expect(collect.out).toMatch(/best for flip: /);
    expect(collect.out).toMatch(/best for sent: /);

    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  }, 400_000);
});

// Fleet throughput (`npm run fleet-throughput -w @adapters/bench`): jobs/hour with 1 vs 2 `adapters fleet worker`
// processes on this machine, on a private redis-server (free loopback port, temp dir). Jobs are small real ones:
// seq_bn on the base model (default all-MiniLM-L6-v2, which must be in the model cache) and the CLI's shipped
// sentiment data, --steps steps each, one job per seed. Workers are started and warm (trainer child loaded) before
// the grid is submitted, so the numbers are steady-state throughput, not process start-up. Prints one JSON line per
// worker count with the load average, since the machine may be shared.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { demoSentimentFiles } from '@adapters/cli';
import { linkAdapterPackages } from '@adapters/cli/testing';
import { jobStatuses, openQueue, redisConnection } from '@adapters/fleet';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] as string) : fallback;
};
const JOBS = Number(flag('--jobs', '6'));
const STEPS = Number(flag('--steps', '12'));
const MODEL = flag('--model', 'all-MiniLM-L6-v2');
const WORKER_COUNTS = flag('--workers', '1,2').split(',').map(Number);
const REPO = resolve(__dirname, '..', '..');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => res(port));
    });
  });
}

function waitForLine(proc: ChildProcess, re: RegExp): Promise<void> {
  return new Promise((res, rej) => {
    let buf = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) res();
    });
    proc.once('exit', (code) => rej(new Error(`process exited (${code}) before printing ${re}:\n${buf}`)));
  });
}

async function main(): Promise<void> {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not installed');
  const tmp = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', tmp, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await waitForLine(redis, /Ready to accept connections/);
  const url = `redis://127.0.0.1:${port}`;
  const project = join(tmp, 'project');
  mkdirSync(project);
  linkAdapterPackages(project, ['adapter-bottleneck', 'fleet'].map((p) => join(REPO, 'packages', p)));
  writeFileSync(join(tmp, 'adapters.js'), `require(${JSON.stringify(join(REPO, 'packages', 'cli', 'src', 'cli', 'main.ts'))}).main(process.argv.slice(2), { pluginSearchPaths: [process.cwd()] }).then((c) => { process.exitCode = c; });\n`);
  const data = demoSentimentFiles();
  const seeds = Array.from({ length: JOBS }, (_, i) => i + 1);
  const procs: ChildProcess[] = [];
  const adapters = (argv: string[]) => {
    const p = spawn(process.execPath, ['-r', join(REPO, 'scripts', 'register-source.js'), join(tmp, 'adapters.js'), ...argv], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    procs.push(p);
    return p;
  };
  try {
    for (const workers of WORKER_COUNTS) {
      const queueName = `bench-${workers}`;
      const grid = join(project, `grid-${workers}.yaml`);
      writeFileSync(grid, [
        `name: bench${workers}`, `model: ${MODEL}`, 'methods: [seq_bn]',
        `tasks: { sentiment: { data: ${JSON.stringify(data.train)}, eval: ${JSON.stringify(data.dev)} } }`,
        `seeds: [${seeds.join(', ')}]`, `hyper: { max-steps: ${STEPS}, batch-size: 16, max-length: 64, train-limit: 512, eval-every: 1000 }`, '',
      ].join('\n'));
      const ws = Array.from({ length: workers }, (_, i) => adapters(['fleet', 'worker', '--redis', url, '--queue', queueName, '--work-dir', join(tmp, `work-${workers}-${i}`)]));
      await Promise.all(ws.map((w) => waitForLine(w, /^worker .* on queue/m)));
      await new Promise((r) => setTimeout(r, 15_000)); // let the pre-warmed trainer children finish loading
      const load = loadavg()[0];
      const t0 = Date.now();
      const submit = adapters(['fleet', 'submit', grid, '--store', join(tmp, `store-${workers}`), '--redis', url, '--queue', queueName]);
      await new Promise((r) => submit.once('exit', r));
      const queue = openQueue(queueName, redisConnection(url));
      let done = 0;
      let trainSeconds = 0;
      while (done < JOBS) {
        await new Promise((r) => setTimeout(r, 500));
        const st = await jobStatuses(queue);
        const failed = st.filter((s) => s.state === 'failed');
        if (failed.length > 0) throw new Error(`job failed: ${failed[0]?.error}`);
        const completed = st.filter((s) => s.state === 'completed');
        done = completed.length;
        trainSeconds = completed.reduce((a, s) => a + (s.result?.trainSeconds ?? 0), 0);
      }
      const seconds = (Date.now() - t0) / 1000;
      await queue.close();
      for (const w of ws) w.kill('SIGTERM');
      await Promise.all(ws.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
      console.log(JSON.stringify({ workers, jobs: JOBS, stepsPerJob: STEPS, model: MODEL, seconds: Number(seconds.toFixed(1)), jobsPerHour: Math.round((JOBS * 3600) / seconds), meanTrainSecondsPerJob: Number((trainSeconds / JOBS).toFixed(1)), load1mAtStart: Number(load?.toFixed(1)), load1mAtEnd: Number(loadavg()[0]?.toFixed(1)), cores: cpus().length }));
    }
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    redis.kill('SIGTERM');
    await new Promise((r) => redis.once('exit', r));
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

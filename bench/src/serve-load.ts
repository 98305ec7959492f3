// Load test of @adapters/serve over loopback (`npm run serve-load -w @adapters/bench`): throughput and p50/p99
// latency vs the number of distinct adapters in the traffic (1, 8, 64), dynamic batching vs the naive server
// (one request = one forward pass), and the multi-task endpoint vs N single calls. Bounded: every scenario runs
// --duration seconds (default 8, in --rounds windows alternating with its pair: batched/naive run side by side in two
// child processes, so a busy neighbour slows both alike) with --connections keep-alive connections (default 32).
// A small random BERT (--hidden 128, --layers 4) and 64 seq_bn adapters are written to a temp dir; --workers N runs
// both servers' passes in N worker threads.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { plugins } from '@adapters/adapter-bottleneck';
import { AdapterModel, selectBackend } from '@adapters/core-graph';
import { writeTinyModelDir } from '@adapters/core-graph/testing';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const DURATION_S = flag('--duration', 8);
const CONNECTIONS = flag('--connections', 32);
const HIDDEN = flag('--hidden', 128);
const LAYERS = flag('--layers', 4);
const MAX_BATCH = flag('--max-batch', 32);
const MAX_WAIT_MS = flag('--max-wait-ms', 5);
/** Worker threads per server (0: passes on the server's main thread). */
const WORKERS = flag('--workers', 0);
const COUNTS = [1, 8, 64];
const TASKS = 8;
/** Alternating measurement windows per server and scenario. */
const ROUNDS = flag('--rounds', 4);

const WORDS = ['good', 'great', 'fun', 'lovely', 'bad', 'awful', 'boring', 'dull', 'the', 'movie', 'film', 'was', 'is', 'a', 'very', 'plot'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS];
const text = (i: number): string => Array.from({ length: 4 + (i % 12) }, (_w, j) => WORDS[(i * 5 + j * 3) % WORDS.length]).join(' ');

async function writeAdapters(root: string, count: number): Promise<{ model: string; adaptersDir: string }> {
  const model = join(root, 'model');
  const adaptersDir = join(root, 'adapters');
  mkdirSync(adaptersDir, { recursive: true });
  writeTinyModelDir(model, VOCAB, { hiddenSize: HIDDEN, numLayers: LAYERS });
  for (let i = 0; i < count; i++) {
    const m = await AdapterModel.fromPretrained(model, { plugins, seed: i });
    const name = `t${i}`;
    m.addAdapter(name, 'bottleneck', { config: 'seq_bn', reduction_factor: 16 });
    m.addClassificationHead(name, { labels: ['neg', 'pos'] });
    for (const p of m.graph.params.values()) if (p.owner === `adapter:${name}`) m.store.assign(p.key, tf.tidy(() => tf.randomNormal([...p.shape], 0, 0.1, 'float32', i)));
    await m.saveAdapter(join(adaptersDir, name), name);
    m.dispose();
  }
  return { model, adaptersDir };
}

interface Child {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly backend: string;
}

function startServer(cfg: Record<string, unknown>): Promise<Child> {
  const proc = spawn(process.execPath, ['-r', resolve(__dirname, '../../scripts/register-source.js'), resolve(__dirname, 'serve-child.ts'), JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    let buffered = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const m = /listening (\S+) (.*)\n/.exec(buffered);
      if (m) ok({ proc, url: m[1]!, backend: m[2]! });
    });
    proc.once('exit', (code) => fail(new Error(`server exited with code ${code}`)));
  });
}

async function stopServer(child: Child): Promise<void> {
  const exited = new Promise((r) => child.proc.once('exit', r));
  child.proc.kill('SIGTERM');
  await exited;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function postJson(url: string, path: string, body: unknown): Promise<number> {
  const data = JSON.stringify(body);
  const u = new URL(path, url);
  return new Promise((ok, fail) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      res.resume();
      res.once('end', () => ok(res.statusCode ?? 0));
    });
    req.once('error', fail);
    req.end(data);
  });
}

async function scrape(url: string, metric: string): Promise<{ sum: number; count: number }> {
  const textBody = await (await fetch(new URL('/metrics', url))).text();
  const sum = Number(new RegExp(`^${metric}_sum (\\S+)$`, 'm').exec(textBody)?.[1] ?? 0);
  const count = Number(new RegExp(`^${metric}_count (\\S+)$`, 'm').exec(textBody)?.[1] ?? 0);
  return { sum, count };
}

interface LoadResult {
  readonly ops: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly seconds: number;
  readonly latencies: readonly number[];
}

/** Windows pooled: total ops over total time, percentiles of all latencies. */
function merge(windows: readonly LoadResult[]): LoadResult {
  const latencies = windows.flatMap((w) => w.latencies).sort((a, b) => a - b);
  const seconds = windows.reduce((t, w) => t + w.seconds, 0);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { ops: latencies.length, perSecond: latencies.length / seconds, p50: q(0.5), p99: q(0.99), errors: windows.reduce((e, w) => e + w.errors, 0), seconds, latencies };
}

/** Closed loop: `workers` clients each repeat `op` until the deadline; latency per op in ms. */
async function closedLoop(workers: number, op: (i: number) => Promise<boolean>, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let counter = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const ok = await op(counter++).catch(() => false);
      latencies.push(performance.now() - t0);
      if (!ok) errors++;
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { ops: latencies.length, perSecond: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), errors, seconds: elapsed, latencies };
}

const fmt = (x: number, d = 1) => x.toFixed(d);

/** Median of sorted values. */
function median(sorted: readonly number[]): number {
  const mid = sorted.length / 2;
  return sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
let loadStart = '';

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'serve-load-'));
  const rows: Array<Record<string, unknown>> = [];
  try {
    await selectBackend();
    loadStart = loadavg().map((x) => x.toFixed(1)).join(' / ');
    process.stderr.write(`writing a random BERT (hidden ${HIDDEN}, ${LAYERS} layers) and 64 adapters...\n`);
    const { model, adaptersDir } = await writeAdapters(root, 64);
    const names = Array.from({ length: 64 }, (_v, i) => `t${i}`);
    const lines = [
      `| traffic | server | requests/s | p50 ms | p99 ms | mean texts per forward | batched ÷ naive throughput (median of ${ROUNDS} paired windows) | errors |`,
      `|---|---|---:|---:|---:|---:|---:|---:|`,
    ];
    let backend = '';
    for (const n of COUNTS) {
      // Both servers run side by side and are driven in alternating windows, so a busy neighbour slows both alike.
      const servers = await Promise.all([true, false].map((batching) => startServer({ model, adaptersDir, batching, maxBatch: MAX_BATCH, maxWaitMs: MAX_WAIT_MS, workers: WORKERS, preload: names.slice(0, n) })));
      backend = servers[0]!.backend;
      try {
        const drive = (child: Child, seconds: number) => closedLoop(CONNECTIONS, (i) => postJson(child.url, '/v1/predict', { adapter: names[(i * 7) % n], texts: [text(i)] }).then((st) => st === 200), seconds);
        for (const child of servers) await drive(child, 1); // warm-up: kernels, graphs
        const before = await Promise.all(servers.map((c) => scrape(c.url, 'adapters_batch_rows')));
        const windows: LoadResult[][] = [[], []];
        for (let r = 0; r < ROUNDS; r++) for (const [k, child] of servers.entries()) windows[k]!.push(await drive(child, DURATION_S / ROUNDS));
        const after = await Promise.all(servers.map((c) => scrape(c.url, 'adapters_batch_rows')));
        const ratios = windows[0]!.map((w, r) => w.perSecond / windows[1]![r]!.perSecond).sort((a, b) => a - b);
        const ratio = median(ratios);
        for (const [k, batching] of [true, false].entries()) {
          const r = merge(windows[k]!);
          const perForward = (after[k]!.sum - before[k]!.sum) / Math.max(1, after[k]!.count - before[k]!.count);
          const { latencies: _lat, ...summary } = r;
          rows.push({ scenario: 'predict', adapters: n, batching, ...summary, perForward, ...(batching ? { ratio, ratios } : {}) });
          lines.push(`| ${n} adapter${n > 1 ? 's' : ''} | ${batching ? `batched (≤${MAX_BATCH}, ${MAX_WAIT_MS} ms)` : 'naive'} | ${fmt(r.perSecond)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(perForward, 1)} | ${batching ? `**${fmt(ratio, 2)}×** (${ratios.map((x) => fmt(x, 2)).join(', ')})` : ''} | ${r.errors} |`);
          process.stderr.write(`${lines[lines.length - 1]}\n`);
        }
      } finally {
        await Promise.all(servers.map(stopServer));
      }
    }
    const multiLines = [`| ${TASKS} tasks per text | task sets/s | p50 ms | p99 ms | ÷ ${TASKS} single calls (median of ${ROUNDS} paired windows) | errors |`, `|---|---:|---:|---:|---:|---:|`];
    const child = await startServer({ model, adaptersDir, batching: true, maxBatch: MAX_BATCH, maxWaitMs: MAX_WAIT_MS, workers: WORKERS, preload: names.slice(0, TASKS) });
    try {
      const workers = Math.max(1, Math.floor(CONNECTIONS / TASKS));
      const tasks = names.slice(0, TASKS);
      const multi = (sharedLayers: number) => (i: number) => postJson(child.url, '/v1/predict-multi', { adapters: tasks, texts: [text(i)], sharedLayers }).then((s) => s === 200);
      const singles = (i: number) => Promise.all(tasks.map((a) => postJson(child.url, '/v1/predict', { adapter: a, texts: [text(i)] }))).then((s) => s.every((c) => c === 200));
      const shared = Math.floor(LAYERS / 2);
      const ops = [
        ['predict-multi (one call, Parallel)', multi(0)],
        [`predict-multi, sharedLayers ${shared} (AdapterDrop: adapters of layers 0-${shared - 1} dropped)`, multi(shared)],
        [`${TASKS} × predict (batched server)`, singles],
      ] as const;
      for (const [, op] of ops) await closedLoop(workers, op, 1);
      const windows: LoadResult[][] = ops.map(() => []);
      for (let r = 0; r < ROUNDS; r++) for (const [k, [, op]] of ops.entries()) windows[k]!.push(await closedLoop(workers, op, DURATION_S / ROUNDS));
      for (const [k, [label]] of ops.entries()) {
        const r = merge(windows[k]!);
        const { latencies: _l, ...summary } = r;
        rows.push({ scenario: label, adapters: TASKS, ...summary });
        const last = ops.length - 1;
        const ratios = k === last ? [] : windows[k]!.map((w, i) => w.perSecond / windows[last]![i]!.perSecond).sort((a, b) => a - b);
        const ratio = k === last ? NaN : median(ratios);
        rows.push({ scenario: `${label} ratio`, ratio, ratios });
        multiLines.push(`| ${label} | ${fmt(r.perSecond)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${k === last ? '' : `**${fmt(ratio, 2)}×** (${ratios.map((x) => fmt(x, 2)).join(', ')})`} | ${r.errors} |`);
        process.stderr.write(`${multiLines[multiLines.length - 1]}\n`);
      }
    } finally {
      await stopServer(child);
    }
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, ${backend}`;
    const header = `Model: random BERT, hidden ${HIDDEN}, ${LAYERS} layers, texts of 6-17 tokens, seq_bn adapters (reduction 16) with 2-label heads. ` +
      `${WORKERS > 0 ? `Servers with ${WORKERS} worker thread(s). ` : ''}Loopback, ${CONNECTIONS} keep-alive connections (${Math.max(1, Math.floor(CONNECTIONS / TASKS))} clients of ${TASKS} calls for the multi-task rows), ${DURATION_S} s per row in ${ROUNDS} windows alternating with its pair, after 1 s warm-up; load average at start ${loadStart}. Machine: ${machine}.`;
    process.stdout.write(`${header}\n\n${lines.join('\n')}\n\n${multiLines.join('\n')}\n`);
    const out = resolve(__dirname, '..', 'results', `serve-load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(resolve(__dirname, '..', 'results'), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ machine, workers: WORKERS, hidden: HIDDEN, layers: LAYERS, connections: CONNECTIONS, durationS: DURATION_S, maxBatch: MAX_BATCH, maxWaitMs: MAX_WAIT_MS, rows }, null, 2)}\n`);
    process.stderr.write(`wrote ${out}\n`);
  } finally {
    agent.destroy();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`);
  process.exit(1);
});

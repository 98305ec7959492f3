// Load test of @adapters/serve over loopback (`npm run serve-load -w @adapters/bench`): throughput and p50/p99
// latency vs the number of distinct adapters in the traffic (1, 8, 64), dynamic batching vs the naive server
// (one request = one forward pass), and the multi-task endpoint vs N single calls. Bounded: every scenario runs
// --duration seconds (default 8) with --connections keep-alive connections (default 32). The server runs in a child
// process; a small random BERT (--hidden 128, --layers 4) and 64 seq_bn adapters are written to a temp dir.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { cpus, tmpdir } from 'node:os';
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
const COUNTS = [1, 8, 64];
const TASKS = 8;

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
  return { ops: latencies.length, perSecond: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), errors };
}

const fmt = (x: number, d = 1) => x.toFixed(d);

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'serve-load-'));
  const rows: Array<Record<string, unknown>> = [];
  try {
    await selectBackend();
    process.stderr.write(`writing a random BERT (hidden ${HIDDEN}, ${LAYERS} layers) and 64 adapters...\n`);
    const { model, adaptersDir } = await writeAdapters(root, 64);
    const names = Array.from({ length: 64 }, (_v, i) => `t${i}`);
    const lines = [
      `| traffic | server | requests/s | p50 ms | p99 ms | mean texts per forward | errors |`,
      `|---|---|---:|---:|---:|---:|---:|`,
    ];
    let backend = '';
    for (const n of COUNTS) {
      for (const batching of [true, false]) {
        const child = await startServer({ model, adaptersDir, batching, maxBatch: MAX_BATCH, maxWaitMs: MAX_WAIT_MS, preload: names.slice(0, n) });
        backend = child.backend;
        try {
          // Warm-up (kernels, graphs), then the measured window.
          await closedLoop(CONNECTIONS, (i) => postJson(child.url, '/v1/predict', { adapter: names[i % n], texts: [text(i)] }).then((s) => s === 200), 1);
          const before = await scrape(child.url, 'adapters_batch_rows');
          const r = await closedLoop(CONNECTIONS, (i) => postJson(child.url, '/v1/predict', { adapter: names[(i * 7) % n], texts: [text(i)] }).then((s) => s === 200), DURATION_S);
          const after = await scrape(child.url, 'adapters_batch_rows');
          const perForward = (after.sum - before.sum) / Math.max(1, after.count - before.count);
          rows.push({ scenario: 'predict', adapters: n, batching, ...r, perForward });
          lines.push(`| ${n} adapter${n > 1 ? 's' : ''} | ${batching ? `batched (≤${MAX_BATCH}, ${MAX_WAIT_MS} ms)` : 'naive'} | ${fmt(r.perSecond)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(perForward, 1)} | ${r.errors} |`);
          process.stderr.write(`${lines[lines.length - 1]}\n`);
        } finally {
          await stopServer(child);
        }
      }
    }
    const multiLines = [`| ${TASKS} tasks per text | task sets/s | p50 ms | p99 ms | errors |`, `|---|---:|---:|---:|---:|`];
    const child = await startServer({ model, adaptersDir, batching: true, maxBatch: MAX_BATCH, maxWaitMs: MAX_WAIT_MS, preload: names.slice(0, TASKS) });
    try {
      const workers = Math.max(1, Math.floor(CONNECTIONS / TASKS));
      const tasks = names.slice(0, TASKS);
      const multi = (i: number) => postJson(child.url, '/v1/predict-multi', { adapters: tasks, texts: [text(i)] }).then((s) => s === 200);
      const singles = (i: number) => Promise.all(tasks.map((a) => postJson(child.url, '/v1/predict', { adapter: a, texts: [text(i)] }))).then((s) => s.every((c) => c === 200));
      for (const [label, op] of [['predict-multi (one call, Parallel)', multi], [`${TASKS} × predict (batched server)`, singles]] as const) {
        await closedLoop(workers, op, 1);
        const r = await closedLoop(workers, op, DURATION_S);
        rows.push({ scenario: label, adapters: TASKS, ...r });
        multiLines.push(`| ${label} | ${fmt(r.perSecond)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.errors} |`);
        process.stderr.write(`${multiLines[multiLines.length - 1]}\n`);
      }
    } finally {
      await stopServer(child);
    }
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, ${backend}`;
    const header = `Model: random BERT, hidden ${HIDDEN}, ${LAYERS} layers, texts of 6-17 tokens, seq_bn adapters (reduction 16) with 2-label heads. ` +
      `Loopback, ${CONNECTIONS} keep-alive connections, ${DURATION_S} s per row after 1 s warm-up. Machine: ${machine}.`;
    process.stdout.write(`${header}\n\n${lines.join('\n')}\n\n${multiLines.join('\n')}\n`);
    const out = resolve(__dirname, '..', 'results', `serve-load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(resolve(__dirname, '..', 'results'), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ machine, hidden: HIDDEN, layers: LAYERS, connections: CONNECTIONS, durationS: DURATION_S, maxBatch: MAX_BATCH, maxWaitMs: MAX_WAIT_MS, rows }, null, 2)}\n`);
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

// `npm run shared-weights -w @adapters/bench -- [--model minilm|bert-base|xlmr-base] [--processes 3] [--weights mapped|heap]`:
// what N processes serving the same base model cost in memory. Each child loads the random-weight model folder
// (capacity's, written once under the temp dir), runs one 8 × 128 forward, reports its load time, then waits; the
// parent reads every child's /proc/PID/smaps_rollup (Rss, Pss: resident pages divided by the number of processes
// sharing them) while all are alive. Mapped weights are page-cache pages of one file, counted once across processes
// in Pss; heap weights are private to each process.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Executor, loadPretrained, selectBackend } from '@adapters/core-graph';
import { argFlag, randomModelDir, SIZED_MODELS } from './random-model-dir';

const args = process.argv.slice(2);
const flag = argFlag;
const MODELS = SIZED_MODELS;

async function child(model: string, mapWeights: boolean): Promise<void> {
  await selectBackend();
  const t0 = Date.now();
  const pre = await loadPretrained(randomModelDir(model, MODELS[model]!), { mapWeights, heads: [{ type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' }] });
  const loadSeconds = (Date.now() - t0) / 1000;
  const ids = Array.from({ length: 8 }, (_v, b) => Array.from({ length: 128 }, (_w, i) => 5 + ((b * 31 + i * 17) % 20000)));
  tf.dispose(Object.values(new Executor(pre.graph, pre.store).run({ input_ids: ids }, { outputs: ['task.logits'] })));
  process.send!({ loadSeconds, mappedMiB: (pre.mapped?.bytes ?? 0) / 2 ** 20 });
  process.on('message', () => process.exit(0));
}

type Rollup = Record<'rss' | 'pss' | 'anon' | 'file', number>;

function rollup(pid: number): Rollup {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  // anon: private memory (JS heap, wasm heap, malloc); file: page-cache pages mapped (the model file, libraries).
  return { rss: kb('Rss'), pss: kb('Pss'), anon: kb('Anonymous'), file: kb('Rss') - kb('Anonymous') };
}

async function main(): Promise<void> {
  const model = flag('--model') ?? 'bert-base';
  if (!MODELS[model]) throw new Error(`--model: unknown '${model}' (have: ${Object.keys(MODELS).join(', ')})`);
  const weights = flag('--weights') ?? 'mapped';
  if (weights !== 'mapped' && weights !== 'heap') throw new Error(`--weights: must be mapped or heap, got '${weights}'`);
  if (args.includes('--child')) return child(model, weights === 'mapped');
  const n = Number(flag('--processes') ?? 3);
  randomModelDir(model, MODELS[model]!);
  const children = Array.from({ length: n }, () => fork(__filename, [...args, '--child'], { execArgv: ['-r', require.resolve('../../scripts/register-source.js')] }));
  const reports = await Promise.all(children.map((c) => new Promise<{ loadSeconds: number; mappedMiB: number }>((resolve, reject) => {
    c.once('message', (m) => resolve(m as { loadSeconds: number; mappedMiB: number }));
    c.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  })));
  const mem = children.map((c) => rollup(c.pid!));
  for (const c of children) c.send('exit');
  const sum = (k: keyof Rollup): number => Math.round(mem.reduce((s, m) => s + m[k], 0));
  console.log(`| model | weights | processes | load s (each) | mapped MiB | RSS MiB (sum) | PSS MiB (sum) | anonymous MiB (sum) | file-backed MiB (sum) |\n|---|---|---|---|---|---|---|---|---|`);
  console.log(`| ${model} | ${weights} | ${n} | ${reports.map((r) => r.loadSeconds.toFixed(2)).join(', ')} | ${Math.round(reports[0]!.mappedMiB)} | ${sum('rss')} | ${sum('pss')} | ${sum('anon')} | ${sum('file')} |`);
}

main().catch((e: unknown) => {
  console.error(`shared-weights: error: ${(e as Error).message}`);
  process.exit(1);
});

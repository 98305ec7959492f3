// `nx run bench:run` (or `npm run run -w @adapters/bench`): measures in one process and prints markdown tables,
// writing the same numbers to bench/results/. Options: --quick (small batch), --reps N, --only SECTION[,SECTION]
// (matmul, methods, adapterdrop, fusion, soak, peer), --soak-steps N, --pairs N (inference pairs, default 40),
// --methods NAME[,NAME] (only the method rows whose name contains one of them, case-insensitive).
// A run limited by --only or --methods writes bench-<date>.json but leaves latest.json (the full run's) alone.
// --peer: only the peer section (PyTorch + AdapterHub on the same shapes, ratios ours/theirs; see peer.ts).
// One measurement in this process: --task method|inference --index I (METHODS[I]) prints one JSON line.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Graph, TrainExample, TrainOptions } from '@adapters/core-graph';
import { frozenPrefixConstants } from '@adapters/adapter-bottleneck';
import { addHead, adaptersOnlyPolicy, buildEncoder, describeBackend, Executor, fullFineTunePolicy, MINILM_L6, parameterSummary, selectBackend, train, WeightStore } from '@adapters/core-graph';
import { benchMatmul } from './matmul';
import type { BuiltMethod } from './methods';
import { fusionOf, METHODS, parallelTasks } from './methods';
import type { PeerNumbers } from './peer';
import { findPeerPython, peerRows, runPeer } from './peer';
import { pct, ratio, timeMedian } from './timing';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const reps = Number(flag('--reps') ?? (quick ? 2 : 3));
/** Inference pairs (model, base) per measurement; the overhead is the median of their ratios. */
const pairs = Math.max(reps, Number(flag('--pairs') ?? 40));
const only = flag('--only')?.split(',') ?? (args.includes('--peer') ? ['peer'] : undefined);
// The peer section needs a Python venv and minutes: only when asked for.
const want = (section: string) => (only ? only.includes(section) : section !== 'peer');
const methodFilter = flag('--methods')?.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
const methodWanted = (name: string): boolean => !methodFilter || methodFilter.some((f) => name.toLowerCase().includes(f));
// 16 × 128 is the AdapterDrop paper's setting; a method that runs out of the wasm heap (2 GiB) there is
// re-measured at half the batch, beside full fine-tuning at that batch. --batch overrides.
const [batch, seq] = [Number(flag('--batch') ?? (quick ? 4 : 16)), Number(flag('--seq') ?? (quick ? 32 : 128))];
const multiTaskBatch = Math.max(1, Math.floor(batch / 8));

function syntheticBatch(count: number): TrainExample[] {
  return Array.from({ length: count }, (_v, i) => ({
    inputIds: [101, ...Array.from({ length: seq - 2 }, (_w, j) => 1000 + ((i * 7919 + j * 104729) % 28000)), 102],
    label: i % 2,
  }));
}

/**
 * Seconds per training step of `m` and of full fine-tuning of `full`, measured in alternation in one process
 * (rounds of two-step runs of the trainer users call, the second step timed; order drawn per round). Ratios
 * from separate processes minutes apart moved by ±15% on this shared machine. One store holds both graphs'
 * weights, so memory placement is shared too.
 */
function pairedStepSeconds(m: BuiltMethod, full: BuiltMethod, examples: TrainExample[], skip?: number, policy = m.policy, constants?: TrainOptions['constants']): { step: number; fullStep: number } {
  const store = WeightStore.create(m.graph, 1);
  store.sync(full.graph, 1);
  const once = (b: BuiltMethod, pol: BuiltMethod['policy'], sk?: number): number => {
    const result = train({ graph: b.graph, store, output: b.output, train: examples, maxSteps: 2, batchSize: batch, policy: pol, ...(sk ? { skipLayers: () => sk, ...(constants ? { constants } : {}) } : {}) });
    const t = result.history.filter((r) => r.type === 'step').map((r) => r.seconds);
    return (t[1] as number) - (t[0] as number);
  };
  const ts: number[] = [];
  const tf_: number[] = [];
  let coin = 777;
  for (let i = 0; i < Math.max(reps, 3); i++) {
    coin = (Math.imul(coin, 1103515245) + 12345) >>> 0;
    const measureMethod = () => ts.push(once(m, policy, skip));
    const measureFull = () => tf_.push(once(full, full.policy));
    if (coin & 0x10000) {
      measureMethod();
      measureFull();
    } else {
      measureFull();
      measureMethod();
    }
  }
  store.dispose();
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  return { step: median(ts), fullStep: median(tf_) };
}

function inferenceMs(graph: Graph, output: string, skipLayers?: number, sequences = batch): number {
  const store = WeightStore.create(graph, 1);
  const ex = new Executor(graph, store);
  const ids = syntheticBatch(sequences).map((e) => [...e.inputIds]);
  const ms = timeMedian(() => {
    const out = ex.run({ input_ids: ids }, { outputs: [output], ...(skipLayers ? { skipLayers } : {}) });
    (out[output] as tf.Tensor).dataSync();
    tf.dispose(Object.values(out));
  }, reps);
  store.dispose();
  return ms;
}

/**
 * Inference of `graph` and of the base model in one process, in pairs run back to back (order drawn per pair),
 * so both see the same machine load. The overhead is the median of the per-pair ratios: a slow stretch of the
 * shared machine then hits both members of a pair instead of skewing one side's median (with medians of each
 * side, one Pfeiffer run read −6.6% and another +8.4%).
 */
function pairedInferenceMs(base: Graph, graph: Graph, output: string, runs: number): { baseMs: number; ms: number; overheadPct: number } {
  const ids = syntheticBatch(batch).map((e) => [...e.inputIds]);
  // One store for both: the base model reads the very same weight buffers as the adapted one, so memory
  // placement cannot favour either side (two stores made base-vs-base differ by ~2%).
  const store = WeightStore.create(graph, 1);
  const make = (g: Graph, out: string) => {
    const ex = new Executor(g, store);
    return (): number => {
      const t0 = process.hrtime.bigint();
      const res = ex.run({ input_ids: ids }, { outputs: [out] });
      (res[out] as tf.Tensor).dataSync();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      tf.dispose(Object.values(res));
      return ms;
    };
  };
  const [a, b] = [make(base, 'task.logits'), make(graph, output)];
  a();
  b();
  const ta: number[] = [];
  const tb: number[] = [];
  // A seeded coin decides which goes first in each round: strict alternation still left base-vs-base ~2% apart.
  let coin = 12345;
  for (let i = 0; i < runs; i++) {
    coin = (Math.imul(coin, 1103515245) + 12345) >>> 0;
    if (coin & 0x10000) {
      ta.push(a());
      tb.push(b());
    } else {
      tb.push(b());
      ta.push(a());
    }
  }
  store.dispose();
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  const pairRatio = median(tb.map((t, i) => t / (ta[i] as number)));
  return { baseMs: median(ta), ms: median(tb), overheadPct: 100 * (pairRatio - 1) };
}

const table = (head: string[], rows: (string | number)[][]): string =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => (typeof c === 'number' ? (Number.isFinite(c) ? c.toFixed(c < 10 ? 2 : 1) : 'n/a') : c)).join(' | ')} |`)].join('\n');

/**
 * Each model measurement runs in its own process: the wasm heap (2 GiB) never shrinks, so measuring many
 * MiniLM-sized models in one process runs out of it. A child prints one JSON line.
 */
function isolated(task: string, index: number, atBatch = batch): Record<string, unknown> {
  const argv = ['-r', join(__dirname, '..', '..', 'scripts', 'register-source.js'), __filename, '--task', task, '--index', String(index), '--batch', String(atBatch), '--seq', String(seq), '--reps', String(reps), '--pairs', String(pairs)];
  try {
    const stdout = execFileSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const why = (err.stderr ?? err.message).split('\n').filter((l) => l.includes('error') || l.includes('Abort')).at(-1) ?? err.message.split('\n')[0];
    return { failed: String(why).slice(0, 160) };
  }
}

/** One measurement, in a child process (see `isolated`). */
function runTask(task: string, index: number): Record<string, unknown> {
  const encoder = buildEncoder(MINILM_L6);
  const base = addHead(encoder, { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });
  const examples = syntheticBatch(batch * 2);
  const fullFineTuning: BuiltMethod = { graph: base, policy: fullFineTunePolicy, output: 'task.logits' };
  switch (task) {
    case 'method': {
      const method = METHODS[index] as (typeof METHODS)[number];
      const built = method.build(base, encoder);
      if (typeof built === 'string') return { na: built };
      const summary = parameterSummary(built.graph, built.policy);
      const paired = pairedInferenceMs(base, built.graph, built.output, pairs);
      const steps = pairedStepSeconds(built, fullFineTuning, examples);
      return { ...steps, infer: paired.ms, baseInfer: paired.baseMs, overheadPct: paired.overheadPct, trainablePct: summary.trainablePercentOfBase };
    }
    case 'inference': {
      // Inference only (quick checks of engine changes): `--task inference --index I` for METHODS[I].
      const built = (METHODS[index] as (typeof METHODS)[number]).build(base, encoder);
      if (typeof built === 'string') return { na: built };
      const paired = pairedInferenceMs(base, built.graph, built.output, pairs);
      return { infer: paired.ms, baseInfer: paired.baseMs, overheadPct: paired.overheadPct };
    }
    case 'unpaired': {
      // One timed training step (the second of two) and base inference, unpaired: for backends too slow for
      // the paired rounds (stock wasm: the slowdown the CLI quotes). `--task unpaired --index I`.
      const built = (METHODS[index] as (typeof METHODS)[number]).build(base, encoder);
      if (typeof built === 'string') return { na: built };
      const store = WeightStore.create(built.graph, 1);
      const result = train({ graph: built.graph, store, output: built.output, train: examples, maxSteps: 2, batchSize: batch, policy: built.policy });
      const t = result.history.filter((r) => r.type === 'step').map((r) => r.seconds);
      store.dispose();
      return { step: (t[1] as number) - (t[0] as number), baseInfer: inferenceMs(base, 'task.logits') };
    }
    case 'drop': {
      const pfeiffer = METHODS.find((m) => m.name.startsWith('Pfeiffer'))?.build(base, encoder);
      if (typeof pfeiffer === 'string' || !pfeiffer) return { na: String(pfeiffer) };
      // Dropped layers are frozen entirely, so backpropagation stops at layer n.
      const policy = (p: Parameters<typeof adaptersOnlyPolicy>[0]) => adaptersOnlyPolicy(p) && !(p.layer !== undefined && p.layer < index);
      // Parallel runs every task on a copy of the batch (8 × the sequences past the shared layers), so the
      // multi-task inference uses an eighth of the training batch.
      // The dropped layers run outside the gradient tape (adapter-bottleneck's frozen-prefix hook).
      return { ...pairedStepSeconds(pfeiffer, fullFineTuning, examples, index, policy, frozenPrefixConstants()), infer: inferenceMs(parallelTasks(base, 8), 'task.logits', index, multiTaskBatch) };
    }
    case 'fusion': {
      if (index === 0) return { infer: inferenceMs(base, 'task.logits') };
      const f = fusionOf(base, index);
      return typeof f === 'string' ? { na: f } : { infer: inferenceMs(f.graph, 'task.logits') };
    }
    case 'soak': {
      // 1,000 steps at a short sequence (the leak check needs steps, not long inputs).
      const pfeiffer = METHODS.find((m) => m.name.startsWith('Pfeiffer'))?.build(base, encoder);
      if (typeof pfeiffer === 'string' || !pfeiffer) return { na: String(pfeiffer) };
      const short = syntheticBatch(batch).map((e) => ({ ...e, inputIds: e.inputIds.slice(0, 32) }));
      const store = WeightStore.create(pfeiffer.graph, 1);
      const samples: Record<string, unknown>[] = [];
      const wasmHeap = () => (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer.byteLength ?? 0;
      const t0 = Date.now();
      train({
        graph: pfeiffer.graph, store, output: pfeiffer.output, train: short, epochs: index, maxSteps: index, batchSize: batch, policy: pfeiffer.policy,
        onRecord: (r) => {
          if (r.type !== 'step' || (r.step !== 10 && r.step % 100 !== 0)) return;
          const mem = process.memoryUsage();
          samples.push({ step: r.step, tensors: tf.memory().numTensors, tfBytes: tf.memory().numBytes, wasmHeapBytes: wasmHeap(), rssBytes: mem.rss, jsHeapBytes: mem.heapUsed, externalBytes: mem.external });
        },
      });
      store.dispose();
      return { samples, seconds: (Date.now() - t0) / 1000 };
    }
    default:
      throw new Error(`unknown task ${task}`);
  }
}

async function main(): Promise<void> {
  const task = flag('--task');
  if (task !== undefined) {
    await selectBackend();
    console.log(JSON.stringify(runTask(task, Number(flag('--index') ?? 0))));
    return;
  }
  await selectBackend({ log: (l) => console.error(l) });
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, tfjs ${tf.version.tfjs}, backend ${describeBackend()}`;
  console.log(`# Benchmarks\n\n${machine}; batch ${batch} × ${seq} tokens, MiniLM-sized encoder (6 layers, hidden 384, 12 heads, FFN 1536); median of ${reps}; each model measured in its own process.\n`);
  const results: Record<string, unknown> = { machine, batch, seq, reps, date: new Date().toISOString() };

  if (want('matmul')) {
    const rows = benchMatmul(Math.max(reps, 3));
    results['matmul'] = rows;
    console.log('## Matmul throughput (GFLOP/s)\n');
    console.log(table(['product', 'tfjs', 'numpy/OpenBLAS', 'tfjs / numpy'], rows.map((r) => [r.shape, r.gflops, r.numpyGflops ?? NaN, r.numpyGflops ? `${(100 * r.gflops / r.numpyGflops).toFixed(1)}%` : 'n/a'])));
    console.log();
  }

  if (want('methods')) {
    const rows: (string | number)[][] = [];
    const json: unknown[] = [];
    METHODS.forEach((method, i) => {
      if (!methodWanted(method.name)) return;
      let r = isolated('method', i);
      let atBatch = batch;
      let note = '';
      if (r['failed'] !== undefined && batch > 1) {
        // Out of wasm heap: measure again at half the batch (full fine-tuning too, in the same child).
        note = `out of wasm memory at ${batch} × ${seq}; measured at ${Math.floor(batch / 2)} × ${seq}, full FT too`;
        atBatch = Math.floor(batch / 2);
        r = isolated('method', i, atBatch);
      }
      if (r['na'] !== undefined || r['failed'] !== undefined) {
        rows.push([method.name, 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', method.paper, String(r['na'] ?? `failed: ${String(r['failed'])}`)]);
        return;
      }
      const [step, full, infer, baseInfer, overhead, trainable] = ['step', 'fullStep', 'infer', 'baseInfer', 'overheadPct', 'trainablePct'].map((k) => r[k] as number) as [number, number, number, number, number, number];
      rows.push([method.name, step, full, ratio(step, full), infer, baseInfer, overhead, `${trainable.toFixed(3)}%`, method.paper, note]);
      json.push({ method: method.name, batch: atBatch, stepSeconds: step, fullFineTuningStepSeconds: full, stepRatioToFull: ratio(step, full), inferenceMs: infer, baseInferenceMs: baseInfer, inferenceOverheadPct: overhead, trainablePercentOfBase: trainable, paper: method.paper, ...(note ? { note } : {}) });
    });
    results['methods'] = json;
    console.log('## Training step and inference per method\n');
    console.log(table(['method', 'train step (s)', 'full FT step, same process (s)', '× full FT', 'inference (ms)', 'base inference, same process (ms)', 'overhead vs base (%, median of pair ratios)', 'trainable (% of base)', 'paper', 'note'], rows));
    console.log('\nEach row is one child process: training steps alternate with full fine-tuning (median of ≥ 3 rounds), inference alternates with the base model (≥ 40 pairs; overhead = median of the ratios of the pairs); the full fine-tuning row is full FT against itself (the noise floor). Adapter methods train only adapters and head.\n');
  }

  if (want('adapterdrop')) {
    const rows: (string | number)[][] = [];
    const json: unknown[] = [];
    let step0 = NaN;
    let infer0 = NaN;
    for (let n = 0; n <= 5; n++) {
      const r = isolated('drop', n);
      const [step, fullStep, infer] = [Number(r['step'] ?? NaN), Number(r['fullStep'] ?? NaN), Number(r['infer'] ?? NaN)];
      if (n === 0) [step0, infer0] = [step, infer];
      rows.push([String(n), step, pct(step, step0), ratio(step, fullStep), infer, pct(infer, infer0)]);
      json.push({ droppedLayers: n, stepSeconds: step, fullFineTuningStepSeconds: fullStep, stepRatioToFull: ratio(step, fullStep), inferenceMs8Tasks: infer, ...(r['failed'] ? { failed: r['failed'] } : {}) });
    }
    results['adapterDrop'] = json;
    console.log(`## AdapterDrop (Pfeiffer adapters, training at ${batch} × ${seq}; inference: 8 task adapters in Parallel on ${multiTaskBatch} × ${seq})\n`);
    console.log(table(['dropped layers n', 'train step (s)', 'vs n = 0 (%)', '× full FT (same process)', '8-task inference (ms)', 'vs n = 0 (%)'], rows));
    console.log();
  }

  if (want('fusion')) {
    const [b0, f8, f2] = [isolated('fusion', 0), isolated('fusion', 8), isolated('fusion', 2)];
    if (f8['infer'] !== undefined && f2['infer'] !== undefined) {
      const [baseMs, ms8, ms2] = [b0['infer'] as number, f8['infer'] as number, f2['infer'] as number];
      results['fusionPruning'] = { baseMs, fusion8Ms: ms8, fusion2Ms: ms2 };
      console.log('## AdapterFusion inference: 8 adapters vs pruned to 2 per layer\n');
      console.log(table(['model', 'inference (ms)', 'vs base'], [['base', baseMs, 0], ['fusion of 8', ms8, pct(ms8, baseMs)], ['pruned to 2', ms2, pct(ms2, baseMs)]]));
      console.log(`\nPruning 8 → 2 makes fusion inference ${pct(ms8, ms2).toFixed(1)}% faster (time of 8 / time of 2 − 1).\n`);
    } else console.log(`## AdapterFusion: n/a (${String(f8['na'] ?? f8['failed'])})\n`);
  }

  if (want('soak')) {
    const steps = Number(flag('--soak-steps') ?? 1000);
    const r = isolated('soak', steps);
    const samples = (r['samples'] ?? []) as Record<string, number>[];
    results['soak'] = { steps, ...r };
    const mib = (b: number | undefined) => (b === undefined ? NaN : b / 2 ** 20);
    console.log(`## Soak: ${steps} Pfeiffer training steps (batch ${batch} × 32), memory by step\n`);
    if (samples.length === 0) console.log(`n/a (${String(r['na'] ?? r['failed'])})`);
    else console.log(table(['step', 'tfjs tensors', 'tfjs MiB', 'wasm heap MiB', 'RSS MiB', 'JS heap MiB', 'external MiB'], samples.map((x) => [String(x['step']), String(x['tensors']), mib(x['tfBytes']), mib(x['wasmHeapBytes']), mib(x['rssBytes']), mib(x['jsHeapBytes']), mib(x['externalBytes'])])));
    console.log();
  }

  if (want('peer')) {
    console.log(`## Peer: PyTorch + AdapterHub on the same shapes (${batch} × ${seq}), this run\n`);
    const found = findPeerPython();
    if ('skip' in found) {
      console.log(`skipped: ${found.skip}\n`);
      results['peer'] = { skipped: found.skip };
    } else {
      const index = METHODS.findIndex((m) => m.name.startsWith('Pfeiffer'));
      const ours = isolated('method', index);
      let theirs: (PeerNumbers & { peer: string }) | { failed: string };
      try {
        theirs = runPeer(found.python, batch, seq, reps, Math.min(pairs, 20));
      } catch (e) {
        theirs = { failed: String((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').at(-1) ?? 'failed' };
      }
      results['peer'] = { ours, theirs };
      if ('failed' in theirs || ours['failed'] !== undefined || ours['na'] !== undefined) {
        console.log(`failed: ours ${JSON.stringify(ours)}, theirs ${JSON.stringify(theirs)}\n`);
      } else {
        console.log(table(['measure', 'this project', theirs.peer, 'ours / theirs'], peerRows(ours as unknown as PeerNumbers, theirs)));
        console.log('\nBoth sides in this run, one after the other (ours first); a shared machine moves each by ±15% or more between minutes, so read the ratios, not the absolute times.\n');
      }
    }
  }

  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(dir, `bench-${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
  if (!only && !methodFilter) writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results written to bench/results/bench-${stamp}.json`);
}

main().catch((e: unknown) => {
  console.error(`bench: error: ${(e as Error).message}`);
  process.exit(1);
});

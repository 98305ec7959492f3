// `npm run capacity -w @adapters/bench -- [--models minilm,bert-base,xlmr-base] [--batches 16,8,4] [--seq 128]`:
// which model × batch infers and trains on this engine today (random weights: memory and time only). Each attempt
// runs in its own process (a wasm heap never shrinks, and an out-of-memory abort ends the process); printed per
// attempt: ok or the error, seconds, and the wasm heap size after it. Training is Pfeiffer (seq_bn) with and without
// gradient checkpointing, with the trainer's default ('auto': checkpointing from a step that ran out of heap), and
// full fine-tuning with checkpointing. `--weights mapped` loads the base from a random-weight model folder written
// once under the temp dir (loadPretrained, so its float32 matrices are mapped from the file, outside the heap);
// `--weights heap` (default) creates them in the heap as before. Also printed: load seconds, the process's RSS
// after the attempt and the mapped MiB.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { TrainExample } from '@adapters/core-graph';
import { addHead, buildEncoder, Executor, fullFineTunePolicy, loadPretrained, selectBackend, train, WeightStore } from '@adapters/core-graph';
import { METHODS } from './methods';
import { argFlag, randomModelDir, SIZED_MODELS } from './random-model-dir';

const flag = argFlag;

const MODELS = SIZED_MODELS;
const ATTEMPTS = ['inference', 'pfeiffer', 'pfeiffer+checkpoint', 'pfeiffer+auto', 'full+checkpoint'] as const;
type Attempt = (typeof ATTEMPTS)[number];

const wasmHeapMiB = (): number => ((tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer.byteLength ?? 0) / 2 ** 20;

const HEAD = { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' } as const;
type Weights = 'heap' | 'mapped';

/** One attempt in this process: prints one JSON line. */
async function attempt(model: string, what: Attempt, batch: number, seq: number, weights: Weights): Promise<Record<string, unknown>> {
  const config = MODELS[model];
  if (!config) throw new Error(`--model: unknown '${model}' (have: ${Object.keys(MODELS).join(', ')})`);
  const tLoad = Date.now();
  const pre = weights === 'mapped' ? await loadPretrained(randomModelDir(model, config), { heads: [HEAD] }) : undefined;
  if (weights === 'mapped' && pre?.mapped === undefined) return { failed: 'nothing was mapped (native kernels off?)' };
  const encoder = pre !== undefined ? buildEncoder(config, { pooler: true }) : buildEncoder(config);
  const base = pre?.graph ?? addHead(encoder, HEAD);
  const loadSeconds = (Date.now() - tLoad) / 1000;
  const extra = { loadSeconds, rssMiB: 0, mappedMiB: (pre?.mapped?.bytes ?? 0) / 2 ** 20 };
  const pfeiffer = METHODS.find((m) => m.name.startsWith('Pfeiffer'))!.build(base, encoder);
  if (typeof pfeiffer === 'string') return { na: pfeiffer };
  const examples: TrainExample[] = Array.from({ length: batch }, (_v, i) => ({
    inputIds: [101, ...Array.from({ length: seq - 2 }, (_w, j) => 1000 + ((i * 7919 + j * 104729) % 28000)), 102],
    label: i % 2,
  }));
  const graph = what === 'inference' ? base : what.startsWith('full') ? base : pfeiffer.graph;
  const t0 = Date.now();
  const store = pre?.store ?? WeightStore.create(graph, 1);
  store.sync(graph, 1); // the adapter's weights, when the base came from the file
  const done = (r: Record<string, unknown>): Record<string, unknown> => ({ ...r, ...extra, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) });
  if (what === 'inference') {
    const out = new Executor(graph, store).run({ input_ids: examples.map((e) => [...e.inputIds]) }, { outputs: ['task.logits'] });
    tf.dispose(Object.values(out));
  } else {
    // '+auto': the trainer's default, checkpointing only from a step that ran out of heap.
    const trained = train({
      graph, store, output: 'task.logits', train: examples, maxSteps: 1, batchSize: batch,
      policy: what.startsWith('full') ? fullFineTunePolicy : pfeiffer.policy,
      checkpointLayers: what.endsWith('checkpoint') ? true : what.endsWith('auto') ? 'auto' : false,
    });
    if (trained.checkpointedFrom !== undefined) {
      const r = done({ ok: true, seconds: (Date.now() - t0) / 1000, wasmHeapMiB: wasmHeapMiB(), checkpointedFrom: trained.checkpointedFrom });
      store.dispose();
      return r;
    }
  }
  const r = done({ ok: true, seconds: (Date.now() - t0) / 1000, wasmHeapMiB: wasmHeapMiB() });
  store.dispose();
  return r;
}

function isolated(model: string, what: Attempt, batch: number, seq: number, weights: Weights): Record<string, unknown> {
  const argv = ['-r', join(__dirname, '..', '..', 'scripts', 'register-source.js'), __filename, '--attempt', `${model}:${what}:${batch}:${seq}:${weights}`];
  try {
    const stdout = execFileSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const lines = (err.stderr ?? err.message).split('\n').map((l) => l.trim()).filter(Boolean);
    const why = lines.find((l) => /memory|Aborted|RangeError|heap/i.test(l)) ?? lines.at(-1) ?? 'failed';
    return { failed: why.slice(0, 140) };
  }
}

async function main(): Promise<void> {
  const one = flag('--attempt');
  if (one) {
    await selectBackend();
    const [model, what, batch, seq, weights] = one.split(':');
    console.log(JSON.stringify(await attempt(model!, what as Attempt, Number(batch), Number(seq), weights as Weights)));
    return;
  }
  const weights = (flag('--weights') ?? 'heap') as Weights;
  if (weights !== 'heap' && weights !== 'mapped') throw new Error(`--weights: must be heap or mapped, got '${weights}'`);
  const models = (flag('--models') ?? Object.keys(MODELS).join(',')).split(',');
  const batches = (flag('--batches') ?? '16,8,4').split(',').map(Number);
  const seq = Number(flag('--seq') ?? 128);
  const only = flag('--attempts')?.split(',') as Attempt[] | undefined;
  console.log(`weights: ${weights}\n| model | attempt | batch × seq | result | seconds | wasm heap (MiB) | load s | RSS (MiB) | mapped (MiB) |\n|---|---|---|---|---|---|---|---|---|`);
  for (const model of models) {
    if (weights === 'mapped' && MODELS[model]) randomModelDir(model, MODELS[model]!); // once, before the children
    for (const what of only ?? ATTEMPTS) {
      // Largest batch first; stop at the first that fits.
      for (const batch of batches) {
        const r = isolated(model, what, batch, seq, weights);
        const result = r['ok'] ? (r['checkpointedFrom'] !== undefined ? `ok (out of heap, checkpointed from step ${String(r['checkpointedFrom'])})` : 'ok') : `failed: ${String(r['failed'] ?? r['na'])}`;
        const mib = (k: string): string => (typeof r[k] === 'number' ? String(Math.round(r[k]))  : '');
        console.log(`| ${model} | ${what} | ${batch} × ${seq} | ${result} | ${r['seconds'] ?? ''} | ${mib('wasmHeapMiB')} | ${r['loadSeconds'] ?? ''} | ${mib('rssMiB')} | ${mib('mappedMiB')} |`);
        if (r['ok']) break;
      }
    }
  }
}

main().catch((e: unknown) => {
  console.error(`capacity: error: ${(e as Error).message}`);
  process.exit(1);
});

// `npm run capacity -w @adapters/bench -- [--models minilm,bert-base,xlmr-base] [--batches 16,8,4] [--seq 128]`:
// which model × batch infers and trains on this engine today (random weights: memory and time only). Each attempt
// runs in its own process (a wasm heap never shrinks, and an out-of-memory abort ends the process); printed per
// attempt: ok or the error, seconds, and the wasm heap size after it. Training is Pfeiffer (seq_bn) with and without
// gradient checkpointing, with the trainer's default ('auto': checkpointing from a step that ran out of heap), and
// full fine-tuning with checkpointing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { EncoderConfig, TrainExample } from '@adapters/core-graph';
import { addHead, BERT_BASE, buildEncoder, Executor, fullFineTunePolicy, MINILM_L6, selectBackend, train, WeightStore } from '@adapters/core-graph';
import { METHODS } from './methods';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const MODELS: Readonly<Record<string, EncoderConfig>> = {
  minilm: MINILM_L6,
  'bert-base': BERT_BASE,
  // XLM-RoBERTa-base's sizes: BERT-base with a 250,002-token vocabulary (278 M parameters, 1.1 GB in float32).
  'xlmr-base': { ...BERT_BASE, architecture: 'roberta', vocabSize: 250002, maxPositions: 514, typeVocabSize: 1, padTokenId: 1, layerNormEps: 1e-5 },
};
const ATTEMPTS = ['inference', 'pfeiffer', 'pfeiffer+checkpoint', 'pfeiffer+auto', 'full+checkpoint'] as const;
type Attempt = (typeof ATTEMPTS)[number];

const wasmHeapMiB = (): number => ((tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer.byteLength ?? 0) / 2 ** 20;

/** One attempt in this process: prints one JSON line. */
function attempt(model: string, what: Attempt, batch: number, seq: number): Record<string, unknown> {
  const config = MODELS[model];
  if (!config) throw new Error(`--model: unknown '${model}' (have: ${Object.keys(MODELS).join(', ')})`);
  const encoder = buildEncoder(config);
  const base = addHead(encoder, { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });
  const pfeiffer = METHODS.find((m) => m.name.startsWith('Pfeiffer'))!.build(base, encoder);
  if (typeof pfeiffer === 'string') return { na: pfeiffer };
  const examples: TrainExample[] = Array.from({ length: batch }, (_v, i) => ({
    inputIds: [101, ...Array.from({ length: seq - 2 }, (_w, j) => 1000 + ((i * 7919 + j * 104729) % 28000)), 102],
    label: i % 2,
  }));
  const graph = what === 'inference' ? base : what.startsWith('full') ? base : pfeiffer.graph;
  const t0 = Date.now();
  const store = WeightStore.create(graph, 1);
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
      store.dispose();
      return { ok: true, seconds: (Date.now() - t0) / 1000, wasmHeapMiB: wasmHeapMiB(), checkpointedFrom: trained.checkpointedFrom };
    }
  }
  store.dispose();
  return { ok: true, seconds: (Date.now() - t0) / 1000, wasmHeapMiB: wasmHeapMiB() };
}

function isolated(model: string, what: Attempt, batch: number, seq: number): Record<string, unknown> {
  const argv = ['-r', join(__dirname, '..', '..', 'scripts', 'register-source.js'), __filename, '--attempt', `${model}:${what}:${batch}:${seq}`];
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
    const [model, what, batch, seq] = one.split(':');
    console.log(JSON.stringify(attempt(model!, what as Attempt, Number(batch), Number(seq))));
    return;
  }
  const models = (flag('--models') ?? Object.keys(MODELS).join(',')).split(',');
  const batches = (flag('--batches') ?? '16,8,4').split(',').map(Number);
  const seq = Number(flag('--seq') ?? 128);
  const only = flag('--attempts')?.split(',') as Attempt[] | undefined;
  console.log('| model | attempt | batch × seq | result | seconds | wasm heap (MiB) |\n|---|---|---|---|---|---|');
  for (const model of models) {
    for (const what of only ?? ATTEMPTS) {
      // Largest batch first; stop at the first that fits.
      for (const batch of batches) {
        const r = isolated(model, what, batch, seq);
        const result = r['ok'] ? (r['checkpointedFrom'] !== undefined ? `ok (out of heap, checkpointed from step ${String(r['checkpointedFrom'])})` : 'ok') : `failed: ${String(r['failed'] ?? r['na'])}`;
        console.log(`| ${model} | ${what} | ${batch} × ${seq} | ${result} | ${r['seconds'] ?? ''} | ${r['wasmHeapMiB'] ?? ''} |`);
        if (r['ok']) break;
      }
    }
  }
}

main().catch((e: unknown) => {
  console.error(`capacity: error: ${(e as Error).message}`);
  process.exit(1);
});

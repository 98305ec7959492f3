// `npm run nmt-checkpoint -w @adapters/bench -- plain|checkpoint|auto [batch] [seq]`: two trainTranslation steps of
// Bapna & Firat pair adapters on a Marian-base-sized encoder-decoder (random weights: memory and time only) on wasm,
// with checkpointLayers false / true / 'auto'. One mode per process (a wasm heap never shrinks); prints one JSON
// line: seconds for both steps, the wasm heap after them, the step checkpointing started from, the losses.
import * as tf from '@tensorflow/tfjs';
import { selectBackend, WeightStore } from '@adapters/core-graph';
import { buildSeq2Seq, parsePair, recipeGraph, recipePolicy, trainTranslation } from '@adapters/adapter-nmt';

const SETTINGS = { plain: false, checkpoint: true, auto: 'auto' } as const;

async function main(): Promise<void> {
  const [mode = 'auto', batchText = '16', seqText = '64'] = process.argv.slice(2);
  if (!(mode in SETTINGS)) throw new Error(`mode: expected plain, checkpoint or auto, got '${mode}'`);
  await selectBackend({ prefer: 'wasm' });
  // opus-mt-en-fr's sizes.
  const base = buildSeq2Seq({
    family: 'marian', vocabSize: 58101, dModel: 512, encoderLayers: 6, decoderLayers: 6, encoderHeads: 8, decoderHeads: 8,
    encoderFfn: 2048, decoderFfn: 2048, maxPositions: 512, padTokenId: 58100, eosTokenId: 0, decoderStartTokenId: 58100,
  });
  const graph = recipeGraph(base, 'pair', parsePair('en-fr'), 16);
  const store = WeightStore.create(graph, 1);
  const [batch, seq] = [Number(batchText), Number(seqText)];
  const rows = Array.from({ length: batch }, (_v, i) => Array.from({ length: seq - 1 }, (_w, j) => 10 + ((i * 7919 + j * 104729) % 50000)));
  const t0 = Date.now();
  const result = trainTranslation({
    store, tasks: [{ name: 'en-fr', graph, sources: rows, targets: rows }], policy: recipePolicy('pair'), steps: 2, batchSize: batch,
    learningRate: 1e-4, seed: 1, checkpointLayers: SETTINGS[mode as keyof typeof SETTINGS],
  });
  const heap = ((tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer.byteLength ?? 0) / 2 ** 20;
  console.log(JSON.stringify({ mode, batch, seq, seconds: (Date.now() - t0) / 1000, wasmHeapMiB: heap, checkpointedFrom: result.checkpointedFrom ?? null, losses: result.losses }));
  store.dispose();
}

main().catch((e: unknown) => {
  console.log(JSON.stringify({ error: (e as Error).message }));
  process.exitCode = 1;
});

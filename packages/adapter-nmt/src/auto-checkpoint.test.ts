// Gradient checkpointing of encoder-decoders (core-graph's checkpointedForward over encoder and decoder layer
// sites, a decoder layer taking the encoder's last output as a second input) and trainTranslation's
// checkpointLayers 'auto': a step that runs out of wasm heap is computed again checkpointed, and the rest too.
import * as tf from '@tensorflow/tfjs';
import type { RunOptions, WeightStore } from '@adapters/core-graph';
import { canCheckpoint, Executor, fullFineTunePolicy, layerBoundaries } from '@adapters/core-graph';
import { failForwardOnce, maxRelDiff } from '@adapters/core-graph/testing';
import type { Seq2SeqFamily } from './config';
import type { TrainTranslationOptions, TranslationCheckpoint, TranslationResult } from './loop';
import { trainTranslation } from './loop';
import { parsePair, recipeGraph, recipePolicy } from './recipes';
import { buildT5, parseT5Config } from './t5';
import { disposeSeq2SeqBatch, makeSeq2SeqBatch, seq2seqLoss } from './train';
import { randomIds, tinyModel } from './__tests__/helpers';

const src = randomIds(6, 5, 24, 7);
const tgt = src.map((r) => [...r].reverse());

/**
 * Parameter gradients of one teacher-forced batch, plain or checkpointed (dropout on: the masks must match): every
 * weight, or (`pair`) Bapna & Firat adapters after every layer, on the boundaries themselves, base frozen.
 */
function gradients(family: Seq2SeqFamily, checkpoint: boolean, pair = false): Map<string, Float32Array> {
  const tiny = tinyModel(family, { dropout: 0.1, attentionDropout: 0.1, encoderLayers: 3, decoderLayers: 3 });
  const { store } = tiny;
  const graph = pair ? recipeGraph(tiny.graph, 'pair', parsePair('en-fr'), 2) : tiny.graph;
  if (pair) store.sync(graph, 2);
  const keys = store.applyPolicy(graph, pair ? recipePolicy('pair') : fullFineTunePolicy);
  const executor = new Executor(graph, store);
  const batch = makeSeq2SeqBatch(graph.meta.seq2seq!, src, tgt);
  const { value, grads } = tf.variableGrads(() => seq2seqLoss(executor, batch, { training: true, seed: 5 }, checkpoint ? () => true : undefined), keys.map((k) => store.get(k)));
  const out = new Map(keys.map((k) => [k, grads[store.get(k).name]!.dataSync() as Float32Array]));
  tf.dispose([value, ...Object.values(grads)]);
  disposeSeq2SeqBatch(batch);
  store.dispose();
  return out;
}

describe('gradient checkpointing of an encoder-decoder', () => {
  it('checkpoints every encoder and decoder layer (boundaries in layer order); T5, without layer sites, cannot', () => {
    const { graph, store } = tinyModel('marian');
    expect(layerBoundaries(graph)).toEqual(['encoder.layers.0', 'encoder.layers.1', 'decoder.layers.0', 'decoder.layers.1'].map((l) => graph.site(`${l}.output`).exit));
    expect(canCheckpoint(graph)).toBe(true);
    store.dispose();
    expect(canCheckpoint(buildT5(parseT5Config({ model_type: 't5', vocab_size: 32, d_model: 8, d_kv: 2, d_ff: 16, num_layers: 2, num_heads: 4 })))).toBe(false);
  });

  it.each([['marian', false], ['mbart', false], ['marian', true]] as const)('%s (pair adapters: %s): the gradients of every trained parameter equal the plain ones (to float32 rounding)', (family, pair) => {
    const plain = gradients(family, false, pair);
    const checkpointed = gradients(family, true, pair);
    expect(plain.size).toBeGreaterThan(0);
    expect([...checkpointed.keys()]).toEqual([...plain.keys()]);
    // The encoder's output gets its gradient summed over the decoder layers in another order: rounding, not bits.
    for (const [k, g] of plain) expect([k, maxRelDiff(checkpointed.get(k)!, g) < 1e-4]).toEqual([k, true]);
  });

  it('holds fewer bytes at the peak of a step, and leaks none', async () => {
    const { graph, store } = tinyModel('marian', { dModel: 16, encoderFfn: 64, decoderFfn: 64, encoderLayers: 4, decoderLayers: 4, maxPositions: 64 });
    const keys = store.applyPolicy(graph, fullFineTunePolicy);
    const executor = new Executor(graph, store);
    const long = randomIds(8, 50, 24, 3);
    const batch = makeSeq2SeqBatch(graph.meta.seq2seq!, long, long);
    const step = (checkpoint: boolean) => () => {
      const { value, grads } = tf.variableGrads(() => seq2seqLoss(executor, batch, { training: true, seed: 1 }, checkpoint ? () => true : undefined), keys.map((k) => store.get(k)));
      tf.dispose([value, ...Object.values(grads)]);
    };
    const peak = async (f: () => void) => Math.max(...(await tf.profile(f)).kernels.map((k) => k.totalBytesSnapshot));
    const before = tf.memory().numTensors;
    const plain = await peak(step(false));
    const checkpointed = await peak(step(true));
    expect(tf.memory().numTensors).toBe(before);
    expect(checkpointed).toBeLessThan(plain);
    disposeSeq2SeqBatch(batch);
    store.dispose();
  });
});

describe("trainTranslation's checkpointLayers 'auto' (the default)", () => {
  /** Two directions on one tiny Marian model, 4 steps (2 per task), full fine-tuning; the weights after it. */
  const run = (options: Partial<TrainTranslationOptions>, failAt = 0) => {
    const { graph, store } = tinyModel('marian', { dropout: 0.1 });
    const bounds = layerBoundaries(graph);
    // Whole-model forward passes, i.e. not checkpointed ones (those ask for a node or are fed layer outputs).
    const plain = (o: RunOptions) => o.training === true && o.nodes === undefined && !bounds.some((b) => o.constants?.has(b));
    const tasks = [{ name: 'ab', graph, sources: src, targets: tgt }, { name: 'ba', graph, sources: tgt, targets: src }];
    const before = tf.memory().numTensors;
    const undo = failForwardOnce(failAt, plain);
    const forward = jest.spyOn(Executor.prototype, 'forward');
    let result: TranslationResult;
    let plainForwards: number;
    try {
      result = trainTranslation({ store, tasks, policy: fullFineTunePolicy, steps: 4, batchSize: 3, learningRate: 1e-2, seed: 4, ...options });
      plainForwards = forward.mock.calls.filter(([, o]) => plain(o ?? {})).length;
    } finally {
      forward.mockRestore();
      undo();
    }
    expect(tf.memory().numTensors).toBe(before);
    const weights = bitsOf(store, result.trainableKeys);
    store.dispose();
    return { result, weights, plainForwards };
  };

  it('a step that runs out of heap is recomputed checkpointed: the weights of an uninterrupted run checkpointed from that step, bit for bit; no leaks', () => {
    // Plain steps 1-2 (checkpointed ones round the encoder output's gradient otherwise), then a resumed run checkpointed.
    let atStep2: TranslationCheckpoint | undefined;
    run({ checkpointLayers: false, checkpointEvery: 2, onCheckpoint: (c) => (atStep2 ??= c) });
    const expected = run({ checkpointLayers: true, resumeFrom: atStep2! });
    const retried = run({}, 3);
    expect(retried.result.checkpointedFrom).toBe(3);
    expect(expected.result.checkpointedFrom).toBeUndefined();
    // Steps 1 and 2 plain, step 3's failed attempt; its retry and step 4 checkpointed.
    expect(retried.plainForwards).toBe(3);
    expect(retried.result.losses).toEqual(expected.result.losses);
    expect(retried.weights).toEqual(expected.weights);
  });

  it('from the first step: the weights of a run with checkpointLayers true; no heap error, no checkpointing', () => {
    const checkpointed = run({ checkpointLayers: true });
    const retried = run({}, 1);
    expect(retried.result.checkpointedFrom).toBe(1);
    expect([retried.plainForwards, checkpointed.plainForwards]).toEqual([1, 0]);
    expect(retried.weights).toEqual(checkpointed.weights);
    const plain = run({});
    expect(plain.result.checkpointedFrom).toBeUndefined();
    expect(plain.plainForwards).toBe(4);
  });

  it('false lets the heap error through, and so does a step that already checkpoints', () => {
    for (const checkpointLayers of [false, true]) {
      const { graph, store } = tinyModel('marian');
      const undo = failForwardOnce(Infinity, () => true);
      try {
        expect(() => trainTranslation({ store, tasks: [{ name: 'ab', graph, sources: src, targets: tgt }], policy: fullFineTunePolicy, steps: 2, batchSize: 3, learningRate: 1e-2, seed: 4, checkpointLayers }))
          .toThrow(expect.objectContaining({ code: 'E_WASM_HEAP' }) as Error);
      } finally {
        undo();
        store.dispose();
      }
    }
  });

  it("a value other than true, false or 'auto' is a ConfigError naming checkpointLayers", () => {
    const { graph, store } = tinyModel('marian');
    expect(() => trainTranslation({ store, tasks: [{ name: 'ab', graph, sources: src, targets: tgt }], policy: fullFineTunePolicy, steps: 1, batchSize: 3, learningRate: 1e-2, seed: 4, checkpointLayers: 1 as unknown as boolean }))
      .toThrow(/checkpointLayers/);
    store.dispose();
  });
});

function bitsOf(store: WeightStore, keys: readonly string[]): string[] {
  return keys.map((k) => Buffer.from((store.get(k).dataSync() as Float32Array).buffer).toString('base64'));
}

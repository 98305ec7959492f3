import * as tf from '@tensorflow/tfjs';
import { adapter, adaptersOnlyPolicy, applyPlacements, createRegistry, createTrainer, Executor } from '@adapters/core-graph';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import { disposeSeq2SeqBatch, makeSeq2SeqBatch, seq2seqLoss } from './train';
import { randomIds, tinyModel } from './__tests__/helpers';

describe('training an encoder-decoder', () => {
  it('makeSeq2SeqBatch pads sources, shifts targets right after the start token and ignores padded labels', () => {
    const config = { ...(tinyModel('bart').graph.meta.seq2seq!) };
    const b = makeSeq2SeqBatch(config, [[5, 6, 7], [8]], [[9, 10], [11, 12, 13]]);
    expect(b.inputIds.arraySync()).toEqual([[5, 6, 7, 2], [8, 2, 1, 1]]);
    expect(b.attentionMask.arraySync()).toEqual([[1, 1, 1, 1], [1, 1, 0, 0]]);
    expect(b.labels.arraySync()).toEqual([[9, 10, 2, -100], [11, 12, 13, 2]]);
    expect(b.decoderInputIds.arraySync()).toEqual([[2, 9, 10, 2], [2, 11, 12, 13]]);
    expect(() => makeSeq2SeqBatch(config, [[5]], [])).toThrow(/as many targets as sources/);
    expect(() => makeSeq2SeqBatch(config, [new Array<number>(20).fill(5)], [[5]])).toThrow(/batch\.source.*16 positions/);
    disposeSeq2SeqBatch(b);
  });

  it('an adapter in encoder, decoder and cross-attention trains alone: the loss falls, only its weights move, no tensor leaks', () => {
    const { graph: base, store } = tinyModel('marian');
    const registry = createRegistry(bottleneckPlugins);
    const [plugin] = bottleneckPlugins;
    const graph = applyPlacements(base, [{ adapter: adapter(plugin as never, 'a', { config: 'seq_bn', reduction_factor: 2, cross_adapter: true }) }], registry).graph;
    expect(graph.splices.map((s) => s.site)).toEqual(expect.arrayContaining(['encoder.layers.0.ffn', 'decoder.layers.1.cross_attention', 'decoder.layers.1.ffn']));
    store.sync(graph, 3);
    const trainer = createTrainer({ store, graph, policy: adaptersOnlyPolicy, schedule: () => 3e-2 });
    expect(trainer.trainableKeys.every((k) => graph.param(k).owner === 'adapter:a')).toBe(true);
    const config = graph.meta.seq2seq!;
    const src = randomIds(4, 5, 24, 7);
    const batch = makeSeq2SeqBatch(config, src, src.map((r) => [...r].reverse()));
    const exec = new Executor(graph, store);
    const frozen = store.snapshot([...graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key));
    const losses: number[] = [];
    const step = () => losses.push(trainer.step(() => seq2seqLoss(exec, batch, { training: true })).loss);
    step(); // creates the optimizer's moment slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 14; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    expect(losses.at(-1) as number).toBeLessThan((losses[0] as number) * 0.9);
    for (const [k, v] of frozen) expect(Array.from(store.get(k).dataSync())).toEqual(Array.from(v));
    trainer.dispose();
    disposeSeq2SeqBatch(batch);
    store.dispose();
  });
});

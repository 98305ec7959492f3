import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import { GraphBuilder } from '../graph/builder';
import { buildEncoder } from './encoder';
import { addHead } from './heads';

const config = { vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 12 };

describe('addHead', () => {
  test('a head can read another graph output than last_hidden_state', () => {
    // Publish a second representation (the encoder output doubled) and classify from it.
    const b = GraphBuilder.from(buildEncoder(config));
    const doubled = b.scope('extra', 'base').op('scale', 'doubled', [b.build().outputs['last_hidden_state'] as string], { attrs: { factor: 2 } });
    b.output('extra.doubled', doubled);
    const graph = addHead(b.build(), { type: 'classification', name: 'x', numLabels: 3, input: 'extra.doubled' });
    // CLS pooling is the default for a non-default input; the head's first node reads the chosen output.
    expect(graph.node('heads.x.cls').inputs).toEqual([doubled]);
    const store = WeightStore.create(graph, 1);
    const out = new Executor(graph, store).run({ input_ids: [[1, 2, 3]] }, { outputs: ['x.logits'] });
    expect(out['x.logits']?.shape).toEqual([1, 3]);
    tf.dispose(Object.values(out));
    store.dispose();
  });

  test('an unknown input or the pooler on another input is a ConfigError naming the field', () => {
    const graph = buildEncoder(config);
    expect(() => addHead(graph, { type: 'tokenClassification', name: 't', numLabels: 2, input: 'nope' })).toThrow(ConfigError);
    expect(() => addHead(graph, { type: 'tokenClassification', name: 't', numLabels: 2, input: 'nope' })).toThrow(/head\.input: the graph has no output 'nope'/);
    expect(() => addHead(graph, { type: 'classification', name: 'c', numLabels: 2, pooling: 'pooler', input: 'pooler_output' })).toThrow(/head\.pooling/);
  });
});

// Executor behaviour: feeding, defaults for omitted inputs, lazy evaluation, dropout seeding, constants.
import * as tf from '@tensorflow/tfjs';
import { GraphBuilder } from '../graph/builder';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { maxAbsDiff, runValues, toyRegistry } from '../testing/run-helpers';
import { Executor } from './executor';
import { WeightStore } from './weights';

const partial = { vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16, maxPositions: 16 };
const base = addHead(buildEncoder(partial), { type: 'classification', name: 'cls', numLabels: 3 });
const graph = applyPlacements(base, [{ adapter: adapter('toy', 'a'), select: { kinds: ['ffn'] }, mode: 'wrap' }], toyRegistry()).graph;
const ids = [
  [1, 2, 3, 4],
  [5, 6, 7, 8],
];

let store: WeightStore;
beforeAll(() => {
  store = WeightStore.create(graph, 8);
});
afterAll(() => store.dispose());

const hidden = (feeds: Parameters<Executor['run']>[0], options = {}) => runValues(graph, store, feeds, options)['last_hidden_state'] as Float32Array;

describe('Executor', () => {
  it('omitted attention_mask / token_type_ids are filled with ones / zeros', () => {
    const explicit = hidden({ input_ids: ids, attention_mask: [[1, 1, 1, 1], [1, 1, 1, 1]], token_type_ids: [[0, 0, 0, 0], [0, 0, 0, 0]] });
    expect(maxAbsDiff(hidden({ input_ids: ids }), explicit)).toBe(0);
    // and the mask does matter when given
    expect(maxAbsDiff(hidden({ input_ids: ids, attention_mask: [[1, 1, 0, 0], [1, 1, 1, 1]] }), explicit)).toBeGreaterThan(0);
  });

  it('accepts tensors or nested arrays, casting to the input dtype; does not dispose caller tensors', () => {
    const t = tf.tensor2d(ids, undefined, 'float32');
    try {
      expect(maxAbsDiff(hidden({ input_ids: t }), hidden({ input_ids: ids }))).toBe(0);
      expect(t.isDisposed).toBe(false);
    } finally {
      t.dispose();
    }
  });

  it('computes only the requested outputs, and a switch evaluates only the branch it picks', () => {
    const ex = new Executor(graph, store);
    const out = ex.run({ input_ids: ids }, { outputs: ['last_hidden_state'] });
    expect(Object.keys(out)).toEqual(['last_hidden_state']);
    tf.dispose(Object.values(out));
    const all = ex.traceShapes({ input_ids: ids });
    const skipped = ex.traceShapes({ input_ids: ids }, { skipLayers: 2 });
    expect(all.has('layer.0.ffn.adapters.a.down')).toBe(true);
    expect(skipped.has('layer.0.ffn.adapters.a.down')).toBe(false);
    expect(skipped.has('layer.0.ffn.splice.switch')).toBe(true);
  });

  it('dropout only in training; equal seeds give equal masks, different seeds different ones', () => {
    const evalOut = hidden({ input_ids: ids });
    expect(maxAbsDiff(hidden({ input_ids: ids }, { training: false, seed: 5 }), evalOut)).toBe(0);
    const a = hidden({ input_ids: ids }, { training: true, seed: 1 });
    const b = hidden({ input_ids: ids }, { training: true, seed: 1 });
    const c = hidden({ input_ids: ids }, { training: true, seed: 2 });
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(0);
    expect(maxAbsDiff(a, evalOut)).toBeGreaterThan(0);
  });

  it('constants replace node values (e.g. frozen lower layers computed once)', () => {
    // Expose layer 0's output (its ffn splice switch) to compute it separately.
    const b = GraphBuilder.from(graph);
    b.output('layer0', 'layer.0.ffn.splice.switch');
    const withLayer0 = b.build();
    const ex = new Executor(graph, store);
    const layer0 = new Executor(withLayer0, store).run({ input_ids: ids }, { outputs: ['layer0'] })['layer0'] as tf.Tensor;
    const full = hidden({ input_ids: ids });
    const resumed = ex.run({ input_ids: ids }, { outputs: ['last_hidden_state'], constants: new Map([['layer.0.ffn.splice.switch', layer0]]) });
    expect(maxAbsDiff((resumed['last_hidden_state'] as tf.Tensor).dataSync(), full)).toBe(0);
    // A constant is really used: zeros for layer 0 change the result.
    const zeros = tf.zerosLike(layer0);
    const changed = ex.run({ input_ids: ids }, { outputs: ['last_hidden_state'], constants: new Map([['layer.0.ffn.splice.switch', zeros]]) });
    expect(maxAbsDiff((changed['last_hidden_state'] as tf.Tensor).dataSync(), full)).toBeGreaterThan(0);
    expect(layer0.isDisposed).toBe(false); // the caller keeps ownership
    tf.dispose([layer0, zeros, ...Object.values(resumed), ...Object.values(changed)]);
  });

  it('an input given as a constant needs no feed and may have its own length (an encoder-decoder\'s source ids)', () => {
    const fed = hidden({ input_ids: ids });
    const ex = new Executor(graph, store);
    const given: [string, tf.Tensor][] = [['inputs.input_ids', tf.tensor2d(ids, [2, 4], 'int32')], ['inputs.attention_mask', tf.ones([2, 4])], ['inputs.token_type_ids', tf.zeros([2, 4], 'int32')]];
    const viaConstant = ex.run({}, { outputs: ['last_hidden_state'], constants: new Map(given) });
    expect(maxAbsDiff((viaConstant['last_hidden_state'] as tf.Tensor).dataSync(), fed)).toBe(0);
    tf.dispose([...Object.values(viaConstant), ...given.map(([, t]) => t)]);
  });
});

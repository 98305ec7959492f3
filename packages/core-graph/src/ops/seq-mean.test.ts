// `seqMean`: the one gate-pooling op (LoRA, prefix tuning and bottleneck gates emit it).
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { GraphError } from '../errors';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import { GraphBuilder } from '../graph/builder';
import { cse } from '../passes/cse';
import { opRegistry } from './registry';
import { SEQ_MEAN_OP } from './shape';

function run(values: number[][][]): number[] {
  const b = new GraphBuilder();
  const x = b.input('x', ['batch', values[0]!.length, values[0]![0]!.length], 'float32');
  b.output('y', b.add(SEQ_MEAN_OP, 'y', [x]));
  const g = b.build();
  expect(g.node('y').type.shape).toEqual(['batch', 1, values[0]![0]!.length]);
  const store = WeightStore.create(g);
  const feed = tf.tensor3d(values);
  const out = new Executor(g, store).run({ x: feed });
  const y = out['y'] as tf.Tensor;
  expect(y.shape).toEqual([values.length, 1, values[0]![0]!.length]);
  const data = Array.from(y.dataSync());
  tf.dispose([feed, ...Object.values(out)]);
  store.dispose();
  return data;
}

describe('seqMean', () => {
  it('is a pure core op', () => {
    expect(opRegistry.get(SEQ_MEAN_OP).pure).toBe(true);
  });

  // Reference: the mean over every position (padding included) recomputed in float64; float32 summation of ≤8
  // values in [-1, 1] is off by at most a few ulps of 1, so 1e-6 absolute.
  it('equals a float64 mean over the sequence axis', () => {
    const tensor = fc.integer({ min: 1, max: 3 }).chain((batch) => fc.integer({ min: 1, max: 8 }).chain((seq) => fc.integer({ min: 1, max: 4 }).chain((n) =>
      fc.array(fc.array(fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n }), { minLength: seq, maxLength: seq }), { minLength: batch, maxLength: batch }))));
    fc.assert(fc.property(tensor, (values) => {
      const got = run(values);
      const want = values.flatMap((rows) => rows[0]!.map((_, j) => rows.reduce((s, r) => s + Math.fround(r[j]!), 0) / rows.length));
      got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-6));
    }), { numRuns: 30 });
  });

  it('rejects a rank other than 3, naming the node', () => {
    const b = new GraphBuilder();
    const x = b.input('x', ['batch', 4], 'float32');
    expect(() => b.add(SEQ_MEAN_OP, 'pool', [x])).toThrow(GraphError);
    expect(() => b.add(SEQ_MEAN_OP, 'pool', [x])).toThrow(/pool/);
  });

  it('two gates pooling the same value merge under cse', () => {
    const b = new GraphBuilder();
    const x = b.input('x', ['batch', 5, 1], 'float32');
    b.output('a', b.add(SEQ_MEAN_OP, 'a', [x]));
    b.output('b', b.add(SEQ_MEAN_OP, 'b', [x]));
    const merged = cse(b.build());
    expect(merged.nodes.filter((n) => n.op === SEQ_MEAN_OP)).toHaveLength(1);
  });
});

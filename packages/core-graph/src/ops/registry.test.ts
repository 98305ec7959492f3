// The op vocabulary: plugins may add ops under new names, never replace a built-in.
import * as tf from '@tensorflow/tfjs';
import { GraphError } from '../errors';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import { GraphBuilder } from '../graph/builder';
import { defineOp, input } from './op-def';
import { opRegistry } from './registry';

const double = defineOp({ name: 'test.double', arity: 1, inferType: (args) => input(args, 0), run: ([x]) => tf.mul(x as tf.Tensor, 2) });

describe('opRegistry', () => {
  it('lists the built-ins and rejects replacing one', () => {
    expect(opRegistry.names()).toEqual(expect.arrayContaining(['dense', 'embedding', 'layerNorm', 'attention', 'switch', 'gelu', 'gelu_new', 'relu']));
    expect(() => opRegistry.register({ ...double, name: 'dense' })).toThrow(new GraphError("op 'dense' is already registered"));
    expect(() => opRegistry.get('nope')).toThrow(/^unknown op 'nope'/);
  });

  it('a registered op is typed at build time and run by the executor', () => {
    opRegistry.register(double);
    opRegistry.register(double); // registering the same definition again is harmless
    const b = new GraphBuilder();
    const x = b.input('x', ['batch', 3], 'float32');
    b.output('y', b.add('test.double', 'y', [x]));
    const g = b.build();
    const store = WeightStore.create(g);
    const out = new Executor(g, store).run({ x: [[1, 2, 3]] });
    expect(Array.from((out['y'] as tf.Tensor).dataSync())).toEqual([2, 4, 6]);
    tf.dispose(Object.values(out));
    store.dispose();
  });

  it('an op that throws at run time surfaces as a GraphError naming the node and op', () => {
    opRegistry.register(defineOp({ name: 'test.fail', arity: 1, inferType: (args) => input(args, 0), run: () => { throw new Error('boom'); } }));
    const b = new GraphBuilder();
    const x = b.input('x', [2], 'float32');
    b.output('y', b.add('test.fail', 'bad', [x]));
    const g = b.build();
    const store = WeightStore.create(g);
    expect(() => new Executor(g, store).run({ x: [1, 2] })).toThrow(new GraphError("node 'bad' (test.fail) failed: boom"));
    store.dispose();
  });
});

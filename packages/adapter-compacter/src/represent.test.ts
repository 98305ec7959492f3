// With n = 1 and rank r ≥ min(k, d), a PHM layer can represent any dense k × d matrix: H = A_1·(S·T) with a
// scalar A_1. Shown in closed form (exact factors) and by fitting a random target with Adam.
import * as tf from '@tensorflow/tfjs';
import type { Graph, ParamDecl } from '@adapters/core-graph';
import { createRuntime, Executor, GraphBuilder, WeightStore } from '@adapters/core-graph';
import { createRefRng } from '@adapters/core-graph/testing';
import { compacterPackage } from './index';
import { maxAbsDiff, setWeight } from './__tests__/helpers';

/** A graph with one PHM layer x [batch, k] → [batch, d] (n = 1, factorised W of rank r, bias). */
function phmGraph(k: number, d: number, r: number): Graph {
  // Hand-built PHM nodes: typed (and later run) with a runtime that has the op.
  const b = new GraphBuilder({}, createRuntime([compacterPackage]));
  const x = b.input('x', ['batch', k], 'float32');
  const sc = b.scope('phm', 'adapter:fit');
  const p = (shape: number[], std = 0.5): ParamDecl => ({ shape, init: { kind: 'normal', std }, kind: 'other' });
  const y = sc.op('phm', 'layer', [x], {
    params: { phm_rule: p([1, 1, 1]), W_left: p([1, k, r]), W_right: p([1, r, d]), b: { shape: [d], init: { kind: 'zeros' }, kind: 'bias' } },
  });
  b.output('y', y);
  return b.build();
}

const randomMatrix = (rows: number, cols: number, seed: number): number[][] => {
  const rng = createRefRng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
};

/** The layer's output on the identity rows: y = I·H + b = H + b. */
function outputOnIdentity(graph: Graph, store: WeightStore, k: number): Float32Array {
  const eye = tf.eye(k);
  const out = new Executor(graph, store).run({ x: eye });
  const v = Float32Array.from((out['y'] as tf.Tensor).dataSync());
  eye.dispose();
  for (const t of Object.values(out)) t.dispose();
  return v;
}

describe('n = 1, rank ≥ min(k, d): a PHM layer represents any dense matrix', () => {
  test.each([
    [5, 3],
    [3, 7],
    [4, 4],
  ])('closed form, k = %i, d = %i: A_1 = 1 and factors S = [I | 0], T = [target; 0] (k > d: S = [target | 0], T = [I; 0]) reproduce a random target exactly', (k, d) => {
    const r = Math.min(k, d) + 1;
    const graph = phmGraph(k, d, r);
    const store = WeightStore.create(graph, 0);
    const target = randomMatrix(k, d, k * 10 + d);
    const bias = randomMatrix(1, d, 3)[0] as number[];
    // k ≤ d: S = [I_k | 0] (k × r), T = [target; 0] (r × d). k > d: S = [target | 0] (k × r), T = [I_d; 0] (r × d).
    const S = new Float32Array(k * r);
    const T = new Float32Array(r * d);
    for (let i = 0; i < k; i++) for (let j = 0; j < d; j++) {
      if (k <= d) {
        S[i * r + i] = 1;
        T[i * d + j] = (target[i] as number[])[j] as number;
      } else {
        S[i * r + j] = (target[i] as number[])[j] as number;
        T[j * d + j] = 1;
      }
    }
    setWeight(store, 'phm.layer.phm_rule', [1], [1, 1, 1]);
    setWeight(store, 'phm.layer.W_left', S, [1, k, r]);
    setWeight(store, 'phm.layer.W_right', T, [1, r, d]);
    setWeight(store, 'phm.layer.b', bias, [d]);
    const want = Float32Array.from(target.flatMap((row) => row.map((v, j) => Math.fround(v + (bias[j] as number)))));
    expect(maxAbsDiff(outputOnIdentity(graph, store, k), want)).toBeLessThan(1e-6);
    store.dispose();
  });

  test('Adam (lr 0.02) from a random init fits a random 6 × 4 target (rank 4) to 1e-5 in 400 steps (measured 2.4e-7)', () => {
    const [k, d, r] = [6, 4, 4];
    const graph = phmGraph(k, d, r);
    const store = WeightStore.create(graph, 3);
    const executor = new Executor(graph, store);
    const target = tf.tensor2d(randomMatrix(k, d, 42));
    const eye = tf.eye(k);
    const vars = [...graph.params.keys()].map((key) => store.get(key));
    for (const v of vars) v.trainable = true;
    const before = tf.memory().numTensors;
    const optimizer = tf.train.adam(0.02);
    let loss = Infinity;
    for (let step = 0; step < 400; step++) {
      const l = optimizer.minimize(() => tf.mean(tf.square(tf.sub(executor.forward({ x: eye })['y'] as tf.Tensor, target))) as tf.Scalar, true, vars);
      loss = (l as tf.Scalar).dataSync()[0] as number;
      l?.dispose();
    }
    const got = outputOnIdentity(graph, store, k);
    const err = maxAbsDiff(got, target.dataSync());
    if (process.env['COMPACTER_REPORT']) console.log(`Adam fit: loss ${loss}, max |H - target| ${err}`);
    expect(loss).toBeLessThan(1e-10);
    expect(err).toBeLessThan(1e-5);
    optimizer.dispose();
    // Adam's state is the only thing the loop kept, and dispose() freed it.
    expect(tf.memory().numTensors).toBe(before);
    target.dispose();
    eye.dispose();
    store.dispose();
  });
});

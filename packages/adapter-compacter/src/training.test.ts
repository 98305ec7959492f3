// Training a Compacter with core-graph's trainer: only Compacter parameters, LayerNorms and the head change
// (everything else bit for bit); learn_phm: false freezes the rule through compacterPolicy; no tensor leaks.
import * as tf from '@tensorflow/tfjs';
import type { Graph, TrainExample, TrainPolicy, WeightStore } from '@adapters/core-graph';
import { addHead, adapterPolicy, Executor, train } from '@adapters/core-graph';
import { compacterPolicy, compacterRule, sharedKey } from './plugin';
import { adapted, baseStore, bitEqual, FEEDS, tinyBase } from './__tests__/helpers';

const EXAMPLES: TrainExample[] = [
  { inputIds: [2, 7, 11, 5, 3], label: 0 },
  { inputIds: [2, 31, 8, 3], label: 1 },
  { inputIds: [2, 9, 9, 14, 21, 3], label: 1 },
  { inputIds: [2, 4, 3], label: 0 },
];

function setup(preset: string, overrides: Record<string, unknown> = {}): { graph: Graph; store: WeightStore } {
  const withHead = addHead(tinyBase(), { type: 'classification', name: 'cls', numLabels: 2 });
  const graph = adapted(withHead, [compacterRule('cpt', preset, { reduction_factor: 4, ...overrides })]);
  return { graph, store: baseStore(graph, 21).store };
}

function trainSome(graph: Graph, store: WeightStore, policy: TrainPolicy): string[] {
  const result = train({ graph, store, output: 'cls.logits', train: EXAMPLES, policy, epochs: 2, batchSize: 2, learningRate: 1e-2, warmupRatio: 0, seed: 1 });
  expect(result.steps).toBe(4);
  return [...result.trainableKeys];
}

const category = (graph: Graph, key: string): string => {
  const p = graph.param(key);
  return p.owner.startsWith('adapter:') ? 'compacter' : p.owner.startsWith('head:') ? 'head' : p.kind === 'norm' ? 'norm' : 'frozen';
};

describe('training under adapterPolicy', () => {
  test.each(['compacter', 'compacter++'])('%s: exactly the Compacter, LayerNorm and head tensors change; the rest is bit-for-bit unchanged', (preset) => {
    const { graph, store } = setup(preset);
    const before = store.snapshot();
    const tensors = tf.memory().numTensors;
    const trainable = trainSome(graph, store, adapterPolicy);
    expect(tf.memory().numTensors).toBe(tensors);
    const after = store.snapshot();
    const changed = [...before.keys()].filter((k) => !bitEqual(before.get(k) as Float32Array, after.get(k) as Float32Array));
    expect(new Set(changed)).toEqual(new Set(trainable));
    expect(new Set(trainable.map((k) => category(graph, k)))).toEqual(new Set(['compacter', 'norm', 'head']));
    expect(changed).toContain(sharedKey('cpt', 'phm_rule'));
    const frozen = [...before.keys()].filter((k) => category(graph, k) === 'frozen');
    expect(frozen.length).toBeGreaterThan(0);
    for (const k of frozen) expect(bitEqual(before.get(k) as Float32Array, after.get(k) as Float32Array)).toBe(true);
    store.dispose();
  });

  test('learn_phm: false with compacterPolicy keeps the shared rule fixed while W and biases train', () => {
    const { graph, store } = setup('compacter', { learn_phm: false });
    const rule = sharedKey('cpt', 'phm_rule');
    const before = store.snapshot();
    const trainable = trainSome(graph, store, compacterPolicy(graph));
    expect(trainable).not.toContain(rule);
    const after = store.snapshot();
    expect(bitEqual(before.get(rule) as Float32Array, after.get(rule) as Float32Array)).toBe(true);
    const w = 'layer.0.ffn.adapters.cpt.adapter_up.W_right';
    expect(bitEqual(before.get(w) as Float32Array, after.get(w) as Float32Array)).toBe(false);
    // adapterPolicy alone would train it: core-graph policies cannot see learn_phm.
    expect(adapterPolicy(graph.param(rule))).toBe(true);
    store.dispose();
  });
});

describe('no tensor leaks', () => {
  test('repeated runs and gradient steps (both strategies) keep the tensor count', () => {
    for (const strategy of ['kron', 'factors']) {
      const { graph, store } = setup('compacter', { phm_strategy: strategy });
      const executor = new Executor(graph, store);
      const vars = [...graph.params.values()].filter((p) => p.owner === 'adapter:cpt').map((p) => store.get(p.key));
      for (const v of vars) v.trainable = true;
      const start = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const out = executor.run(FEEDS);
        tf.dispose(Object.values(out));
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => tf.sum(executor.forward(FEEDS, { outputs: ['cls.logits'] })['cls.logits'] as tf.Tensor) as tf.Scalar, vars);
          expect(Object.keys(grads)).toHaveLength(vars.length);
          return value;
        }).dispose();
      }
      expect(tf.memory().numTensors).toBe(start);
      store.dispose();
    }
  });
});

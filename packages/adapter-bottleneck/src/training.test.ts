// Training a Houlsby adapter with adapterPolicy changes only adapter, LayerNorm and head tensors; no
// tensor leaks across repeated runs, training steps, frozen prefixes and pruning.
import * as tf from '@tensorflow/tfjs';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { addHead, adapterPolicy, Executor } from '@adapters/core-graph';
import { adapterDropSchedule, computeFrozenPrefix, disposeConstants } from './adapter-drop';
import { bottleneckRule } from './plugin';
import { pruneAdapterLayers } from './prune';
import { adapted, baseStore, bitEqual, FEEDS, tinyBase } from './__tests__/helpers';

const LABELS = [0, 1];

function setup(): { graph: Graph; store: WeightStore; trainable: string[] } {
  const withHead = addHead(tinyBase(), { type: 'classification', name: 'cls', numLabels: 2 });
  const graph = adapted(withHead, [bottleneckRule('houlsby', 'double_seq_bn', { init_weights: 'houlsby' })]);
  const { store } = baseStore(graph, 21);
  const trainable: string[] = [];
  for (const spec of graph.params.values()) {
    const v = store.get(spec.key);
    v.trainable = adapterPolicy(spec);
    if (v.trainable) trainable.push(spec.key);
  }
  return { graph, store, trainable };
}

/** One step of plain SGD over the trainable variables; everything it allocates is freed. */
function sgdStep(executor: Executor, store: WeightStore, keys: readonly string[], step: number, options: { training?: boolean; skipLayers?: number; constants?: ReadonlyMap<string, tf.Tensor> } = {}, lr = 0.5): number {
  const vars = keys.map((k) => store.get(k));
  const byName = new Map(vars.map((v) => [v.name, v]));
  return tf.tidy(() => {
    const labels = tf.oneHot(tf.tensor1d(LABELS, 'int32'), 2);
    const { value, grads } = tf.variableGrads(() => {
      const logits = executor.forward(FEEDS, { training: true, seed: step + 1, ...options })['cls.logits'] as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    }, vars);
    for (const [name, g] of Object.entries(grads)) {
      const v = byName.get(name) as tf.Variable;
      v.assign(tf.sub(v, tf.mul(g, lr)));
    }
    return value.dataSync()[0] as number;
  });
}

describe('training a Houlsby adapter (double_seq_bn) under adapterPolicy', () => {
  test('changes exactly the adapter, LayerNorm and head tensors; every other weight is bit-for-bit unchanged', () => {
    const { graph, store, trainable } = setup();
    const executor = new Executor(graph, store);
    const evalLoss = () =>
      tf.tidy(() => {
        const logits = executor.forward(FEEDS)['cls.logits'] as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(LABELS, 'int32'), 2), logits).dataSync()[0] as number;
      });
    const before = store.snapshot();
    const initial = evalLoss();
    // Dropout off, so the loss must fall at every step.
    const losses = [0, 1, 2, 3, 4, 5].map((s) => sgdStep(executor, store, trainable, s, { training: false }));
    const after = store.snapshot();
    const changed = [...before.keys()].filter((k) => !bitEqual(before.get(k) as Float32Array, after.get(k) as Float32Array));
    const kinds = (k: string) => {
      const p = graph.param(k);
      return p.owner.startsWith('adapter:') ? 'adapter' : p.owner.startsWith('head:') ? 'head' : p.kind === 'norm' ? 'norm' : 'frozen';
    };
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((k) => kinds(k) !== 'frozen')).toBe(true);
    // Every trainable tensor moved (adapters, base LayerNorms, the head), nothing else did.
    expect(new Set(changed)).toEqual(new Set(trainable));
    expect(new Set(trainable.map(kinds))).toEqual(new Set(['adapter', 'norm', 'head']));
    expect([...before.keys()].filter((k) => kinds(k) === 'frozen').length).toBeGreaterThan(0);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[0]).toBe(initial);
    for (let i = 1; i < losses.length; i++) expect(losses[i] as number).toBeLessThan(losses[i - 1] as number);
    expect(evalLoss()).toBeLessThan(losses[losses.length - 1] as number);
    store.dispose();
  });
});

describe('no tensor leaks', () => {
  test('repeated inference, AdapterDrop training steps with frozen prefixes, and pruning', () => {
    const { graph, store, trainable } = setup();
    const executor = new Executor(graph, store);
    const schedule = adapterDropSchedule({ mode: 'robust', numLayers: 3, seed: 3 });
    const cycle = (step: number) => {
      const out = executor.run(FEEDS, { skipLayers: step % 4 });
      tf.dispose(Object.values(out));
      const n = schedule.at(step);
      const constants = computeFrozenPrefix(executor, FEEDS, n, { training: true, seed: step + 1 });
      const keys = trainable.filter((k) => (graph.param(k).layer ?? Infinity) >= n);
      sgdStep(executor, store, keys, step, { skipLayers: n, constants });
      disposeConstants(constants);
    };
    cycle(0); // warm-up (tfjs may cache kernels/constants on first use)
    const baseline = tf.memory().numTensors;
    for (let step = 1; step <= 6; step++) {
      cycle(step);
      expect(tf.memory().numTensors).toBe(baseline);
    }
    const params = store.keys().length;
    const pruned = pruneAdapterLayers(graph, store, 'houlsby', [0]);
    const removed = params - store.keys().length;
    expect(removed).toBe(8); // two adapters · (down, up) · (weight, bias)
    expect(tf.memory().numTensors).toBe(baseline - removed);
    const prunedExec = new Executor(pruned, store);
    for (let i = 0; i < 3; i++) tf.dispose(Object.values(prunedExec.run(FEEDS)));
    expect(tf.memory().numTensors).toBe(baseline - removed);
    store.dispose();
  });
});

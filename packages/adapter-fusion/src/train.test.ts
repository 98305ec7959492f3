import * as tf from '@tensorflow/tfjs';
import {
  adapterUses, fusionCatalog, fusionGraph, fusionRegularization, fusionTemperature, fusionValueKeys, trainFusion, trainMultiTaskAdapters, trainSingleTaskAdapters,
} from './index';
import { buildEncoder, WeightStore } from '@adapters/core-graph';
import { assignValues, bitEqual, D, randomValues, registry, seqBn, TINY, toyExamples } from './__tests__/helpers';

const encoder = () => buildEncoder({ ...TINY, hiddenDropout: 0.1, attentionDropout: 0.1 });
const TARGET = { type: 'classification', name: 'tgt', numLabels: 2, pooling: 'cls' } as const;

describe('two-stage recipe', () => {
  test('stage 1 (ST-A) trains only each task adapter and head; stage 2 changes only the fusion and the target head, bit for bit', () => {
    const base = encoder();
    const store = WeightStore.create(base, 0);
    const tasks = [
      { name: 'a', numLabels: 2, train: toyExamples(8, 1), adapter: seqBn('a'), head: { ...TARGET, name: 'a' } },
      { name: 'b', numLabels: 3, train: toyExamples(8, 2).map((e, i) => ({ ...e, label: i % 3 })), adapter: seqBn('b'), head: { ...TARGET, name: 'b', numLabels: 3 } },
    ];
    const baseBefore = store.snapshot();
    const stage1 = trainSingleTaskAdapters({ base, store, registry, tasks, settings: { maxSteps: 2, batchSize: 4, learningRate: 1e-2, seed: 1 } });
    const afterStage1 = store.snapshot();
    for (const [key, before] of baseBefore) expect(bitEqual(afterStage1.get(key) as Float32Array, before)).toBe(true);
    const changed1 = [...afterStage1.keys()].filter((k) => !baseBefore.has(k));
    expect(changed1.some((k) => k.includes('.adapters.a.'))).toBe(true);
    expect(stage1.adapters.map((a) => a.name)).toEqual(['a', 'b']);

    const spec = { name: 'ab', adapters: adapterUses(Object.values(stage1.graphs), ['a', 'b']) };
    const graph = fusionGraph(base, spec, TARGET, registry);
    store.sync(graph, 1);
    const before = store.snapshot();
    const tensorsBefore = tf.memory().numTensors;
    const result = trainFusion({ graph, store, name: 'ab', output: 'tgt.logits', train: toyExamples(12, 3), eval: toyExamples(4, 9), maxSteps: 3, batchSize: 4, learningRate: 1e-2, seed: 2, restoreBest: false });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(result.steps).toBe(3);
    const after = store.snapshot();
    let fusionChanged = 0;
    for (const [key, values] of before) {
      const owner = graph.params.get(key)?.owner;
      const same = bitEqual(after.get(key) as Float32Array, values);
      if (owner === 'fusion:ab' || owner === 'head:tgt') fusionChanged += same ? 0 : 1;
      else expect([key, same]).toEqual([key, true]);
    }
    expect(fusionChanged).toBeGreaterThan(0);
    expect(new Set(result.trainableKeys.map((k) => graph.param(k).owner))).toEqual(new Set(['fusion:ab', 'head:tgt']));
    store.dispose();
  });

  test('MT-A trains all task adapters jointly (sum and alternate), base frozen', () => {
    const base = encoder();
    for (const mix of ['sum', 'alternate'] as const) {
      const store = WeightStore.create(base, 0);
      const baseBefore = store.snapshot();
      const records: Array<readonly string[]> = [];
      const tasks = [
        { name: 'a', numLabels: 2, train: toyExamples(6, 4), eval: toyExamples(4, 5), adapter: seqBn('a'), head: { ...TARGET, name: 'a' } },
        { name: 'b', numLabels: 2, train: toyExamples(10, 6), adapter: seqBn('b'), head: { ...TARGET, name: 'b' } },
      ];
      const mt = trainMultiTaskAdapters({ base, store, registry, tasks, mix, steps: 3, batchSize: 4, learningRate: 1e-2, seed: 3, onRecord: (r) => records.push(r.tasks) });
      expect(records).toEqual(mix === 'sum' ? [['a', 'b'], ['a', 'b'], ['a', 'b']] : [['a'], ['b'], ['a']]);
      expect(Object.keys(mt.evals)).toEqual(['a']);
      const after = store.snapshot();
      for (const [key, v] of baseBefore) expect(bitEqual(after.get(key) as Float32Array, v)).toBe(true);
      const initial = WeightStore.create(mt.graphs['b'] ?? base, 3);
      const bKeys = [...(mt.graphs['b']?.params.values() ?? [])].filter((p) => p.owner === 'adapter:b').map((p) => p.key);
      expect(bKeys.some((k) => !bitEqual(after.get(k) as Float32Array, initial.get(k).dataSync()))).toBe(true);
      initial.dispose();
      store.dispose();
    }
  });

  test('MT-A with a core task sampling: each step trains the drawn task only (its adapter and head move, the other\'s stay)', () => {
    const base = encoder();
    const store = WeightStore.create(base, 0);
    const tasks = [
      { name: 'a', numLabels: 2, train: toyExamples(4, 4), adapter: seqBn('a'), head: { ...TARGET, name: 'a' } },
      { name: 'b', numLabels: 2, train: toyExamples(12, 6), adapter: seqBn('b'), head: { ...TARGET, name: 'b' } },
    ];
    const drawn: string[] = [];
    const mt = trainMultiTaskAdapters({ base, store, registry, tasks, sampling: { temperature: 2 }, steps: 1, batchSize: 4, learningRate: 1e-2, seed: 5, onRecord: (r) => drawn.push(...r.tasks) });
    expect(drawn).toHaveLength(1);
    // Task weights start from the seed MT-A syncs them with.
    const initial = WeightStore.create(mt.graphs['a'] ?? base, 5);
    initial.sync(mt.graphs['b'] ?? base, 5);
    for (const t of ['a', 'b']) {
      const keys = [...(mt.graphs[t]?.params.values() ?? [])].filter((p) => p.owner === `adapter:${t}` || p.owner === `head:${t}`).map((p) => p.key);
      const moved = keys.some((k) => !bitEqual(store.get(k).dataSync() as Float32Array, initial.get(k).dataSync() as Float32Array));
      expect([t, moved]).toEqual([t, drawn.includes(t)]);
    }
    initial.dispose();
    store.dispose();
  });

  test('value regularisation is 0.01·Σ(I − V)² over trainable V matrices', () => {
    const graph = fusionGraph(encoder(), { adapters: [seqBn('a'), seqBn('b')] }, TARGET, registry);
    const store = WeightStore.create(graph, 0);
    const keys = fusionValueKeys(graph, 'a,b');
    expect(keys).toHaveLength(2);
    const reg = fusionRegularization(graph, store, 'a,b');
    for (const k of keys) store.get(k).trainable = false;
    expect(tf.tidy(() => reg().dataSync()[0])).toBe(0);
    let expected = 0;
    keys.forEach((k, i) => {
      const v = randomValues(D * D, 20 + i, 0.3);
      assignValues(store, k, v);
      store.get(k).trainable = true;
      for (let r = 0; r < D; r++) for (let c = 0; c < D; c++) expected += ((r === c ? 1 : 0) - (v[r * D + c] as number)) ** 2;
    });
    const value = tf.tidy(() => reg().dataSync()[0] as number);
    expect(Math.abs(value - 0.01 * expected) / (0.01 * expected)).toBeLessThan(1e-5);
    store.dispose();
  });

  test('temperature: T starts at 50 and falls by 0.05 per training step', () => {
    const graph = fusionGraph(encoder(), { adapters: [seqBn('a'), seqBn('b')], config: { config: 'static', temperature: true }, name: 'hot' }, TARGET, registry);
    const store = WeightStore.create(graph, 0);
    const seen: number[] = [];
    trainFusion({ graph, store, name: 'hot', output: 'tgt.logits', train: toyExamples(8, 1), maxSteps: 2, batchSize: 4, onRecord: () => seen.push(fusionTemperature.get('hot')) });
    expect(seen).toEqual([50 - 0.05, 50 - 0.1]);
    expect(fusionCatalog(graph)['hot']?.config.temperature).toBe(true);
    fusionTemperature.reset('hot');
    store.dispose();
  });
});

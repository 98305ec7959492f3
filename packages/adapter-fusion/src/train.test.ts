import * as tf from '@tensorflow/tfjs';
import { adapterUses, fusionCatalog, fusionStateOwner, fusionTemperature, fusionTemperatureKey, setFusionTemperature } from './index';
import { fusionGraph, fusionRegularization, fusionValueKeys, trainFusion, trainMultiTaskAdapters, trainSingleTaskAdapters } from './recipes';
import { adapterPolicy, adaptersOnlyPolicy, buildEncoder, fullFineTunePolicy, WeightStore } from '@adapters/core-graph';
import { assignValues, bitEqual, D, randomValues, registry, run as runGraph, seqBn, TINY, toyExamples } from './__tests__/helpers';

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
    // A second model in the same process, with a fusion of the same name: its T is its own.
    const other = WeightStore.create(graph, 1);
    const before = other.snapshot([fusionTemperatureKey('hot')]);
    expect(fusionTemperature(store, 'hot')).toBe(50);
    trainFusion({ graph, store, name: 'hot', output: 'tgt.logits', train: toyExamples(8, 1), maxSteps: 2, batchSize: 4, onRecord: () => seen.push(fusionTemperature(store, 'hot')) });
    // float32: 49.95 and 49.9 are not representable exactly; the store holds their float32 roundings.
    expect(seen).toEqual([Math.fround(50 - 0.05), Math.fround(50 - 0.1)]);
    expect(fusionCatalog(graph)['hot']?.config.temperature).toBe(true);
    expect(other.snapshot([fusionTemperatureKey('hot')])).toEqual(before);
    expect(fusionTemperature(other, 'hot')).toBe(50);
    // T is state, not a trained weight: not trainable, owned by state:fusion:hot.
    expect(graph.params.get(fusionTemperatureKey('hot'))?.owner).toBe(fusionStateOwner('hot'));
    expect(store.get(fusionTemperatureKey('hot')).trainable).toBe(false);
    const spec = graph.params.get(fusionTemperatureKey('hot'));
    for (const policy of [adapterPolicy, adaptersOnlyPolicy, fullFineTunePolicy]) expect(spec && policy(spec)).toBe(false);
    store.dispose();
    other.dispose();
  });

  test('temperature divides the scores: probabilities at T equal softmax(s / T) of those at T = 1', () => {
    const graph = fusionGraph(encoder(), { adapters: [seqBn('a'), seqBn('b')], config: { config: 'static', temperature: true }, name: 'warm' }, TARGET, registry);
    const store = WeightStore.create(graph, 3);
    const probsNode = Object.values(fusionCatalog(graph)['warm']?.sites ?? {})[0]?.probs as string;
    const run = (): Float32Array => runGraph(graph, store, undefined, { outputs: ['tgt.logits'], nodes: [probsNode] })[probsNode] as Float32Array;
    setFusionTemperature(store, 'warm', 1);
    const atOne = run();
    setFusionTemperature(store, 'warm', 7);
    const atSeven = run();
    // Recover the scores (up to a per-row constant) from T = 1: s = log p; softmax(s / 7) in float64.
    const n = 2;
    for (let row = 0; row < atOne.length / n; row++) {
      const s = [0, 1].map((i) => Math.log(atOne[row * n + i] as number) / 7);
      const z = Math.log(s.reduce((a, v) => a + Math.exp(v), 0));
      for (let i = 0; i < n; i++) expect(Math.abs((atSeven[row * n + i] as number) - Math.exp((s[i] as number) - z))).toBeLessThan(1e-5);
    }
    expect(() => setFusionTemperature(store, 'warm', 0)).toThrow(/temperature/);
    store.dispose();
  });
});

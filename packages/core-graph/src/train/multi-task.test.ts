import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { adaptersOnlyPolicy } from '../exec/policy';
import { mulberry32 } from '../exec/random';
import { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { toyRegistry } from '../testing/run-helpers';
import type { TrainExample } from './batches';
import type { TrainTask } from './multi-task';
import { trainMultiTask } from './multi-task';
import { taskSchedule } from './task-sampling';

const config = { vocabSize: 30, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16, hiddenDropout: 0.1, attentionDropout: 0.1 };

function data(count: number, seed: number, labels: number): TrainExample[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => ({ inputIds: [1, ...Array.from({ length: 2 + Math.floor(rand() * 4) }, () => 5 + Math.floor(rand() * 20)), 2], label: Math.floor(rand() * labels) }));
}

/** Three tasks sharing one adapter (`shared`), each with its own head. */
function tasks(): TrainTask[] {
  const body = applyPlacements(buildEncoder(config), [{ adapter: adapter('toy', 'shared') }], toyRegistry()).graph;
  const sizes = [8, 16, 32];
  return ['a', 'b', 'c'].map((name, i): TrainTask => {
    const graph: Graph = addHead(body, { type: 'classification', name, numLabels: i + 2, pooling: 'cls' });
    return { name, graph, output: `${name}.logits`, train: data(sizes[i] as number, i + 1, i + 2) };
  });
}

const headKeys = (g: Graph, name: string) => [...g.params.values()].filter((p) => p.owner === `head:${name}`).map((p) => p.key);
const bits = (store: WeightStore, keys: readonly string[]) => keys.map((k) => Buffer.from((store.get(k).dataSync() as Float32Array).buffer).toString('base64'));

describe('trainMultiTask', () => {
  test('a step updates only the sampled task\'s head (bit for bit) and the shared adapter; the draw follows taskSchedule', () => {
    const ts = tasks();
    const store = WeightStore.create((ts[0] as TrainTask).graph, 1);
    for (const t of ts) store.sync(t.graph, 1);
    const sharedKeys = [...(ts[0] as TrainTask).graph.params.values()].filter((p) => p.owner === 'adapter:shared').map((p) => p.key);
    const seen = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const before = new Map(ts.map((t) => [t.name, bits(store, headKeys(t.graph, t.name))]));
      const sharedBefore = bits(store, sharedKeys);
      const result = trainMultiTask({ store, tasks: ts, sampling: 'proportional', steps: 1, batchSize: 4, learningRate: 1e-2, warmupRatio: 0, seed });
      const expected = taskSchedule({ sizes: ts.map((t) => t.train.length), sampling: 'proportional', steps: 1, seed })[0] as number[];
      const drawn = (result.history[0]?.tasks ?? []) as string[];
      expect(drawn).toEqual(expected.map((i) => (ts[i] as TrainTask).name));
      for (const t of ts) {
        const changed = bits(store, headKeys(t.graph, t.name)).some((b, k) => b !== before.get(t.name)?.[k]);
        expect({ task: t.name, changed }).toEqual({ task: t.name, changed: drawn.includes(t.name) });
      }
      expect(bits(store, sharedKeys)).not.toEqual(sharedBefore);
      drawn.forEach((d) => seen.add(d));
    }
    // The seeds cover more than one task, so the check above saw both sides.
    expect(seen.size).toBeGreaterThan(1);
    store.dispose();
  });

  test('same seed → bit-identical weights; base frozen; evals per task; tensor count flat; losses summed under `all`', () => {
    const ts = tasks();
    const runOnce = (sampling: 'annealed' | 'all') => {
      const store = WeightStore.create((ts[0] as TrainTask).graph, 1);
      for (const t of ts) store.sync(t.graph, 1);
      const base = store.snapshot([...(ts[0] as TrainTask).graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key));
      const start = tf.memory().numTensors;
      const result = trainMultiTask({ store, tasks: ts.map((t) => ({ ...t, eval: t.train.slice(0, 4) })), sampling, steps: 6, epochs: 3, batchSize: 4, seed: 9, policy: adaptersOnlyPolicy });
      expect(tf.memory().numTensors).toBe(start);
      for (const [k, v] of base) expect(Buffer.from((store.get(k).dataSync() as Float32Array).buffer).equals(Buffer.from(v.buffer))).toBe(true);
      const after = store.snapshot(result.trainableKeys);
      store.dispose();
      return { result, after };
    };
    const a = runOnce('annealed');
    const b = runOnce('annealed');
    for (const [k, v] of a.after) expect(Buffer.from((b.after.get(k) as Float32Array).buffer).equals(Buffer.from(v.buffer))).toBe(true);
    expect(Object.keys(a.result.evals).sort()).toEqual(['a', 'b', 'c']);
    expect(a.result.history.map((r) => r.epoch)).toEqual([0, 0, 1, 1, 2, 2]);
    const all = runOnce('all').result.history;
    for (const r of all) {
      expect(r.tasks).toEqual(['a', 'b', 'c']);
      // The optimized loss is the float32 sum of the three task losses.
      expect(r.loss).toBeCloseTo(r.losses.reduce((x, y) => x + y, 0), 5);
    }
  });

  test('bad input: no tasks, a duplicate name, a missing output, empty data', () => {
    const ts = tasks();
    const store = WeightStore.create((ts[0] as TrainTask).graph, 1);
    expect(() => trainMultiTask({ store, tasks: [] })).toThrow(ConfigError);
    expect(() => trainMultiTask({ store, tasks: [ts[0] as TrainTask, ts[0] as TrainTask] })).toThrow(/listed twice/);
    expect(() => trainMultiTask({ store, tasks: [{ ...(ts[0] as TrainTask), output: 'nope' }] })).toThrow(/tasks\.a\.output/);
    expect(() => trainMultiTask({ store, tasks: [{ ...(ts[0] as TrainTask), train: [] }] })).toThrow(/tasks\.a\.train/);
    store.dispose();
  });
});

import * as tf from '@tensorflow/tfjs';
import { WasmHeapExhaustedError } from '../backend/wasm-heap-guard';
import { ConfigError } from '../errors';
import { Executor } from '../exec/executor';
import { adaptersOnlyPolicy } from '../exec/policy';
import { mulberry32 } from '../exec/random';
import { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { failForwardOnce } from '../testing/heap-exhaustion';
import { toyRegistry } from '../testing/run-helpers';
import type { TrainExample } from './batches';
import type { MultiTaskTrainOptions, MultiTaskTrainResult, TrainTask } from './multi-task';
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

  describe("checkpointLayers 'auto' (the default): checkpointing from the step that ran out of wasm heap", () => {
    const ts = tasks();
    /** A fresh store trained 3 steps on all three tasks at once; the trainable weights after it. */
    const run = (options: Partial<MultiTaskTrainOptions>, failAt = 0) => {
      const store = WeightStore.create((ts[0] as TrainTask).graph, 1);
      for (const t of ts) store.sync(t.graph, 1);
      const before = tf.memory().numTensors;
      const undo = failForwardOnce(failAt);
      const forward = jest.spyOn(Executor.prototype, 'forward');
      let result: MultiTaskTrainResult;
      let plainForwards: number;
      try {
        result = trainMultiTask({ store, tasks: ts, sampling: 'all', steps: 3, batchSize: 4, learningRate: 1e-2, warmupRatio: 0, seed: 3, ...options });
        // Forward passes of whole task graphs, i.e. not checkpointed ones (those ask for nodes or pass constants).
        plainForwards = forward.mock.calls.filter(([, o]) => o?.training === true && o.nodes === undefined && o.constants === undefined).length;
      } finally {
        forward.mockRestore();
        undo();
      }
      expect(tf.memory().numTensors).toBe(before);
      const weights = bits(store, result.trainableKeys);
      store.dispose();
      return { result, weights, plainForwards };
    };

    test('a step that runs out of heap is recomputed checkpointed: the weights of an uninterrupted checkpointed run, bit for bit; no leaks', () => {
      const checkpointed = run({ checkpointLayers: true });
      const plain = run({ checkpointLayers: false });
      // Forward passes 4-6 are step 2's (one per task): the second task's fails after the first one's went on the tape.
      const retried = run({}, 5);
      expect(retried.result.checkpointedFrom).toBe(2);
      // Step 1's three and step 2's first two; the retry and step 3 are checkpointed.
      expect([retried.plainForwards, checkpointed.plainForwards, plain.plainForwards]).toEqual([5, 0, 9]);
      expect(checkpointed.result.checkpointedFrom).toBeUndefined();
      expect(retried.weights).toEqual(checkpointed.weights);
      // Checkpointed gradients are the plain ones' bits, so the whole run equals an uninterrupted plain one too.
      expect(retried.weights).toEqual(plain.weights);
      // The retried step records each task's loss once, and the same losses as the uninterrupted run.
      expect(retried.result.history.map((r) => r.losses)).toEqual(checkpointed.result.history.map((r) => r.losses));
      expect(retried.result.history).toHaveLength(3);
    });

    test('a heap error in the backward pass (after the losses were read) retries too, recording each loss once', () => {
      const expected = run({ checkpointLayers: true });
      // The plain steps call engine.gradients once each: let step 2's finish, then fail as its backward would.
      const engine = tf.engine();
      const gradients = engine.gradients.bind(engine);
      let calls = 0;
      const spy = jest.spyOn(engine, 'gradients').mockImplementation((...args) => {
        const out = gradients(...args);
        if (++calls === 2) {
          tf.dispose([out.value, ...out.grads]);
          throw new WasmHeapExhaustedError(6 * 2 ** 20, 4096 * 2 ** 20);
        }
        return out;
      });
      let retried;
      try {
        retried = run({});
      } finally {
        spy.mockRestore();
      }
      expect(retried.result.checkpointedFrom).toBe(2);
      expect(retried.result.history.map((r) => r.losses)).toEqual(expected.result.history.map((r) => r.losses));
      expect(retried.weights).toEqual(expected.weights);
    });

    test('the first step can be the one; without a heap error nothing is checkpointed', () => {
      expect(run({}, 1).result.checkpointedFrom).toBe(1);
      expect(run({}).result.checkpointedFrom).toBeUndefined();
    });

    test('false lets the heap error through, and so does a step that already checkpoints', () => {
      for (const checkpointLayers of [false, true]) {
        const store = WeightStore.create((ts[0] as TrainTask).graph, 1);
        for (const t of ts) store.sync(t.graph, 1);
        const undo = failForwardOnce(Infinity, () => true);
        try {
          expect(() => trainMultiTask({ store, tasks: ts, sampling: 'all', steps: 2, batchSize: 4, seed: 3, checkpointLayers }))
            .toThrow(expect.objectContaining({ code: 'E_WASM_HEAP' }) as Error);
        } finally {
          undo();
          store.dispose();
        }
      }
    });

    test('a value other than true, false or \'auto\' is a ConfigError naming checkpointLayers', () => {
      const store = WeightStore.create((ts[0] as TrainTask).graph, 1);
      expect(() => trainMultiTask({ store, tasks: ts, checkpointLayers: 'yes' as unknown as boolean })).toThrow(/checkpointLayers.*'auto'/);
      store.dispose();
    });
  });
});

// Multi-task PALs on core-graph's trainMultiTask: each step moves only the drawn task's PALs and head, the base
// never moves, the run is deterministic, tensors don't leak, and the annealed sampling reaches the small task more
// often in later epochs.
import * as tf from '@tensorflow/tfjs';
import type { Graph, TrainExample, WeightStore } from '@adapters/core-graph';
import { buildEncoder, WeightStore as Store } from '@adapters/core-graph';
import { createRefRng } from '@adapters/core-graph/testing';
import type { PalsTask } from './train';
import { trainPals } from './train';

const base = (): Graph => buildEncoder({ vocabSize: 30, hiddenSize: 12, numHeads: 3, intermediateSize: 16, numLayers: 2, maxPositions: 16 });

function examples(n: number, seed: number, labels: number): TrainExample[] {
  const rng = createRefRng(seed);
  return Array.from({ length: n }, () => {
    const len = 3 + Math.floor(rng.uniform() * 4);
    const ids = [2, ...Array.from({ length: len }, () => 5 + Math.floor(rng.uniform() * 25)), 3];
    return { inputIds: ids, tokenTypeIds: ids.map(() => 0), label: Math.floor(rng.uniform() * labels) };
  });
}

const TASKS: PalsTask[] = [
  { name: 'big', numLabels: 2, train: examples(48, 1, 2), eval: examples(8, 2, 2) },
  { name: 'small', numLabels: 3, train: examples(6, 3, 3) },
];

const snapshot = (graph: Graph, store: WeightStore, owner: (o: string) => boolean) =>
  new Map([...graph.params.values()].filter((p) => owner(p.owner)).map((p) => [p.key, Float32Array.from(store.get(p.key).dataSync())]));

const same = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => [...a].every(([k, v]) => (b.get(k) as Float32Array).every((x, i) => Object.is(x, v[i])));

function run(seed: number) {
  const g = base();
  const store = Store.create(g, 1);
  const result = trainPals({ base: g, store, tasks: TASKS, config: { d_s: 6, heads: 2 }, steps: 12, epochs: 3, batchSize: 4, learningRate: 1e-2, seed });
  return { g, store, result };
}

test('a step moves only the drawn task’s PALs and head; the base never moves', () => {
  const g = base();
  const store = Store.create(g, 1);
  const baseBefore = snapshot(g, store, (o) => o === 'base');
  let prev: Map<string, Float32Array> | undefined;
  const seen: string[][] = [];
  const result = trainPals({
    base: g, store, tasks: TASKS, config: { d_s: 6, heads: 2 }, steps: 10, epochs: 2, batchSize: 4, learningRate: 1e-2, seed: 3,
    onRecord: (r) => {
      // The graphs exist (and are synced) before the first step; read every task's parameters through the store.
      const keys = [...store.keys()].filter((k) => !g.params.has(k));
      const now = new Map(keys.map((k) => [k, Float32Array.from(store.get(k).dataSync())]));
      if (prev) {
        for (const [k, v] of now) {
          const moved = !(prev.get(k) as Float32Array).every((x, i) => Object.is(x, v[i]));
          const task = k.includes('.adapters.big.') || k.startsWith('heads.big.') ? 'big' : 'small';
          if (moved) expect([k, r.tasks.includes(task)]).toEqual([k, true]);
        }
      }
      prev = now;
      seen.push([...r.tasks]);
    },
  });
  const ownerGraph = result.graphs['small'];
  expect(seen.length).toBe(10);
  expect(seen.every((t) => t.length === 1)).toBe(true);
  expect(same(baseBefore, snapshot(g, store, (o) => o === 'base'))).toBe(true);
  // Each task's own V^D moved away from its zero init (both tasks were drawn).
  for (const name of ['big', 'small']) {
    if (!seen.some((t) => t.includes(name))) continue;
    expect(Math.max(...Array.from(store.get(`shared.adapters.${name}.decoder.weight`).dataSync(), Math.abs))).toBeGreaterThan(0);
  }
  expect(ownerGraph?.params.has('shared.adapters.small.encoder.weight')).toBe(true);
  expect(ownerGraph?.params.has('shared.adapters.big.encoder.weight')).toBe(false);
  expect(result.evals['big']?.count).toBe(8);
  store.dispose();
});

test('same seed → the same weights; tensors do not leak across runs', () => {
  const a = run(5);
  const b = run(5);
  const keysA = [...a.store.keys()].sort();
  expect([...b.store.keys()].sort()).toEqual(keysA);
  for (const k of keysA) expect([k, Array.from(a.store.get(k).dataSync())]).toEqual([k, Array.from(b.store.get(k).dataSync())]);
  a.store.dispose();
  b.store.dispose();
  const before = tf.memory().numTensors;
  const c = run(6);
  c.store.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

test('annealed sampling: the small task is drawn more often in the last epoch than the first', () => {
  const tasks: PalsTask[] = [
    { name: 'big', numLabels: 2, train: examples(400, 4, 2) },
    { name: 'small', numLabels: 2, train: examples(4, 5, 2) },
  ];
  const g = base();
  const store = Store.create(g, 1);
  const byEpoch = [0, 0, 0];
  trainPals({
    base: g, store, tasks, config: { d_s: 3, heads: 1 }, steps: 60, epochs: 3, batchSize: 2, learningRate: 1e-3, seed: 9,
    onRecord: (r) => {
      if (r.tasks.includes('small')) byEpoch[r.epoch] = (byEpoch[r.epoch] as number) + 1;
    },
  });
  store.dispose();
  // p(small) = 4^α / (4^α + 400^α): α = 1 → 1%, α = 0.2 → 28% of the 20 steps of the last epoch.
  expect(byEpoch[0]).toBeLessThanOrEqual(2);
  expect(byEpoch[2]).toBeGreaterThanOrEqual(3);
});

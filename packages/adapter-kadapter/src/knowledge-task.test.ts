// knowledge-task's variants as graphs: the task adapter alone, Stack(knowledge, task), Fuse(knowledge, task). Training
// a variant moves only what it names (task adapter, head, fusion) — the base and the knowledge adapter stay bit for
// bit — and leaks no tensors.
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import type { Graph, TrainExample, WeightStore } from '@adapters/core-graph';
import { addHead, applyPlacements, ConfigError, ownersPolicy, PlacementError, train } from '@adapters/core-graph';
import { languageAdapter, madxRegistry, taskAdapter } from '@adapters/adapter-madx';
import { fusionRegularization } from '@adapters/adapter-fusion/recipes';
import type { KnowledgeComposition } from './knowledge-task';
import { knowledgeFusionName, knowledgeTaskOwners, knowledgeTaskRules } from './knowledge-task';
import { baseStore, randomizeOwner, tinyBase } from './__tests__/helpers';

const KNOWLEDGE = languageAdapter('wordnet', { reduction_factor: 4 }, false);
const TASK = taskAdapter('task', { reduction_factor: 8 });
const EXAMPLES: TrainExample[] = [
  { inputIds: [2, 7, 11, 5, 3], label: 0 },
  { inputIds: [2, 31, 8, 3], label: 1 },
  { inputIds: [2, 9, 9, 12, 13, 14, 3], label: 1 },
  { inputIds: [2, 20, 21, 3], label: 0 },
];

function variant(compose: KnowledgeComposition, seed = 1): { graph: Graph; store: WeightStore } {
  const base = addHead(tinyBase(), { type: 'classification', name: 'task', numLabels: 2, pooling: 'mean' });
  const graph = applyPlacements(base, knowledgeTaskRules(base, compose, TASK, compose === 'none' ? undefined : KNOWLEDGE), madxRegistry()).graph;
  const { store } = baseStore(graph, seed);
  store.sync(graph, seed);
  // A trained-looking knowledge adapter (its init is near zero), so freezing it is a real check.
  if (compose !== 'none') randomizeOwner(graph, store, 'adapter:wordnet', seed + 1);
  return { graph, store };
}

const owned = (graph: Graph, owner: string): string[] => [...graph.params.values()].filter((p) => p.owner === owner).map((p) => p.key);

function trainVariant(compose: KnowledgeComposition, graph: Graph, store: WeightStore, seed: number) {
  return train({
    graph, store, output: 'task.logits', train: EXAMPLES, policy: ownersPolicy(knowledgeTaskOwners(compose, 'task', 'wordnet')), maxSteps: 2, batchSize: 2, learningRate: 0.01, seed,
    ...(compose === 'fuse' ? { extraLoss: fusionRegularization(graph, store, knowledgeFusionName('wordnet', 'task')) } : {}),
  });
}

describe('knowledge-task variants', () => {
  test('each variant places what it names: no knowledge adapter alone; both in Stack; both plus the fusion in Fuse', () => {
    const counts = (['none', 'stack', 'fuse'] as const).map((c) => {
      const { graph, store } = variant(c);
      const n = { c, knowledge: owned(graph, 'adapter:wordnet').length, task: owned(graph, 'adapter:task').length, fusion: owned(graph, 'fusion:wordnet,task').length };
      for (const owner of knowledgeTaskOwners(c, 'task', 'wordnet')) expect({ owner, params: owned(graph, owner).length > 0 }).toEqual({ owner, params: true });
      store.dispose();
      return n;
    });
    expect(counts[0]).toMatchObject({ knowledge: 0, fusion: 0 });
    expect(counts[1]).toMatchObject({ fusion: 0 });
    expect(counts[1]?.knowledge).toBeGreaterThan(0);
    expect(counts[2]?.fusion).toBeGreaterThan(0);
    // The same adapters everywhere: the task adapter's parameters do not depend on the composition.
    expect(new Set(counts.map((n) => n.task)).size).toBe(1);
    expect(counts[1]?.knowledge).toBe(counts[2]?.knowledge);
  });

  test('property: training moves the task adapter and head (and fusion) only; base and knowledge adapter stay bit for bit', () => {
    fc.assert(
      fc.property(fc.constantFrom<KnowledgeComposition>('none', 'stack', 'fuse'), fc.integer({ min: 0, max: 1000 }), (compose, seed) => {
        const { graph, store } = variant(compose, seed);
        const frozen = [...graph.params.values()].filter((p) => p.owner === 'base' || p.owner === 'adapter:wordnet').map((p) => p.key);
        const trained = knowledgeTaskOwners(compose, 'task', 'wordnet').flatMap((o) => owned(graph, o));
        const before = store.snapshot([...frozen, ...trained]);
        trainVariant(compose, graph, store, seed);
        const after = store.snapshot([...frozen, ...trained]);
        const same = (k: string) => (before.get(k) as Float32Array).every((x, i) => Object.is(x, (after.get(k) as Float32Array)[i]));
        expect(frozen.filter((k) => !same(k))).toEqual([]);
        expect(owned(graph, 'adapter:task').some((k) => !same(k))).toBe(true);
        store.dispose();
      }),
      { numRuns: 6 },
    );
  });

  test('the frozen knowledge adapter takes part: the Stack and Fuse outputs depend on its weights', () => {
    for (const compose of ['stack', 'fuse'] as const) {
      const { graph, store } = variant(compose, 3);
      const loss = () => trainVariant(compose, graph, store, 3).history.find((r) => r.type === 'step');
      const snapshot = store.snapshot([...graph.params.keys()]);
      const first = loss();
      // Same weights again, except the knowledge adapter re-drawn: the first step's loss changes.
      for (const [k, v] of snapshot) {
        const t = tf.tensor(v, [...graph.param(k).shape]);
        store.assign(k, t);
        t.dispose();
      }
      randomizeOwner(graph, store, 'adapter:wordnet', 99);
      const second = loss();
      expect({ compose, differs: first?.type === 'step' && second?.type === 'step' && first.loss !== second.loss }).toEqual({ compose, differs: true });
      store.dispose();
    }
  });

  test('no tensor leaks across training runs of every variant', () => {
    for (const compose of ['none', 'stack', 'fuse'] as const) {
      const { graph, store } = variant(compose);
      trainVariant(compose, graph, store, 1); // warm-up: optimizer state is created and freed per run
      const start = tf.memory().numTensors;
      trainVariant(compose, graph, store, 2);
      trainVariant(compose, graph, store, 3);
      expect({ compose, tensors: tf.memory().numTensors }).toEqual({ compose, tensors: start });
      store.dispose();
    }
  });

  test('bad compositions are clear errors', () => {
    const base = addHead(tinyBase(), { type: 'classification', name: 'task', numLabels: 2 });
    expect(() => knowledgeTaskRules(base, 'stack', TASK)).toThrow(ConfigError);
    expect(() => knowledgeTaskRules(base, 'fuse', TASK)).toThrow(/compose 'fuse' needs the knowledge adapter/);
    // AdapterFusion needs both adapters at the same sites: a knowledge adapter left out of layer 0 cannot be fused.
    const partial = languageAdapter('wordnet', { reduction_factor: 4, leave_out: [0] }, false);
    expect(() => knowledgeTaskRules(base, 'fuse', TASK, partial)).toThrow(PlacementError);
  });
});

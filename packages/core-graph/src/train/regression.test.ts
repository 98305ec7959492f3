// Pins train()'s losses, gradient norms and final weights on fixed seeds, computed before the trainer was split
// into createTrainer + loop: any refactor of the loop must reproduce them bit for bit. Runs on the cpu backend
// (plain JS arithmetic) so the pinned bits do not depend on the machine's SIMD kernels.
// UPDATE_TRAIN_FIXTURE=1 rewrites the fixture (only when a numeric change is intended; say so in the commit).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { adapterPolicy, fullFineTunePolicy } from '../exec/policy';
import { mulberry32 } from '../exec/random';
import { WeightStore } from '../exec/weights';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { toyRegistry } from '../testing/run-helpers';
import type { TrainExample } from './batches';
import type { TrainOptions } from './trainer';
import { train } from './trainer';

const FIXTURE = join(__dirname, '__fixtures__', 'train-losses.json');
const config = { vocabSize: 30, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16, hiddenDropout: 0.1, attentionDropout: 0.1 };

function examples(count: number, seed: number, tokens = false): TrainExample[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const ids = Array.from({ length: 3 + Math.floor(rand() * 6) }, () => 5 + Math.floor(rand() * 24));
    const inputIds = [1, ...ids, 2];
    return tokens ? { inputIds, label: inputIds.map((id, i) => (i === 0 ? -100 : id % 3)) } : { inputIds, label: rand() < 0.5 ? 1 : 0 };
  });
}

interface Pinned { readonly losses: number[]; readonly gradNorms: number[]; readonly evals: number[]; readonly weightSum: number }

function run(name: string): Pinned {
  const base = buildEncoder(config);
  const classify = addHead(base, { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });
  const adapted = applyPlacements(classify, [{ adapter: adapter('toy', 'a') }], toyRegistry()).graph;
  const tagging = addHead(base, { type: 'tokenClassification', name: 'tag', numLabels: 3 });
  const cases: Record<string, Omit<TrainOptions, 'store'>> = {
    adapters: { graph: adapted, output: 'task.logits', train: examples(40, 1), policy: adapterPolicy, epochs: 2, batchSize: 8, learningRate: 1e-2, seed: 5 },
    fullWithEval: { graph: classify, output: 'task.logits', train: examples(48, 2), eval: examples(16, 3), policy: fullFineTunePolicy, epochs: 3, batchSize: 16, learningRate: 3e-3, evalEvery: 2, patience: 2, seed: 11, clipNorm: 0.5 },
    skipAndConstants: {
      graph: adapted, output: 'task.logits', train: examples(24, 4), policy: fullFineTunePolicy, maxSteps: 4, batchSize: 6, learningRate: 5e-3, seed: 3,
      skipLayers: (step) => step % 2,
      constants: ({ executor, feeds, seed }) => {
        const boundary = adapted.site('layer.0.output').exit;
        return new Map([[boundary, executor.run(feeds, { nodes: [boundary], outputs: [], training: true, seed })[boundary] as tf.Tensor]]);
      },
      extraLoss: () => tf.scalar(0.25),
    },
    tokens: { graph: tagging, output: 'tag.logits', train: examples(20, 6, true), policy: fullFineTunePolicy, maxSteps: 5, batchSize: 4, learningRate: 2e-3, warmupRatio: 0.4, weightDecay: 0.1, seed: 8 },
  };
  const options = cases[name] as Omit<TrainOptions, 'store'>;
  const store = WeightStore.create(options.graph, 7);
  const result = train({ ...options, store });
  const steps = result.history.filter((r) => r.type === 'step');
  let weightSum = 0;
  for (const k of result.trainableKeys) for (const v of store.get(k).dataSync()) weightSum += v;
  store.dispose();
  return {
    losses: steps.map((r) => r.loss),
    gradNorms: steps.map((r) => r.gradNorm),
    evals: result.history.flatMap((r) => (r.type === 'eval' ? [r.loss] : [])),
    weightSum,
  };
}

const NAMES = ['adapters', 'fullWithEval', 'skipAndConstants', 'tokens'];

describe('train() regression (cpu backend, pinned before the createTrainer refactor)', () => {
  let previous = '';
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    await tf.setBackend(previous);
  });

  test('losses, gradient norms, evaluation losses and final weights are bit-identical to the fixture', () => {
    const got = Object.fromEntries(NAMES.map((n) => [n, run(n)]));
    if (process.env['UPDATE_TRAIN_FIXTURE'] === '1') writeFileSync(FIXTURE, `${JSON.stringify(got, null, 1)}\n`);
    const pinned = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, Pinned>;
    // JSON round-trips doubles exactly, so toEqual is a bit-for-bit comparison here.
    expect(got).toEqual(pinned);
  });
});

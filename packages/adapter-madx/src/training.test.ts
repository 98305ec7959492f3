// The recipe's training steps freeze what MAD-X freezes (checked bit for bit), and nothing leaks tensors.
import * as tf from '@tensorflow/tfjs';
import type { TrainExample } from '@adapters/core-graph';
import { ConfigError, IGNORE_LABEL } from '@adapters/core-graph';
import { buildMadx } from './madx';
import { loadLanguageAdapter, saveLanguageAdapter, swapLanguageAdapter } from './hub';
import { evaluateTask, trainLanguageAdapter, trainTaskAdapter } from './recipe';
import { baseStore, changedKeys, tinyBase } from './__tests__/helpers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = tinyBase();
/** [CLS]=2 … [SEP]=3 sentences over ids 5..39; [MASK]=4. */
const TEXTS = [
  [2, 7, 11, 5, 19, 3],
  [2, 31, 8, 3],
  [2, 9, 9, 12, 30, 25, 3],
  [2, 14, 6, 3],
];
const MASKING = { maskId: 4, vocabSize: 40, specialIds: [0, 2, 3], probability: 0.5 };
const TAGGED: TrainExample[] = TEXTS.map((ids) => ({ inputIds: ids, label: ids.map((id, i) => (i === 0 || i === ids.length - 1 ? IGNORE_LABEL : id % 3)) }));
const SMALL = { batchSize: 2, epochs: 2, maxSteps: 3, learningRate: 1e-2, warmupRatio: 0, seed: 3 } as const;

const ownerOf = (graph: ReturnType<typeof buildMadx>['graph'], key: string) => graph.param(key).owner;

describe('step 1: masked-LM training of a language adapter', () => {
  test('changes exactly the language adapter (bottleneck + invertible) tensors; base, heads and other adapters are bit-for-bit unchanged', () => {
    const model = buildMadx(base, { language: 'en' });
    const { store } = baseStore(model.graph, 2);
    // Another language's adapter in the same store must not move either.
    store.sync(buildMadx(base, { language: 'de' }).graph, 5);
    const before = store.snapshot();
    const result = trainLanguageAdapter({ model, store, head: 'mlm', texts: TEXTS, masking: MASKING, ...SMALL });
    const changed = changedKeys(before, store.snapshot());
    const lang = [...model.graph.params.values()].filter((p) => p.owner === 'adapter:en').map((p) => p.key).sort();
    expect(changed).toEqual(lang);
    expect(changed.filter((k) => k.startsWith('invertible_adapters.en.')).length).toBe(8);
    expect(changed.filter((k) => k.includes('.ffn.adapters.en.')).length).toBe(8);
    expect([...result.trainableKeys].sort()).toEqual(lang);
    expect(result.steps).toBe(3);
    store.dispose();
  });

  test('trainHead also trains the MLM head (for checkpoints without one); a model with a task adapter is refused', () => {
    const model = buildMadx(base, { language: 'en' });
    const { store } = baseStore(model.graph, 2);
    const before = store.snapshot();
    trainLanguageAdapter({ model, store, head: 'mlm', texts: TEXTS, masking: MASKING, trainHead: true, ...SMALL, maxSteps: 1 });
    const owners = new Set(changedKeys(before, store.snapshot()).map((k) => ownerOf(model.graph, k)));
    expect(owners).toEqual(new Set(['adapter:en', 'head:mlm']));
    expect(() => trainLanguageAdapter({ model: buildMadx(base, { language: 'en', task: 'pos' }), store, head: 'mlm', texts: TEXTS, masking: MASKING, ...SMALL })).toThrow(ConfigError);
    store.dispose();
  });
});

describe('step 2: the task adapter stacked on the language adapter', () => {
  test('changes exactly the task adapter and the task head; the language adapter stays bit-for-bit', () => {
    const model = buildMadx(base, { language: 'en', task: 'pos' });
    const { store } = baseStore(model.graph, 2);
    const before = store.snapshot();
    trainTaskAdapter({ model, store, head: 'tag', train: TAGGED, ...SMALL });
    const owners = new Set(changedKeys(before, store.snapshot()).map((k) => ownerOf(model.graph, k)));
    expect(owners).toEqual(new Set(['adapter:pos', 'head:tag']));
    expect(() => trainTaskAdapter({ model: buildMadx(base, { language: 'en' }), store, head: 'tag', train: TAGGED, ...SMALL })).toThrow(/no task adapter/);
    store.dispose();
  });
});

describe('no tensor leaks', () => {
  test('training steps, evaluation, swapping and save/load of language adapters leave the tensor count unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'madx-leaks-'));
    try {
      const english = buildMadx(base, { language: 'en', task: 'pos' });
      const { store } = baseStore(english.graph, 2);
      store.sync(buildMadx(base, { language: 'de' }).graph, 4);
      const stage1 = buildMadx(base, { language: 'en' });
      const cycle = async () => {
        trainLanguageAdapter({ model: stage1, store, head: 'mlm', texts: TEXTS, masking: MASKING, ...SMALL, maxSteps: 1 });
        trainTaskAdapter({ model: english, store, head: 'tag', train: TAGGED, eval: TAGGED, ...SMALL, maxSteps: 1 });
        const german = swapLanguageAdapter(english, store, 'de');
        evaluateTask(german, store, 'tag', TAGGED);
        await saveLanguageAdapter(dir, german.graph, store, 'de');
        await loadLanguageAdapter(dir, english, store, { as: 'de' });
      };
      await cycle(); // warm-up: tfjs caches kernels/constants on first use
      const baseline = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        await cycle();
        expect(tf.memory().numTensors).toBe(baseline);
      }
      store.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

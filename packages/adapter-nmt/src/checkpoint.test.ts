// Mid-stage resume: a run interrupted after any step and resumed from its checkpoint file ends with the weights,
// optimizer state and losses of the uninterrupted run, bit for bit; a checkpoint that does not fit is refused by name.
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { checkpointFile, readTranslationCheckpoint, removeTranslationCheckpoint, writeTranslationCheckpoint } from './checkpoint';
import type { TranslationCheckpoint } from './loop';
import { trainTranslation } from './loop';
import type { NmtRecipe } from './recipes';
import { parsePair, recipeGraph, recipePolicy } from './recipes';
import { randomIds, tinyModel } from './__tests__/helpers';

const enFr = parsePair('en-fr');
const frEn = parsePair('fr-en');
const SETTINGS = { recipe: 'language', lr: 1e-2, steps: 6 };
const STEPS = 6;

/** A fresh tiny base with dropout (so the step's dropout seed matters) and the language recipe's two tasks on it. */
function setup(recipe: NmtRecipe): { store: WeightStore; tasks: Array<{ name: string; graph: Graph; sources: number[][]; targets: number[][] }> } {
  const { graph: base, store } = tinyModel('marian', { dropout: 0.2 });
  const tasks = [enFr, frEn].map((pair, i) => {
    const graph = recipe === 'full' ? base : recipeGraph(base, recipe, pair, 2);
    const sources = randomIds(7, 4, 24, 3 + i);
    return { name: `${pair.src}-${pair.tgt}`, graph, sources, targets: sources.map((r) => [...r].reverse()) };
  });
  for (const t of tasks) store.sync(t.graph, 9);
  return { store, tasks };
}

const run = (recipe: NmtRecipe, extra: Partial<Parameters<typeof trainTranslation>[0]> = {}) => {
  const { store, tasks } = setup(recipe);
  const policy = recipePolicy(recipe);
  try {
    const result = trainTranslation({ store, tasks, policy, steps: STEPS, batchSize: 3, learningRate: 1e-2, seed: 5, ...extra });
    return { losses: result.losses, weights: store.snapshot() };
  } finally {
    store.dispose();
  }
};

describe('mid-stage checkpoints', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'nmt-ckpt-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a run stopped after any step and resumed from the file equals the uninterrupted run, bit for bit (weights, losses)', async () => {
    const whole = run('language');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: STEPS - 1 }), fc.constantFrom<NmtRecipe>('language', 'full'), async (stopAt, recipe) => {
        const reference = recipe === 'language' ? whole : run(recipe);
        const file = checkpointFile(join(dir, `run-${recipe}-${stopAt}`));
        const crash = new Error('killed');
        expect(() =>
          run(recipe, {
            checkpointEvery: 1,
            onCheckpoint: (c) => writeTranslationCheckpoint(file, c, SETTINGS),
            onStep: (r) => {
              if (r.step === stopAt) throw crash;
            },
          }),
        ).toThrow(crash);
        // The step that crashed never checkpointed: the file holds the step before (none when stopAt is 1).
        const saved = await readTranslationCheckpoint(file, SETTINGS);
        expect(saved?.snapshot.step).toBe(stopAt === 1 ? undefined : stopAt - 1);
        const resumed = run(recipe, saved ? { resumeFrom: saved } : {});
        expect(resumed.losses).toEqual(reference.losses);
        expect(resumed.weights).toEqual(reference.weights);
        removeTranslationCheckpoint(file);
      }),
      { numRuns: 6, seed: 22 },
    );
  });

  it('save → load of a checkpoint is exact (weights, both AdamW moments, step, records)', async () => {
    let taken: TranslationCheckpoint | undefined;
    run('language', { checkpointEvery: 3, onCheckpoint: (c) => (taken = c) });
    const file = join(dir, 'exact.safetensors');
    writeTranslationCheckpoint(file, taken!, SETTINGS);
    const back = await readTranslationCheckpoint(file, SETTINGS);
    expect(back!.snapshot.step).toBe(3);
    expect(back!.records).toEqual(taken!.records);
    expect(back!.snapshot.weights).toEqual(taken!.snapshot.weights);
    expect(back!.snapshot.optimizer!.step).toBe(taken!.snapshot.optimizer!.step);
    const slots = (c: TranslationCheckpoint, slot: 'm' | 'v') => Object.fromEntries([...c.snapshot.optimizer![slot]].map(([k, s]) => [k, { shape: [...s.shape], values: s.values }]));
    for (const slot of ['m', 'v'] as const) expect(slots(back!, slot)).toEqual(slots(taken!, slot));
    expect(back!.snapshot.optimizer!.m.size).toBeGreaterThan(0);
  });

  it('refuses a checkpoint written with other settings, naming the first setting that differs', async () => {
    let taken: TranslationCheckpoint | undefined;
    run('language', { checkpointEvery: 2, onCheckpoint: (c) => (taken ??= c) });
    const file = join(dir, 'settings.safetensors');
    writeTranslationCheckpoint(file, taken!, SETTINGS);
    await expect(readTranslationCheckpoint(file, { ...SETTINGS, lr: 2e-2 })).rejects.toThrow(/settings\.lr: was 0\.01 but this run has 0\.02/);
    await expect(readTranslationCheckpoint(file, { ...SETTINGS, seed: 1 })).rejects.toThrow(/settings\.seed: was unset but this run has 1/);
    expect(await readTranslationCheckpoint(join(dir, 'none.safetensors'), SETTINGS)).toBeUndefined();
    writeFileSync(join(dir, 'junk.safetensors'), 'not a checkpoint');
    await expect(readTranslationCheckpoint(join(dir, 'junk.safetensors'), SETTINGS)).rejects.toThrow(/junk\.safetensors/);
  });

  it('refuses to resume a checkpoint of other trainable weights (another recipe) or past the last step', () => {
    let taken: TranslationCheckpoint | undefined;
    run('pair', { checkpointEvery: 2, onCheckpoint: (c) => (taken ??= c) });
    expect(() => run('language', { resumeFrom: taken! })).toThrow(/resumeFrom: holds other trainable weights than this run \(first difference: '.*pair_en_fr/);
    expect(() => run('pair', { resumeFrom: taken!, steps: 1 })).toThrow(/resumeFrom: is at step 2 with 2 step records; expected equal counts ≤ steps \(1\)/);
    expect(() => run('pair', { checkpointEvery: 0 })).toThrow(/checkpointEvery: must be a positive integer/);
  });

  it('leaks no tensors across checkpoint and resume', () => {
    let taken: TranslationCheckpoint | undefined;
    run('pair', { checkpointEvery: 2, onCheckpoint: (c) => (taken ??= c) });
    const before = tf.memory().numTensors;
    run('pair', { resumeFrom: taken!, checkpointEvery: 2, onCheckpoint: () => undefined });
    expect(tf.memory().numTensors).toBe(before);
  });
});

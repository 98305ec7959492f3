import fc from 'fast-check';
import { ConfigError } from '../errors';
import type { TaskSampling } from './task-sampling';
import { annealedAlpha, taskProbabilities, taskSchedule } from './task-sampling';

const SIZES = [100, 400, 1600];

/** Pearson's χ² of observed counts against expected probabilities. */
function chiSquare(counts: readonly number[], probs: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((s, c, i) => s + (c - n * (probs[i] as number)) ** 2 / (n * (probs[i] as number)), 0);
}

function countsOf(schedule: number[][], k: number, from = 0, to = schedule.length): number[] {
  const counts = Array<number>(k).fill(0);
  for (const step of schedule.slice(from, to)) for (const i of step) counts[i] = (counts[i] as number) + 1;
  return counts;
}

// χ²(2 degrees of freedom) exceeds 13.82 with probability 0.001; the seed is fixed, so the test is deterministic
// and the bound only says the draws follow the stated law rather than something visibly different.
const CHI2_2DF_P001 = 13.82;

describe('task sampling', () => {
  test('closed-form probabilities: proportional, temperature, uniform, annealed', () => {
    const close = (a: number[], b: number[]) => a.forEach((x, i) => expect(x).toBeCloseTo(b[i] as number, 12));
    close(taskProbabilities(SIZES, 'proportional'), [1 / 21, 4 / 21, 16 / 21]);
    // T = 2: √N = 10, 20, 40.
    close(taskProbabilities(SIZES, { temperature: 2 }), [1 / 7, 2 / 7, 4 / 7]);
    close(taskProbabilities(SIZES, { temperature: 1 }), [1 / 21, 4 / 21, 16 / 21]);
    close(taskProbabilities(SIZES, 'uniform'), [1 / 3, 1 / 3, 1 / 3]);
    // Annealed over E = 5 epochs: α = 1, 0.8, 0.6, 0.4, 0.2.
    [1, 0.8, 0.6, 0.4, 0.2].forEach((alpha, i) => expect(annealedAlpha(i + 1, 5)).toBeCloseTo(alpha, 14));
    close(taskProbabilities(SIZES, 'annealed', 1, 5), [1 / 21, 4 / 21, 16 / 21]);
    const w = SIZES.map((n) => n ** 0.2);
    const sum = w.reduce((a, b) => a + b, 0);
    close(taskProbabilities(SIZES, 'annealed', 5, 5), w.map((x) => x / sum));
    expect(annealedAlpha(1, 1)).toBe(1);
  });

  test('probabilities sum to 1, follow the size order, and flatten as T grows (property)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 1e6 }), { minLength: 1, maxLength: 8 }), fc.double({ min: 0.1, max: 50, noNaN: true }), (sizes, t) => {
      const p = taskProbabilities(sizes, { temperature: t });
      expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      for (let i = 0; i < sizes.length; i++) for (let j = 0; j < sizes.length; j++) if ((sizes[i] as number) > (sizes[j] as number)) expect(p[i]).toBeGreaterThanOrEqual(p[j] as number);
      const flatter = taskProbabilities(sizes, { temperature: t * 2 });
      expect(Math.max(...flatter)).toBeLessThanOrEqual(Math.max(...p) + 1e-12);
    }));
  });

  test.each<[string, TaskSampling]>([['proportional', 'proportional'], ['temperature 2', { temperature: 2 }], ['temperature 5', { temperature: 5 }], ['uniform', 'uniform']])(
    '%s: 20,000 seeded draws pass a χ² test against the closed form',
    (_name, sampling) => {
      const schedule = taskSchedule({ sizes: SIZES, sampling, steps: 20_000, seed: 17 });
      expect(chiSquare(countsOf(schedule, 3), taskProbabilities(SIZES, sampling))).toBeLessThan(CHI2_2DF_P001);
    },
  );

  test('annealed: each epoch follows its own α (χ² per epoch) and the share of the largest task falls', () => {
    const epochs = 4;
    const perEpoch = 10_000;
    const schedule = taskSchedule({ sizes: SIZES, sampling: 'annealed', steps: epochs * perEpoch, epochs, seed: 3 });
    const largest: number[] = [];
    for (let e = 1; e <= epochs; e++) {
      const counts = countsOf(schedule, 3, (e - 1) * perEpoch, e * perEpoch);
      expect(chiSquare(counts, taskProbabilities(SIZES, 'annealed', e, epochs))).toBeLessThan(CHI2_2DF_P001);
      largest.push((counts[2] as number) / perEpoch);
    }
    for (let e = 1; e < epochs; e++) expect(largest[e]).toBeLessThan(largest[e - 1] as number);
  });

  test('deterministic under a seed; another seed draws another sequence; roundRobin and all are fixed', () => {
    const a = taskSchedule({ sizes: SIZES, sampling: 'proportional', steps: 200, seed: 1 });
    expect(taskSchedule({ sizes: SIZES, sampling: 'proportional', steps: 200, seed: 1 })).toEqual(a);
    expect(taskSchedule({ sizes: SIZES, sampling: 'proportional', steps: 200, seed: 2 })).not.toEqual(a);
    expect(taskSchedule({ sizes: SIZES, sampling: 'roundRobin', steps: 4, seed: 1 })).toEqual([[0], [1], [2], [0]]);
    expect(taskSchedule({ sizes: SIZES, sampling: 'all', steps: 2, seed: 1 })).toEqual([[0, 1, 2], [0, 1, 2]]);
  });

  test('bad input is a ConfigError naming the field', () => {
    expect(() => taskProbabilities([], 'proportional')).toThrow(ConfigError);
    expect(() => taskProbabilities([3, 0], 'proportional')).toThrow(/tasks\.1/);
    expect(() => taskProbabilities(SIZES, { temperature: 0 })).toThrow(/sampling\.temperature/);
    expect(() => taskSchedule({ sizes: SIZES, sampling: 'annealed', steps: 3, epochs: 0, seed: 0 })).toThrow(/epochs/);
  });
});

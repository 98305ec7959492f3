// Cloze-probe scoring against a brute-force reference: P@k is the share of rows whose best answer's rank (sorting
// the vocabulary by score, ties to the lower id) is below k.
import fc from 'fast-check';
import { answerRanks, precisionAtK, rankSummary } from './knowledge/probe';

function referenceRank(row: readonly number[], answers: readonly number[]): number {
  const order = row.map((v, i) => ({ v, i })).sort((a, b) => b.v - a.v || a.i - b.i).map((x) => x.i);
  return Math.min(...answers.map((a) => order.indexOf(a)));
}

describe('precisionAtK', () => {
  it('hand case', () => {
    const rows = [[0.1, 0.9, 0.3, 0.2], [0.5, 0.5, 0.1, 0.0], [0.4, 0.3, 0.2, 0.1]];
    // Row 0: answer 1 is top. Row 1: tie 0/1 → id 0 first, answer 1 is rank 1. Row 2: answer 3 is rank 3.
    expect(precisionAtK(rows, [[1], [1], [3]], [1, 2, 4])).toEqual([1 / 3, 2 / 3, 1]);
    expect(() => precisionAtK(rows, [[1]], [1])).toThrow(/answers: 1 answer lists for 3 score rows/);
  });

  it('property: equals the brute-force ranking', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 6, maxLength: 6 }), fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 8 }),
      (cases) => {
        const ks = [1, 2, 5];
        const got = precisionAtK(cases.map((c) => c[0]), cases.map((c) => c[1]), ks);
        const ref = ks.map((k) => cases.filter(([row, answers]) => referenceRank(row, answers) < k).length / cases.length);
        expect(got).toEqual(ref);
      },
    ), { numRuns: 200, seed: 4 });
  });

  it('property: answerRanks equals the brute-force ranking; MRR and median rank from it', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 6, maxLength: 6 }), fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 8 }),
      (cases) => {
        const ranks = answerRanks(cases.map((c) => c[0]), cases.map((c) => c[1]));
        expect(ranks).toEqual(cases.map(([row, answers]) => referenceRank(row, answers)));
        const { mrr, medianRank } = rankSummary(ranks);
        expect(mrr).toBeCloseTo(ranks.reduce((t, r) => t + 1 / (r + 1), 0) / ranks.length, 12);
        // Half the 1-based ranks are at most the median, half at least.
        expect(ranks.filter((r) => r + 1 <= medianRank).length * 2).toBeGreaterThanOrEqual(ranks.length);
        expect(ranks.filter((r) => r + 1 >= medianRank).length * 2).toBeGreaterThanOrEqual(ranks.length);
      },
    ), { numRuns: 200, seed: 5 });
    expect(rankSummary([0, 1, 3])).toEqual({ mrr: (1 + 1 / 2 + 1 / 4) / 3, medianRank: 2 });
    expect(rankSummary([0, 3])).toEqual({ mrr: (1 + 1 / 4) / 2, medianRank: 2.5 });
    expect(rankSummary([])).toEqual({ mrr: 0, medianRank: 0 });
  });
});

import fc from 'fast-check';
import { attachmentScores, eisner, treeScore } from './decode';

/** Every single-rooted projective tree over n words, by brute force (the float64 reference). */
function bestByEnumeration(scores: number[][]): number {
  const n = scores.length - 1;
  let best = -Infinity;
  const heads = new Array<number>(n + 1).fill(0);
  const rec = (d: number): void => {
    if (d > n) {
      if (isTree(heads) && isProjective(heads)) best = Math.max(best, treeScore(scores, heads));
      return;
    }
    for (let h = 0; h <= n; h++) {
      if (h === d) continue;
      heads[d] = h;
      rec(d + 1);
    }
  };
  rec(1);
  return best;
}

function isTree(heads: number[]): boolean {
  const n = heads.length - 1;
  if (heads.slice(1).filter((h) => h === 0).length !== 1) return false;
  for (let d = 1; d <= n; d++) {
    let x = d;
    for (let steps = 0; x !== 0; steps++) {
      if (steps > n) return false;
      x = heads[x]!;
    }
  }
  return true;
}

function isProjective(heads: number[]): boolean {
  const arcs = heads.slice(1).map((h, i) => [Math.min(h, i + 1), Math.max(h, i + 1)] as const);
  return arcs.every(([a, b]) => arcs.every(([c, d]) => !(a < c && c < b && b < d) && !(c < a && a < d && d < b)));
}

describe('Eisner decoding', () => {
  it('finds the best single-rooted projective tree (brute force over all trees, n ≤ 5, float64)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }).chain((n) => fc.array(fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: n + 1, maxLength: n + 1 }), { minLength: n + 1, maxLength: n + 1 })), (scores) => {
        const heads = eisner(scores);
        expect(isTree(heads)).toBe(true);
        expect(isProjective(heads)).toBe(true);
        // Same optimum up to float64 summation order.
        expect(Math.abs(treeScore(scores, heads) - bestByEnumeration(scores))).toBeLessThan(1e-9);
      }),
      { numRuns: 150, seed: 21 },
    );
  });

  it('keeps one root even when every word prefers ROOT', () => {
    const scores = [[0, 0, 0, 0], [5, 0, 1, 1], [5, 1, 0, 1], [5, 1, 1, 0]];
    const heads = eisner(scores);
    expect(heads.slice(1).filter((h) => h === 0)).toHaveLength(1);
  });
});

describe('attachment scores', () => {
  it('counts UAS and LAS on a hand-checked sentence', () => {
    // "The cat sat on the mat": gold det(1←2) nsubj(2←3) root(3) case(4←6) det(5←6) obl(6←3).
    const gold = { heads: [-1, 2, 3, 0, 6, 6, 3], labels: ['', 'det', 'nsubj', 'root', 'case', 'det', 'obl'] };
    // Predicted: "on" attached to "sat" (wrong head), "mat" labelled nmod (right head, wrong label).
    const pred = { heads: [-1, 2, 3, 0, 3, 6, 3], labels: ['', 'det', 'nsubj', 'root', 'case', 'det', 'nmod'] };
    // 5 of 6 heads right; of those, 4 with the right label.
    expect(attachmentScores([{ gold, pred }])).toEqual({ words: 6, uas: 5 / 6, las: 4 / 6 });
  });
});

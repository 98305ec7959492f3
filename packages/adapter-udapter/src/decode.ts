// Eisner's algorithm (projective), with the single-root constraint of UD: exactly one word attaches to ROOT.
// scores[d][h] is the score of head h for dependent d (node 0 = ROOT; row 0 is ignored); float64 throughout.

/** The best single-rooted projective tree: heads[d] for d = 1..n (heads[0] = -1). */
export function eisner(scores: ReadonlyArray<ArrayLike<number>>): number[] {
  const n = scores.length - 1;
  if (n < 1) return [-1];
  const s = (h: number, d: number): number => (scores[d] as ArrayLike<number>)[h] as number;
  // Tables over words 1..n, indexed [i][j], i ≤ j. R: head at i (arcs point right), L: head at j.
  const size = n + 1;
  const mk = (): Float64Array[] => Array.from({ length: size }, () => new Float64Array(size).fill(-Infinity));
  const cR = mk(), cL = mk(), iR = mk(), iL = mk();
  const bcR = Array.from({ length: size }, () => new Int32Array(size));
  const bcL = Array.from({ length: size }, () => new Int32Array(size));
  const biR = Array.from({ length: size }, () => new Int32Array(size));
  const biL = Array.from({ length: size }, () => new Int32Array(size));
  for (let i = 1; i <= n; i++) {
    (cR[i] as Float64Array)[i] = 0;
    (cL[i] as Float64Array)[i] = 0;
  }
  for (let len = 1; len < n; len++) {
    for (let i = 1; i + len <= n; i++) {
      const j = i + len;
      let best = -Infinity, arg = i;
      for (let q = i; q < j; q++) {
        const v = (cR[i] as Float64Array)[q]! + (cL[q + 1] as Float64Array)[j]!;
        if (v > best) { best = v; arg = q; }
      }
      (iR[i] as Float64Array)[j] = best + s(i, j);
      (iL[i] as Float64Array)[j] = best + s(j, i);
      (biR[i] as Int32Array)[j] = arg;
      (biL[i] as Int32Array)[j] = arg;
      best = -Infinity; arg = i + 1;
      for (let q = i + 1; q <= j; q++) {
        const v = (iR[i] as Float64Array)[q]! + (cR[q] as Float64Array)[j]!;
        if (v > best) { best = v; arg = q; }
      }
      (cR[i] as Float64Array)[j] = best;
      (bcR[i] as Int32Array)[j] = arg;
      best = -Infinity; arg = i;
      for (let q = i; q < j; q++) {
        const v = (cL[i] as Float64Array)[q]! + (iL[q] as Float64Array)[j]!;
        if (v > best) { best = v; arg = q; }
      }
      (cL[i] as Float64Array)[j] = best;
      (bcL[i] as Int32Array)[j] = arg;
    }
  }
  // ROOT → r: r heads everything left of it (cL[1][r]) and right of it (cR[r][n]).
  let root = 1, best = -Infinity;
  for (let r = 1; r <= n; r++) {
    const v = (cL[1] as Float64Array)[r]! + (cR[r] as Float64Array)[n]! + s(0, r);
    if (v > best) { best = v; root = r; }
  }
  const heads = new Array<number>(n + 1).fill(-1);
  heads[root] = 0;
  const complete = (i: number, j: number, right: boolean): void => {
    if (i === j) return;
    if (right) {
      const q = (bcR[i] as Int32Array)[j] as number;
      incomplete(i, q, true);
      complete(q, j, true);
    } else {
      const q = (bcL[i] as Int32Array)[j] as number;
      complete(i, q, false);
      incomplete(q, j, false);
    }
  };
  const incomplete = (i: number, j: number, right: boolean): void => {
    if (right) heads[j] = i;
    else heads[i] = j;
    const q = ((right ? biR : biL)[i] as Int32Array)[j] as number;
    complete(i, q, true);
    complete(q + 1, j, false);
  };
  complete(1, root, false);
  complete(root, n, true);
  return heads;
}

/** Score of a tree: Σ_d scores[d][heads[d]]. */
export function treeScore(scores: ReadonlyArray<ArrayLike<number>>, heads: readonly number[]): number {
  let t = 0;
  for (let d = 1; d < heads.length; d++) t += (scores[d] as ArrayLike<number>)[heads[d] as number] as number;
  return t;
}

export interface AttachmentScores {
  readonly words: number;
  readonly uas: number;
  readonly las: number;
}

/** UAS / LAS over words (punctuation included, as the CoNLL 2018 shared task's evaluation). */
export function attachmentScores(sentences: ReadonlyArray<{ gold: { heads: readonly number[]; labels: readonly string[] }; pred: { heads: readonly number[]; labels: readonly string[] } }>): AttachmentScores {
  let words = 0, head = 0, both = 0;
  for (const { gold, pred } of sentences) {
    for (let d = 1; d < gold.heads.length; d++) {
      words++;
      if (gold.heads[d] === pred.heads[d]) {
        head++;
        if (gold.labels[d] === pred.labels[d]) both++;
      }
    }
  }
  return { words, uas: words === 0 ? 0 : head / words, las: words === 0 ? 0 : both / words };
}

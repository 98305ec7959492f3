// Classification metrics over class ids (as produced by LabelVocab.id).
// Conventions follow scikit-learn: a 0/0 precision, recall or F1 counts as 0, and MCC is 0
// when it is undefined (all predictions or all gold labels in one class).

function check(pred: readonly number[], gold: readonly number[]): void {
  if (pred.length !== gold.length) throw new Error(`metrics: ${pred.length} predictions for ${gold.length} gold labels`);
  if (pred.length === 0) throw new Error('metrics: no examples');
}

export function accuracy(pred: readonly number[], gold: readonly number[]): number {
  check(pred, gold);
  let hit = 0;
  pred.forEach((p, i) => {
    if (p === gold[i]) hit++;
  });
  return hit / pred.length;
}

/** m[gold][pred] counts; size is `numClasses` or 1 + the largest id seen. */
export function confusionMatrix(pred: readonly number[], gold: readonly number[], numClasses?: number): number[][] {
  check(pred, gold);
  // reduce, not Math.max(...xs): spreading a large eval set overflows the call stack.
  const n = numClasses ?? 1 + [pred, gold].reduce((m, xs) => xs.reduce((a, x) => Math.max(a, x), m), 0);
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  pred.forEach((p, i) => {
    const g = gold[i] as number;
    if (!Number.isInteger(p) || !Number.isInteger(g) || p < 0 || g < 0 || p >= n || g >= n) {
      throw new Error(`metrics: class id out of range 0..${n - 1} at ${i} (pred ${p}, gold ${g})`);
    }
    const row = m[g] as number[];
    row[p] = (row[p] ?? 0) + 1;
  });
  return m;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Precision/recall/F1 of one class, treating it as positive. */
export function classScores(pred: readonly number[], gold: readonly number[], positive: number): ClassScores {
  check(pred, gold);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  pred.forEach((p, i) => {
    const g = gold[i];
    if (p === positive && g === positive) tp++;
    else if (p === positive) fp++;
    else if (g === positive) fn++;
  });
  return { precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn), f1: ratio(2 * tp, 2 * tp + fp + fn), support: tp + fn };
}

/** F1 of the positive class (GLUE MRPC/QQP style). */
export function f1Binary(pred: readonly number[], gold: readonly number[], positive = 1): number {
  return classScores(pred, gold, positive).f1;
}

/** Unweighted mean of per-class F1 over the classes seen in `gold` or `pred`. */
export function f1Macro(pred: readonly number[], gold: readonly number[]): number {
  check(pred, gold);
  const classes = [...new Set([...gold, ...pred])];
  return classes.reduce((s, c) => s + classScores(pred, gold, c).f1, 0) / classes.length;
}

/** Matthews correlation (multiclass form of Gorodkin 2004; the usual phi for two classes). */
export function matthewsCorrelation(pred: readonly number[], gold: readonly number[]): number {
  const m = confusionMatrix(pred, gold);
  const n = pred.length;
  const t = m.map((row) => row.reduce((a, b) => a + b, 0)); // gold counts per class
  const p = m.map((_, k) => m.reduce((a, row) => a + (row[k] as number), 0)); // predicted counts
  const correct = m.reduce((a, row, k) => a + (row[k] as number), 0);
  const dot = (x: number[], y: number[]): number => x.reduce((a, v, i) => a + v * (y[i] as number), 0);
  const cov = correct * n - dot(t, p);
  const denom = Math.sqrt((n * n - dot(p, p)) * (n * n - dot(t, t)));
  return denom === 0 ? 0 : cov / denom;
}

import fc from 'fast-check';
import { accuracy, classScores, confusionMatrix, f1Binary, f1Macro, matthewsCorrelation } from './metrics';

describe('metrics (hand-computed)', () => {
  // TP=3 FP=1 FN=1 TN=3
  const pred = [1, 1, 0, 1, 0, 0, 1, 0];
  const gold = [1, 0, 0, 1, 1, 0, 1, 0];

  it('balanced binary case', () => {
    expect(accuracy(pred, gold)).toBe(0.75);
    expect(confusionMatrix(pred, gold)).toEqual([[3, 1], [1, 3]]);
    expect(f1Binary(pred, gold)).toBeCloseTo(0.75, 12);
    expect(f1Macro(pred, gold)).toBeCloseTo(0.75, 12);
    expect(matthewsCorrelation(pred, gold)).toBeCloseTo((3 * 3 - 1 * 1) / Math.sqrt(4 * 4 * 4 * 4), 12); // 0.5
  });

  it('skewed binary case', () => {
    // pred 1,1,1,0 vs gold 1,0,0,0: TP=1 FP=2 FN=0 TN=1
    const p = [1, 1, 1, 0];
    const g = [1, 0, 0, 0];
    expect(accuracy(p, g)).toBe(0.5);
    expect(classScores(p, g, 1)).toEqual({ precision: 1 / 3, recall: 1, f1: 0.5, support: 1 });
    expect(classScores(p, g, 0)).toEqual({ precision: 1, recall: 1 / 3, f1: 0.5, support: 3 });
    expect(matthewsCorrelation(p, g)).toBeCloseTo(1 / 3, 12); // (1*1 - 2*0) / sqrt(3*1*3*1)
  });

  it('MCC is 0 when undefined, ±1 at the extremes', () => {
    expect(matthewsCorrelation([1, 1, 1], [0, 1, 0])).toBe(0); // one predicted class
    expect(matthewsCorrelation([0, 1, 0], [1, 1, 1])).toBe(0); // one gold class
    expect(matthewsCorrelation([0, 0], [0, 0])).toBe(0);
    expect(matthewsCorrelation([0, 1, 1, 0], [0, 1, 1, 0])).toBe(1);
    expect(matthewsCorrelation([1, 0, 0, 1], [0, 1, 1, 0])).toBe(-1);
  });

  it('multiclass', () => {
    const p = [0, 1, 2, 2, 1];
    const g = [0, 1, 2, 1, 0];
    expect(confusionMatrix(p, g)).toEqual([[1, 1, 0], [0, 1, 1], [0, 0, 1]]);
    expect(confusionMatrix(p, g, 4)[3]).toEqual([0, 0, 0, 0]);
    // correct=3, n=5, gold counts 2,2,1, pred counts 1,2,2: (15 - 8) / sqrt((25-9)(25-9))
    expect(matthewsCorrelation(p, g)).toBeCloseTo(7 / 16, 12);
    // per-class F1: 2/3, 1/2, 2/3
    expect(f1Macro(p, g)).toBeCloseTo(11 / 18, 12);
    expect(f1Binary([0, 0], [0, 0])).toBe(0); // no positives anywhere: 0/0 counts as 0
  });

  it('rejects bad input', () => {
    expect(() => accuracy([1], [1, 0])).toThrow(/1 predictions for 2 gold/);
    expect(() => accuracy([], [])).toThrow(/no examples/);
    expect(() => confusionMatrix([0, 2], [0, 1], 2)).toThrow(/out of range/);
  });

  it('binary MCC agrees with the 2x2 phi formula', () => {
    const labels = fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })), { minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(labels, (pairs) => {
        const p = pairs.map(([x]) => x);
        const g = pairs.map(([, y]) => y);
        const [[tn, fp], [fn, tp]] = confusionMatrix(p, g, 2) as [[number, number], [number, number]];
        const d = Math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
        const phi = d === 0 ? 0 : (tp * tn - fp * fn) / d;
        return Math.abs(matthewsCorrelation(p, g) - phi) < 1e-12;
      }),
    );
  });
});

import fc from 'fast-check';
import { bleuFromStats, corpusBleu, corpusChrf, tokenize13a } from './metrics';

describe('BLEU and chrF closed forms', () => {
  it('a hypothesis equal to its reference scores 100; no overlap scores 0', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 4, maxLength: 12 }), (words) => {
        const s = words.join(' ');
        expect(corpusBleu([s], [[s]]).score).toBeCloseTo(100, 9);
        expect(corpusChrf([s], [[s]])).toBeCloseTo(100, 9);
        const other = words.map(() => 'QQ').join(' ');
        expect(corpusBleu([other], [[s]]).score).toBe(0);
      }),
      { numRuns: 30 },
    );
  });

  it('BLEU is the brevity penalty times the geometric mean of the precisions', () => {
    // 4 of 5 unigrams, 2 of 4 bigrams, 1 of 3 trigrams, 0 of 2 four-grams (exp smoothing: 100 / (2·2)); ref 6 > sys 5.
    const s = bleuFromStats([4, 2, 1, 0], [5, 4, 3, 2], 5, 6);
    const p = [80, 50, 100 / 3, 100 / 4];
    expect(s.score).toBeCloseTo(Math.exp(1 - 6 / 5) * Math.exp(p.reduce((a, x) => a + Math.log(x), 0) / 4), 10);
  });

  it('13a splits punctuation but keeps it inside numbers, splits a hyphen only after a digit, and unescapes entities', () => {
    expect(tokenize13a('It costs 1,200.50 euros, (roughly) &amp; more.')).toBe('It costs 1,200.50 euros , ( roughly ) & more .');
    expect(tokenize13a('north-west 3-4')).toBe('north-west 3 - 4');
  });

  it('refuses reference streams whose length differs from the hypotheses', () => {
    expect(() => corpusBleu(['a', 'b'], [['a']])).toThrow(/reference stream 0 has 1 segments/);
    expect(() => corpusChrf(['a'], [])).toThrow(/at least one reference/);
  });
});

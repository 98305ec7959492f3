import fc from 'fast-check';
import { IGNORE_LABEL } from './batches';
import { maskExamples, maskTokens } from './mlm';

const options = { maskId: 103, vocabSize: 1000, specialIds: [101, 102, 0], seed: 1 };

describe('maskTokens', () => {
  test('labels keep the original id exactly where a token was selected; special tokens are never selected', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 200, max: 999 }), { minLength: 1, maxLength: 60 }), fc.integer(), (body, seed) => {
        const ids = [101, ...body, 102, 0, 0];
        const { inputIds, label } = maskTokens(ids, { ...options, seed });
        const labels = label as number[];
        ids.forEach((id, i) => {
          if (labels[i] === IGNORE_LABEL) expect(inputIds[i]).toBe(id);
          else expect(labels[i]).toBe(id);
          if (options.specialIds.includes(id)) expect(labels[i]).toBe(IGNORE_LABEL);
        });
      }),
    );
  });

  test('about 15% selected, split 80/10/10 (mask / random / kept)', () => {
    const body = Array.from({ length: 200 }, (_v, i) => 200 + (i % 700));
    const examples = maskExamples(Array.from({ length: 200 }, () => body), options);
    let selected = 0;
    let masked = 0;
    let kept = 0;
    for (const e of examples) {
      (e.label as number[]).forEach((l, i) => {
        if (l === IGNORE_LABEL) return;
        selected += 1;
        if (e.inputIds[i] === options.maskId) masked += 1;
        else if (e.inputIds[i] === l) kept += 1;
      });
    }
    const total = 200 * 200;
    // 40,000 Bernoulli(0.15) draws: std ≈ 0.0018, so ±0.01 is > 5σ.
    expect(Math.abs(selected / total - 0.15)).toBeLessThan(0.01);
    expect(Math.abs(masked / selected - 0.8)).toBeLessThan(0.02);
    // "kept" includes random replacements that happen to draw the same id (1/1000 of the random 10%).
    expect(Math.abs(kept / selected - 0.1)).toBeLessThan(0.02);
  });

  test('same seed, same masking', () => {
    const ids = Array.from({ length: 50 }, (_v, i) => 300 + i);
    expect(maskTokens(ids, options)).toEqual(maskTokens(ids, options));
  });
});

// BLEU (13a) and chrF / chrF++ against sacreBLEU 2.6.0 on a hand-written corpus (fixtures/metrics/sacrebleu.json).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BleuScore } from '@adapters/adapter-nmt';
import { corpusBleu, corpusChrf, sentenceBleu, tokenize13a } from '@adapters/adapter-nmt';
import { FIXTURES } from './harness';

interface RefBleu { score: number; counts: number[]; totals: number[]; sys_len: number; ref_len: number; bp: number }
const ref = JSON.parse(readFileSync(join(FIXTURES, 'metrics', 'sacrebleu.json'), 'utf8')) as {
  hypotheses: string[]; references: string[][]; tokenized_13a: string[];
  bleu_one_ref: RefBleu; bleu_two_refs: RefBleu; bleu_lowercase: RefBleu;
  chrf_one_ref: number; chrf_two_refs: number; chrf_pp_two_refs: number; sentence_bleu: number[]; sentence_chrf: number[];
};

/**
 * Scores are 0–100 doubles computed with the same operations in the same order; only libm's log/exp may differ in the
 * last bit, so 1e-9 absolute. The integer statistics must be equal.
 */
const SCORE_TOL = 1e-9;

function expectBleu(got: BleuScore, want: RefBleu): void {
  expect({ counts: got.counts, totals: got.totals, sys: got.sysLen, ref: got.refLen }).toEqual({ counts: want.counts, totals: want.totals, sys: want.sys_len, ref: want.ref_len });
  expect(Math.abs(got.bp - want.bp)).toBeLessThanOrEqual(SCORE_TOL);
  expect(Math.abs(got.score - want.score)).toBeLessThanOrEqual(SCORE_TOL);
}

describe('sacreBLEU parity', () => {
  const lines = [...ref.hypotheses, ...(ref.references.flat())];
  it('13a tokenisation of every line equals sacreBLEU', () => {
    expect(lines.map((l) => tokenize13a(l.replace(/\s+$/u, '')))).toEqual(ref.tokenized_13a);
  });
  it('corpus BLEU: one and two references, lowercase', () => {
    const [a, b] = ref.references as [string[], string[]];
    expectBleu(corpusBleu(ref.hypotheses, [a]), ref.bleu_one_ref);
    expectBleu(corpusBleu(ref.hypotheses, [a, b]), ref.bleu_two_refs);
    expectBleu(corpusBleu(ref.hypotheses, [a], { lowercase: true }), ref.bleu_lowercase);
  });
  it('sentence BLEU (effective order) per segment', () => {
    const [a] = ref.references as [string[]];
    ref.hypotheses.forEach((h, i) => expect(Math.abs(sentenceBleu(h, [a[i] as string], { effectiveOrder: true }).score - (ref.sentence_bleu[i] as number))).toBeLessThanOrEqual(SCORE_TOL));
  });
  it('corpus chrF (one and two references) and chrF++, and sentence chrF', () => {
    const [a, b] = ref.references as [string[], string[]];
    expect(Math.abs(corpusChrf(ref.hypotheses, [a]) - ref.chrf_one_ref)).toBeLessThanOrEqual(SCORE_TOL);
    expect(Math.abs(corpusChrf(ref.hypotheses, [a, b]) - ref.chrf_two_refs)).toBeLessThanOrEqual(SCORE_TOL);
    expect(Math.abs(corpusChrf(ref.hypotheses, [a, b], { wordOrder: 2 }) - ref.chrf_pp_two_refs)).toBeLessThanOrEqual(SCORE_TOL);
    ref.hypotheses.forEach((h, i) => expect(Math.abs(corpusChrf([h], [[a[i] as string]]) - (ref.sentence_chrf[i] as number))).toBeLessThanOrEqual(SCORE_TOL));
  });
});

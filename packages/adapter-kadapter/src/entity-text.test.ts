// Entity markers in plain text (<e1>…</e1>, <e2>…</e2>) and the FewRel relation task written from them: marker
// positions, bad markup (one ConfigError naming the example), and a deterministic, disjoint split.
import fc from 'fast-check';
import { ConfigError } from '@adapters/core-graph';
import { encodeMarkedText, parseEntityMarkup } from './data/entity-text';
import type { FewRelInstance } from './data/fewrel';
import { buildRelationTask, entityMarkers, markedText, parseFewRel } from './data/fewrel';
import { fakeTokenizer } from './__tests__/helpers';

describe('entity markup', () => {
  it('splits text at the tags in either order', () => {
    expect(parseEntityMarkup('<e1>Alice</e1> married <e2>Bob</e2> .', 'x')).toEqual([0, 'Alice', 1, ' married ', 2, 'Bob', 3, ' .']);
    expect(parseEntityMarkup('In <e2>Paris</e2>, <e1>she</e1>', 'x')).toEqual(['In ', 2, 'Paris', 3, ', ', 0, 'she', 1]);
    expect(parseEntityMarkup('< E1 >a</e1><e2>b</ e2 >', 'x')).toEqual([0, 'a', 1, 2, 'b', 3]);
  });

  it('puts the marker tokens where the tags were, the entity pieces between them', () => {
    const tok = fakeTokenizer();
    const m = entityMarkers(tok);
    const ids = encodeMarkedText(tok, 'the <e2>river thames</e2> flows through <e1>london</e1> today', m, 64, 'x');
    const pieces = (text: string) => tok.tokenize(text).map((p) => tok.tokenToId(p) as number);
    expect(tok.tokenize('river thames')).toEqual(['rive', '##r', 'tham', '##es']);
    // [CLS] the [E2] rive ##r tham ##es [/E2] flow ##s thro ##ugh [E1] lond ##on [/E1] toda ##y [SEP]
    expect(ids).toEqual([2, ...pieces('the'), m.objectStart, ...pieces('river thames'), m.objectEnd, ...pieces('flows through'), m.subjectStart, ...pieces('london'), m.subjectEnd, ...pieces('today'), 3]);
    expect(ids.indexOf(m.objectStart)).toBe(2);
    expect(ids.indexOf(m.subjectStart)).toBe(12);
  });

  it('cut to maxLength, the window keeps both start markers', () => {
    const tok = fakeTokenizer();
    const m = entityMarkers(tok);
    const words = Array.from({ length: 40 }, (_v, i) => `w${i}`);
    words[20] = `<e1>${words[20]}</e1>`;
    words[26] = `<e2>${words[26]}</e2>`;
    const ids = encodeMarkedText(tok, words.join(' '), m, 16, 'x');
    expect(ids).toHaveLength(16);
    expect(ids).toContain(m.subjectStart);
    expect(ids).toContain(m.objectStart);
    expect([ids[0], ids[15]]).toEqual([2, 3]);
  });

  it.each([
    ['Alice married Bob', /no entity tags/],
    ['<e1>Alice</e1> married Bob', /missing '<e2>', '<\/e2>'/],
    ['<e1>Alice</e1> married <e1>Bob</e1>', /'<e1>' appears twice/],
    ['</e1>Alice<e1> married <e2>Bob</e2>', /'<\/e1>' comes before '<e1>'/],
    ['<e1>Alice <e2>married</e2> Bob</e1>', /'<e2>' opens inside the other entity/],
    ['<e1> </e1> married <e2>Bob</e2>', /entity e1 is empty/],
    ['<e1>Alice</e1> married <e3>Bob</e3>', /unknown entity tag '<e3>'/],
  ])('%j → one ConfigError naming the example', (text, pattern) => {
    let error: unknown;
    try {
      parseEntityMarkup(text, 'train.tsv: example 7');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).path).toBe('train.tsv: example 7');
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).toContain(JSON.stringify(text).slice(1, 12));
  });

  it('property: for any two disjoint entity spans, the markers land before/after exactly those words', () => {
    fc.assert(fc.property(
      fc.array(fc.constantFrom('ab', 'cd', 'efghij', 'klm', 'nopqrst', 'u'), { minLength: 2, maxLength: 14 }),
      fc.nat(), fc.nat(), fc.nat(), fc.nat(),
      (words, a, b, c, d) => {
        // Two disjoint spans [s1, e1], [s2, e2] in word positions.
        const cuts = [a, b, c, d].map((x) => x % words.length).sort((x, y) => x - y);
        const [s1, e1, s2, e2] = cuts as [number, number, number, number];
        fc.pre(e1 < s2);
        const headFirst = a % 2 === 0;
        const instance: FewRelInstance = {
          tokens: words,
          head: { name: 'h', id: 'Q1', positions: [headFirst ? range(s1, e1) : range(s2, e2)] },
          tail: { name: 't', id: 'Q2', positions: [headFirst ? range(s2, e2) : range(s1, e1)] },
        };
        const tok = fakeTokenizer();
        const m = entityMarkers(tok);
        const ids = encodeMarkedText(tok, markedText(instance), m, 512, 'x');
        // Reference: the word pieces of each word, with the markers inserted at the span ends.
        const ref: number[] = [2];
        const [hs, he] = headFirst ? [s1, e1] : [s2, e2];
        const [ts, te] = headFirst ? [s2, e2] : [s1, e1];
        words.forEach((w, i) => {
          if (i === hs) ref.push(m.subjectStart);
          if (i === ts) ref.push(m.objectStart);
          ref.push(...tok.tokenize(w).map((p) => tok.tokenToId(p) as number));
          if (i === he) ref.push(m.subjectEnd);
          if (i === te) ref.push(m.objectEnd);
        });
        ref.push(3);
        expect(ids).toEqual(ref);
      },
    ), { numRuns: 200, seed: 11 });
  });
});

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_v, i) => from + i);

/** 6 relations × 12 instances; each instance unique (its year). */
const FEWREL = parseFewRel(JSON.stringify(Object.fromEntries(['P1', 'P2', 'P3', 'P4', 'P5', 'P6'].map((r, k) => [r, Array.from({ length: 12 }, (_v, i) => ({
  tokens: ['Alice', 'met', 'Bob', 'in', `${r}-${1900 + i}`, '.'], h: ['alice', 'Q1', [[k % 2 === 0 ? 0 : 2]]], t: ['bob', 'Q2', [[k % 2 === 0 ? 2 : 0]]],
}))]))));

describe('relation task from FewRel', () => {
  it('is deterministic per seed, disjoint from the excluded relations and between train and test', () => {
    const options = { exclude: ['P1', 'P4'], relations: 3, trainPerRelation: 5, testPerRelation: 4 };
    const a = buildRelationTask(FEWREL, { ...options, seed: 3 });
    expect(buildRelationTask(FEWREL, { ...options, seed: 3 })).toEqual(a);
    expect(a.labels).toHaveLength(3);
    expect(a.labels.filter((l) => l === 'P1' || l === 'P4')).toEqual([]);
    expect(a.train).toHaveLength(15);
    expect(a.test).toHaveLength(12);
    const trainTexts = new Set(a.train.map((x) => x.text));
    expect(trainTexts.size).toBe(15);
    expect(a.test.filter((x) => trainTexts.has(x.text))).toEqual([]);
    for (const x of [...a.train, ...a.test]) {
      expect(x.text).toContain(x.label);
      expect(parseEntityMarkup(x.text, 'x').filter((p) => typeof p === 'number')).toHaveLength(4);
    }
    // Another seed draws other relations or another split.
    const others = [0, 1, 2, 4, 5].map((seed) => buildRelationTask(FEWREL, { ...options, seed }));
    expect(others.some((o) => JSON.stringify(o) !== JSON.stringify(a))).toBe(true);
  });

  it('property: any exclusion and seed gives disjoint label, train and test sets', () => {
    fc.assert(fc.property(fc.subarray(['P1', 'P2', 'P3', 'P4', 'P5', 'P6'], { maxLength: 4 }), fc.integer({ min: 0, max: 1000 }), (exclude, seed) => {
      const t = buildRelationTask(FEWREL, { exclude, trainPerRelation: 6, testPerRelation: 6, seed });
      expect(t.labels).toEqual(['P1', 'P2', 'P3', 'P4', 'P5', 'P6'].filter((r) => !exclude.includes(r)));
      const train = new Set(t.train.map((x) => x.text));
      expect(t.test.some((x) => train.has(x.text))).toBe(false);
      expect(t.train.length + t.test.length).toBe(12 * t.labels.length);
    }), { numRuns: 50, seed: 5 });
  });

  it('bad requests are ConfigErrors naming the option', () => {
    expect(() => buildRelationTask(FEWREL, { exclude: ['P9'], trainPerRelation: 1, testPerRelation: 1 })).toThrow(/exclude: unknown relation\(s\) P9/);
    expect(() => buildRelationTask(FEWREL, { exclude: ['P1', 'P2', 'P3', 'P4', 'P5'], trainPerRelation: 1, testPerRelation: 1 })).toThrow(/relations: needs at least 2 relations, got 1/);
    expect(() => buildRelationTask(FEWREL, { relations: 7, trainPerRelation: 1, testPerRelation: 1 })).toThrow(/7 requested but only 6 relations remain/);
    expect(() => buildRelationTask(FEWREL, { trainPerRelation: 10, testPerRelation: 3 })).toThrow(/trainPerRelation: relation 'P1' has 12 usable instances, 13 requested/);
  });
});

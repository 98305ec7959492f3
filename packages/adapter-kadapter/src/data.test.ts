// Data loaders: FewRel parsing, per-relation splits and entity-marker encoding; UD dependency-head labels.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConllu, readConllu } from '@adapters/core-graph';
import type { FewRelInstance } from './data/fewrel';
import { encodeRelationInstance, entityMarkers, parseFewRel, readFewRel, splitFewRel } from './data/fewrel';
import { dependencyExample } from './data/ud';
import { fakeTokenizer } from './__tests__/helpers';

const FEWREL_SAMPLE = JSON.stringify({
  P1: Array.from({ length: 10 }, (_v, i) => ({ tokens: ['Alice', 'married', 'Bob', 'in', `${1990 + i}`, '.'], h: ['alice', 'Q1', [[0]]], t: ['bob', 'Q2', [[2]]] })),
  P2: Array.from({ length: 10 }, (_v, i) => ({ tokens: ['The', 'river', 'Thames', 'flows', 'through', 'London', `${i}`], h: ['london', 'Q3', [[5]]], t: ['thames', 'Q4', [[1, 2]]] })),
});

describe('FewRel', () => {
  it('parses, splits inside each relation (disjoint, seeded) and marks entities', () => {
    const data = parseFewRel(FEWREL_SAMPLE);
    const split = splitFewRel(data, { trainPerRelation: 6, evalPerRelation: 3, seed: 1 });
    expect(split.labels).toEqual(['P1', 'P2']);
    expect(split.train).toHaveLength(12);
    expect(split.eval).toHaveLength(6);
    const trainSet = new Set(split.train.map((x) => x.instance));
    expect(split.eval.every((x) => !trainSet.has(x.instance))).toBe(true);
    expect(splitFewRel(data, { trainPerRelation: 6, evalPerRelation: 3, seed: 1 })).toEqual(split);
    const tok = fakeTokenizer();
    const markers = entityMarkers(tok);
    const p2 = data.get('P2')?.[0] as FewRelInstance;
    // Head (subject) = London at word 5, tail (object) = "river Thames" at words 1-2.
    const ids = encodeRelationInstance(tok, p2, markers);
    expect(ids[0]).toBe(2);
    expect(ids.at(-1)).toBe(3);
    expect(ids.indexOf(markers.objectStart)).toBeLessThan(ids.indexOf(markers.objectEnd));
    expect(ids.indexOf(markers.objectEnd)).toBeLessThan(ids.indexOf(markers.subjectStart));
    expect(ids[ids.indexOf(markers.subjectStart) + 1]).toBe(tok.tokenToId('lond'));
    expect(ids[ids.indexOf(markers.subjectStart) + 2]).toBe(tok.tokenToId('##on'));
    expect(ids[ids.indexOf(markers.subjectStart) + 3]).toBe(markers.subjectEnd);
  });

  it('truncates around the entities and keeps both start markers', () => {
    const tokens = Array.from({ length: 60 }, (_v, i) => `w${i}`);
    const inst = { tokens, head: { name: 'a', id: 'x', positions: [[30]] }, tail: { name: 'b', id: 'y', positions: [[35]] } };
    const tok = fakeTokenizer();
    const markers = entityMarkers(tok);
    const ids = encodeRelationInstance(tok, inst, markers, 16);
    expect(ids).toHaveLength(16);
    expect(ids).toContain(markers.subjectStart);
    expect(ids).toContain(markers.objectStart);
  });

  it('reports bad input with the file and field', () => {
    expect(() => parseFewRel('{"P1": [{"tokens": ["a"], "h": ["a", "Q", [[3]]], "t": ["a", "Q", [[0]]]}]}', 'x.json')).toThrow(/x\.json: P1\[0\]: entity 'a' points past the 1 tokens/);
    expect(() => parseFewRel('[]', 'x.json')).toThrow(ConfigError);
    expect(() => splitFewRel(parseFewRel(FEWREL_SAMPLE), { relations: ['P1', 'P9'], trainPerRelation: 1, evalPerRelation: 1 })).toThrow(/unknown relation 'P9'/);
    expect(() => splitFewRel(parseFewRel(FEWREL_SAMPLE), { trainPerRelation: 9, evalPerRelation: 3 })).toThrow(/has 10 instances, 12 requested/);
  });

  const real = join(__dirname, '../../../../shared/datasets/fewrel/val_wiki.json');
  (existsSync(real) ? it : it.skip)('reads the shared val_wiki.json (16 relations × 700)', async () => {
    const data = await readFewRel(real);
    expect(data.size).toBe(16);
    expect([...data.values()].every((l) => l.length === 700)).toBe(true);
  });
});

describe('UD dependency heads', () => {
  const CONLLU = [
    '# text = Dogs chased cats quickly',
    '1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_',
    '2\tchased\tchase\tVERB\t_\t_\t0\troot\t_\t_',
    '3\tcats\tcat\tNOUN\t_\t_\t2\tobj\t_\t_',
    '4\tquickly\tquickly\tADV\t_\t_\t2\tadvmod\t_\t_',
    '',
  ].join('\n');

  it('labels each word\'s first piece with its head\'s first piece ([CLS] for the root); the rest is ignored', () => {
    const tok = fakeTokenizer();
    const [sentence] = parseConllu(CONLLU);
    const ex = dependencyExample(tok, sentence as never);
    // [CLS] dogs chas ##ed cats quic ##kly [SEP]
    expect(ex.inputIds).toHaveLength(8);
    expect(ex.label).toEqual([-100, 2, 0, -100, 2, 2, -100, -100]);
  });

  it('cuts words that do not fit and ignores labels pointing at them', () => {
    const tok = fakeTokenizer();
    const [sentence] = parseConllu(CONLLU);
    const ex = dependencyExample(tok, sentence as never, { maxLength: 4 });
    // [CLS] dogs [SEP]: "chased" (the head of dogs) was cut.
    expect(ex.inputIds).toHaveLength(3);
    expect(ex.label).toEqual([-100, -100, -100]);
  });

  const real = join(__dirname, '../../../../shared/datasets/ud-en-ewt/en_ewt-ud-dev.conllu');
  (existsSync(real) ? it : it.skip)('gives valid labels on UD English-EWT dev', async () => {
    const tok = fakeTokenizer();
    const sentences = (await readConllu(real)).slice(0, 200);
    for (const s of sentences) {
      const ex = dependencyExample(tok, s, { maxLength: 64 });
      const labels = ex.label as number[];
      expect(labels).toHaveLength(ex.inputIds.length);
      expect(labels.every((l) => l === -100 || (l >= 0 && l < ex.inputIds.length - 1))).toBe(true);
      expect(labels.filter((l) => l === 0).length).toBeLessThanOrEqual(1 + s.tokens.filter((t) => t.head === 0).length);
    }
  });
});

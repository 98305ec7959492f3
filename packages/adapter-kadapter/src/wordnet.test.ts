// WordNet corpus builder on a small hand-written excerpt in WordNet's data-file format (made-up offsets and glosses):
// parsing, relations and their verbalisations, the held-out split (seeded, no held-out synset in the corpus), walks.
import fc from 'fast-check';
import { ConfigError } from '@adapters/core-graph';
import { buildKnowledgeCorpus, verbalise, wordNetFacts } from './knowledge/corpus';
import type { Synset } from './knowledge/wordnet';
import { parseWordNetData } from './knowledge/wordnet';
import { WORDNET_ADJS as ADJS, WORDNET_NOUNS as NOUNS } from './__tests__/helpers';

function wordNet(): Map<string, Synset> {
  return new Map([...parseWordNetData(NOUNS, 'data.noun'), ...parseWordNetData(ADJS, 'data.adj')].map((s) => [s.id, s]));
}

describe('WordNet data files', () => {
  it('parses lemmas, pointers (targets, lexical word numbers) and the definition; skips the header', () => {
    const wn = wordNet();
    expect(wn.size).toBe(10);
    const dog = wn.get('n:00000020') as Synset;
    expect(dog.lemmas).toEqual(['dog', 'domestic dog', 'Canis familiaris']);
    expect(dog.gloss).toBe('a domesticated canine');
    expect(dog.pointers).toEqual([
      { symbol: '@', target: 'n:00000010', sourceWord: 0, targetWord: 0 },
      { symbol: '%p', target: 'n:00000030', sourceWord: 0, targetWord: 0 },
      { symbol: '#m', target: 'n:00000050', sourceWord: 0, targetWord: 0 },
    ]);
    // Satellites live with adjectives; adjective markers such as (a) are dropped.
    expect(wn.get('a:00000120')?.lemmas).toEqual(['scorching', 'red-hot']);
    expect(wn.get('a:00000100')?.pointers[0]).toEqual({ symbol: '!', target: 'a:00000110', sourceWord: 1, targetWord: 1 });
  });

  it.each([
    ['0000002 05 n 01 dog 0 000 | x', /data\.noun:1: not a WordNet data line: offset '0000002' is not 8 digits/],
    ['00000020 05 q 01 dog 0 000 | x', /synset type 'q'/],
    ['00000020 05 n 02 dog 0 000 | x', /pointer count '000 \|'|pointer count|expected 2 words/],
    ['00000020 05 n 01 dog 0 002 @ 00000010 n 0000 | x', /pointer 2 of 2 is malformed/],
  ])('bad line %j → ConfigError naming file:line', (line, pattern) => {
    expect(() => parseWordNetData(line, 'data.noun')).toThrow(ConfigError);
    expect(() => parseWordNetData(line, 'data.noun')).toThrow(pattern);
  });
});

describe('knowledge corpus', () => {
  it('turns every relation into its sentence, the object last', () => {
    const wn = wordNet();
    const sentences = wordNetFacts(wn).map((f) => `${f.relation}: ${verbalise(f, f.object, wn.get(f.synsets[0] as string)?.pos)}`);
    expect(sentences.sort()).toEqual([
      'antonym: cold is the opposite of hot .',
      'antonym: hot is the opposite of cold .',
      'gloss: Rex means a famous dog .',
      'gloss: animal means a living organism that moves .',
      'gloss: bone means rigid connective tissue .',
      'gloss: cat means a small feline .',
      'gloss: cold means of low temperature .',
      'gloss: dog means a domesticated canine .',
      'gloss: hot means of high temperature .',
      'gloss: pack means a group of hunting animals .',
      'gloss: scorching means hot enough to burn .',
      'gloss: tail means the rear appendage of an animal .',
      'hypernym: cat is a kind of animal .',
      'hypernym: dog is a kind of animal .',
      'instance: Rex is an instance of dog .',
      'member: dog is a member of pack .',
      'part: tail is part of dog .',
      'synonym: cat means the same as true cat .',
      'synonym: dog means the same as Canis familiaris .',
      'synonym: dog means the same as domestic dog .',
      'synonym: scorching means the same as red-hot .',
    ]);
    const hyper = wordNetFacts(wn, ['instance'])[0];
    expect(hyper?.answers).toEqual(['dog', 'domestic dog', 'Canis familiaris']);
  });

  it('held-out synsets: seeded, none of their facts in the corpus, probed separately', () => {
    const wn = wordNet();
    const a = buildKnowledgeCorpus(wn, { heldOut: 0.3, seed: 9, walks: 4, walkLength: 2 });
    expect(buildKnowledgeCorpus(wn, { heldOut: 0.3, seed: 9, walks: 4, walkLength: 2 })).toEqual(a);
    expect(a.heldOutSynsets).toHaveLength(3);
    const heldLemmas = a.heldOutSynsets.flatMap((id) => wn.get(id)?.lemmas ?? []);
    // No fact touching a held-out synset is in the corpus (compared as facts: a lemma may also be another synset's).
    const held = new Set(a.heldOutSynsets);
    const text = (f: ReturnType<typeof wordNetFacts>[number]) => verbalise(f, f.object, wn.get(f.synsets[0] as string)?.pos);
    const keptTexts = new Set(wordNetFacts(wn).filter((f) => !f.synsets.some((x) => held.has(x))).map(text));
    const heldTexts = wordNetFacts(wn).filter((f) => f.synsets.some((x) => held.has(x))).map(text).filter((t) => !keptTexts.has(t));
    expect(heldTexts.length).toBeGreaterThan(0);
    const corpusParts = new Set(a.sentences.flatMap((x) => x.split(/(?<= \.) /)));
    expect(heldTexts.filter((t) => corpusParts.has(t))).toEqual([]);
    // Every held-out cloze item names a held-out synset's lemma (subject or answer); seen items none.
    const mentions = (item: { text: string; answers: readonly string[] }) => heldLemmas.some((l) => item.text.startsWith(`${l} `) || item.text.startsWith(`to ${l} `) || item.answers.includes(l));
    expect(a.probe.heldOut.every(mentions)).toBe(true);
    expect(a.probe.seen.every((item) => item.text.includes('[MASK]'))).toBe(true);
  });

  it('property: any seed and share — corpus facts and held-out facts partition the facts; walks only use kept synsets', () => {
    const wn = wordNet();
    const all = wordNetFacts(wn).length;
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000 }), fc.double({ min: 0, max: 0.9, noNaN: true }), (seed, share) => {
      const c = buildKnowledgeCorpus(wn, { heldOut: share, seed, walks: 3 });
      const held = new Set(c.heldOutSynsets);
      const kept = wordNetFacts(wn).filter((f) => !f.synsets.some((s) => held.has(s)));
      const { walk, ...counts } = c.counts;
      expect(Object.values(counts).reduce((x, y) => x + y, 0)).toBe(kept.length);
      expect(c.sentences.length).toBe(kept.length + (walk ?? 0));
      expect(kept.length).toBeLessThanOrEqual(all);
      const keptSentences = new Set(kept.map((f) => verbalise(f, f.object, wn.get(f.synsets[0] as string)?.pos)));
      // A walk is sentences of kept facts joined by spaces.
      for (const s of c.sentences) for (const part of s.split(/(?<= \.) /)) expect(keptSentences.has(part)).toBe(true);
    }), { numRuns: 60, seed: 2 });
  });

  it('bad options are ConfigErrors naming the option', () => {
    expect(() => buildKnowledgeCorpus(wordNet(), { heldOut: 1 })).toThrow(/heldOut: must be in \[0, 1\)/);
    expect(() => buildKnowledgeCorpus(wordNet(), { walkLength: 0 })).toThrow(/walkLength/);
    expect(() => buildKnowledgeCorpus(wordNet(), { relations: ['sibling' as never] })).toThrow(/relations: unknown relation 'sibling'/);
  });
});

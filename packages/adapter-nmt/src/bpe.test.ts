// The BPE tokenizer trained here: deterministic, encode → decode restores the text (spacing normalised), merges follow
// frequency with a fixed tie-break, and bad files are refused naming the field.
import fc from 'fast-check';
import { BPE_FORMAT, BpeTokenizer, pretokenize, WORD_START } from './bpe';

const CORPUS = ['In the beginning God created the heavens and the earth.', "Au commencement, Dieu créa les cieux et la terre.", 'Im Anfang schuf Gott die Himmel und die Erde.', 'the the the then there'];

describe('BpeTokenizer', () => {
  it('pretokenize splits words, numbers and punctuation, marking those after whitespace', () => {
    expect(pretokenize("Dieu créa l'homme, 12 fois.")).toEqual([`${WORD_START}Dieu`, `${WORD_START}créa`, `${WORD_START}l`, "'", 'homme', ',', `${WORD_START}12`, `${WORD_START}fois`, '.']);
  });

  it('is deterministic and merges the most frequent pair first (ties by code-unit order)', () => {
    const a = BpeTokenizer.train(CORPUS, { vocabSize: 80, minCharCount: 1 });
    const b = BpeTokenizer.train([...CORPUS], { vocabSize: 80, minCharCount: 1 });
    expect(JSON.stringify(a.toJSON())).toEqual(JSON.stringify(b.toJSON()));
    expect(a.size).toBeLessThanOrEqual(80);
    // (h, e): 5 × the, then, there, heavens = 8, ahead of (▁, t) and (t, h) at 7 each.
    expect(a.merges[0]).toEqual(['h', 'e']);
    expect(a.vocab.slice(0, 3)).toEqual(['<pad>', '</s>', '<unk>']);
  });

  it('the same merges reproduce a hand count on a small corpus', () => {
    const t = BpeTokenizer.train(['ab ab ab abc bc'], { vocabSize: 3 + 5 + 2, minCharCount: 1 });
    // Pairs: (▁,a) 4, (a,b) 4, (b,c) 2, (▁,b) 1 → tie (▁,a) vs (a,b): '▁' (U+2581) sorts after 'a', so (a,b) first.
    expect(t.merges).toEqual([['a', 'b'], [WORD_START, 'ab']]);
    expect(t.decode(t.encode('abc ab'))).toBe('abc ab');
  });

  it('encode → decode restores any text over its alphabet (whitespace runs become one space)', () => {
    const t = BpeTokenizer.train(CORPUS, { vocabSize: 120, minCharCount: 1 });
    const chars = [...new Set(CORPUS.join(''))].filter((c) => c !== ' ');
    fc.assert(fc.property(fc.array(fc.array(fc.constantFrom(...chars), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }), (words) => {
      const text = words.map((w) => w.join('')).join(' ');
      expect(t.decode(t.encode(text))).toBe(text);
    }), { numRuns: 200, seed: 7 });
  });

  it('unknown characters become <unk>; special ids are dropped when decoding', () => {
    const t = BpeTokenizer.train(CORPUS, { vocabSize: 60, specials: ['<pad>', '</s>', '<unk>', '<2fr>'] });
    expect(t.encode('the ✓')).toContain(t.unkId);
    expect(t.decode([t.id('<2fr>'), ...t.encode('the earth'), t.eosId, t.padId])).toBe('the earth');
  });

  it('toJSON → fromJSON is exact; a bad file is refused naming the field', () => {
    const t = BpeTokenizer.train(CORPUS, { vocabSize: 70 });
    const back = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(t.toJSON())));
    expect(back.vocab).toEqual(t.vocab);
    expect(back.encode(CORPUS[0] as string)).toEqual(t.encode(CORPUS[0] as string));
    const json = t.toJSON();
    expect(() => BpeTokenizer.fromJSON({ ...json, format: 'x' }, 'f.json')).toThrow(/f\.json: format/);
    expect(() => BpeTokenizer.fromJSON({ ...json, specials: ['<pad>'] }, 'f.json')).toThrow(/f\.json: specials.*<\/s>/);
    expect(() => BpeTokenizer.fromJSON({ ...json, merges: [['zz', 'q']] }, 'f.json')).toThrow(/f\.json: merges\[0\]/);
    expect(() => BpeTokenizer.fromJSON({ ...json, merges: [[1, 2]] }, 'f.json')).toThrow(/f\.json: merges\[0\].*pair of strings/);
    expect(json.format).toBe(BPE_FORMAT);
  });
});

// adapter-nmt's loadHfTokenizer (@huggingface/tokenizers, pure JS) against the Python fast tokenizers that wrote the
// fixtures (tokenizers 0.22.2, transformers 4.57.6): the same ids and the same decodings, exactly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHfTokenizer } from '@adapters/adapter-nmt';
import { FIXTURES } from './harness';

interface Case {
  readonly text: string;
  readonly ids: number[];
  readonly decoded: string;
  readonly decodedWithSpecial: string;
}

describe.each(['bart', 'mbart_like'])('tokenizer %s', (name) => {
  const dir = join(FIXTURES, 'tokenizers', name);
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { vocabSize: number; cases: Case[] };

  it('encodes every fixture text to the Python ids and decodes them back as Python does', async () => {
    const tok = await loadHfTokenizer(dir);
    expect(tok.vocabSize).toBe(expected.vocabSize);
    for (const c of expected.cases) {
      expect({ text: c.text, ids: tok.encode(c.text) }).toEqual({ text: c.text, ids: c.ids });
      expect(tok.decode(c.ids)).toBe(c.decoded);
      expect(tok.decode(c.ids, { skipSpecialTokens: false })).toBe(c.decodedWithSpecial);
    }
  });
});

it('a folder without tokenizer.json is refused naming the file', async () => {
  await expect(loadHfTokenizer(join(FIXTURES, 'seq2seq'))).rejects.toThrow(/seq2seq\/tokenizer\.json: cannot read/);
});

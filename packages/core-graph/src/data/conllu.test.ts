import { existsSync } from 'fs';
import * as path from 'path';
import { parseConllu, readConllu } from './conllu';

const ewt = path.resolve(__dirname, '../../../../../shared/datasets/ud-en-ewt/en_ewt-ud-dev.conllu');

const FIXTURE = [
  '# sent_id = s1',
  '# text = Don\'t go.',
  '1-2\tDon\'t\t_\t_\t_\t_\t_\t_\t_\t_',
  '1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_',
  '2\tn\'t\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_',
  '3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_',
  '3.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t3:conj\t_',
  '4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_',
  '',
  '1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_',
].join('\r\n'); // CRLF and no final blank line

describe('CoNLL-U', () => {
  it('keeps syntactic words, skips multiword tokens and empty nodes', () => {
    const [a, b, ...rest] = parseConllu(FIXTURE);
    expect(rest).toEqual([]);
    expect(a).toEqual({
      sentId: 's1',
      text: "Don't go.",
      tokens: [
        { form: 'Do', lemma: 'do', upos: 'AUX', head: 3, deprel: 'aux' },
        { form: "n't", lemma: 'not', upos: 'PART', head: 3, deprel: 'advmod' },
        { form: 'go', lemma: 'go', upos: 'VERB', head: 0, deprel: 'root' },
        { form: '.', lemma: '.', upos: 'PUNCT', head: 3, deprel: 'punct' },
      ],
    });
    expect(b).toEqual({ tokens: [{ form: 'Hi', lemma: 'hi', upos: 'INTJ', head: 0, deprel: 'root' }] });
  });

  it('reports malformed lines with their line number', () => {
    expect(() => parseConllu('1\tx\tx\tX\n', 'f.conllu')).toThrow('f.conllu:1: expected 10 tab-separated columns, got 4');
    expect(() => parseConllu('1\ta\ta\tX\t_\t_\t0\troot\t_\t_\n3\tb\tb\tX\t_\t_\t1\tdep\t_\t_\n', 'f')).toThrow('f:2: word id 3 out of sequence');
    expect(() => parseConllu('1\ta\ta\tX\t_\t_\t5\tdep\t_\t_\n', 'f')).toThrow('f:1: word 1 has head 5 outside the sentence');
  });

  (existsSync(ewt) ? it : it.skip)('reads UD English-EWT dev', async () => {
    const sents = await readConllu(ewt);
    expect(sents).toHaveLength(2001);
    expect(sents[0]?.text).toBe('From the AP comes this story :');
    expect(sents[0]?.tokens.map((t) => t.form)).toEqual(['From', 'the', 'AP', 'comes', 'this', 'story', ':']);
    expect(sents[0]?.tokens[3]).toEqual({ form: 'comes', lemma: 'come', upos: 'VERB', head: 0, deprel: 'root' });
    // Every sentence is a tree with exactly one root; no multiword surface forms leak in.
    for (const s of sents) expect(s.tokens.filter((t) => t.head === 0)).toHaveLength(1);
    expect(sents.some((s) => s.tokens.some((t) => t.form === "didn't"))).toBe(false);
    expect(sents.some((s) => s.tokens.some((t) => t.form === "n't"))).toBe(true);
  });
});

if (!existsSync(ewt)) console.warn(`skipped UD test: ${ewt} is absent`);

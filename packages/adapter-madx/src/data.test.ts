// UD helpers: UPOS labels on the first sub-word of each word, IGNORE_LABEL elsewhere; sentence ids for MLM.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IGNORE_LABEL, loadTokenizer, parseConllu } from '@adapters/core-graph';
import { sentenceIds, UPOS_TAGS, uposExamples } from './data';

const CONLLU = [
  '# text = Playing dogs bark.',
  '1\tPlaying\tplay\tVERB\t_\t_\t2\tamod\t_\t_',
  '2\tdogs\tdog\tNOUN\t_\t_\t3\tnsubj\t_\t_',
  '3\tbark\tbark\tVERB\t_\t_\t0\troot\t_\t_',
  '4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\tSpaceAfter=No',
  '',
].join('\n');
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'play', '##ing', 'dogs', 'bark', '.'];

describe('UD data for MAD-X', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'madx-data-'));
    writeFileSync(join(dir, 'vocab.txt'), `${VOCAB.join('\n')}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('uposExamples tags the first sub-word of each word; sentenceIds encodes the raw text', async () => {
    const tok = await loadTokenizer(dir);
    const sentences = parseConllu(CONLLU);
    const [ex] = uposExamples(sentences, tok, 64);
    const tag = (t: string) => UPOS_TAGS.indexOf(t as (typeof UPOS_TAGS)[number]);
    expect(ex?.inputIds).toEqual([2, 5, 6, 7, 8, 9, 3]);
    expect(ex?.label).toEqual([IGNORE_LABEL, tag('VERB'), IGNORE_LABEL, tag('NOUN'), tag('VERB'), tag('PUNCT'), IGNORE_LABEL]);
    // Words that do not fit are dropped whole: max length 5 keeps [CLS] play ##ing dogs [SEP].
    expect(uposExamples(sentences, tok, 5)[0]?.inputIds).toEqual([2, 5, 6, 7, 3]);
    expect(sentenceIds(sentences, tok, 64)).toEqual([[2, 5, 6, 7, 8, 9, 3]]);
    expect(UPOS_TAGS.length).toBe(17);
    expect(() => uposExamples(parseConllu(CONLLU.replace('NOUN', 'NOUNX')), tok)).toThrow(/unknown UPOS tag 'NOUNX'/);
  });
});

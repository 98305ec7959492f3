import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { prepareTask, readGlue, subsample, toTsv } from './data';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'results-data-'));
}

describe('GLUE readers', () => {
  test('each task\'s own format: SST-2 header, MRPC with BOM and quotes, RTE labels, CoLA without header', () => {
    const dir = tmp();
    const w = (f: string, s: string): string => (fs.writeFileSync(path.join(dir, f), s), path.join(dir, f));
    expect(readGlue('sst2', w('s.tsv', 'sentence\tlabel\nit \'s fine \t1\nbad\t0\n'))).toEqual([{ text: "it 's fine", label: '1' }, { text: 'bad', label: '0' }]);
    expect(readGlue('mrpc', w('m.tsv', '\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tHe said "hi.\tHe said hi.\n'))).toEqual([{ text: 'He said "hi.', pair: 'He said hi.', label: '1' }]);
    expect(readGlue('rte', w('r.tsv', 'index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tnot_entailment\n'))).toEqual([{ text: 'A.', pair: 'B.', label: 'not_entailment' }]);
    expect(readGlue('cola', w('c.tsv', 'gj04\t1\t\tOur friends.\ngj04\t0\t*\tFriends our.'))).toEqual([{ text: 'Our friends.', label: '1' }, { text: 'Friends our.', label: '0' }]);
  });

  test('a short row is refused naming file and line', () => {
    const f = path.join(tmp(), 'bad.tsv');
    fs.writeFileSync(f, 'index\tsentence1\tsentence2\tlabel\n0\tonly two\n');
    expect(() => readGlue('rte', f)).toThrow(`${f}:2: expected index, sentence1, sentence2, label`);
  });

  test('subsample: deterministic per seed, a permutation prefix, all rows when n is large', () => {
    const rows = Array.from({ length: 50 }, (_v, i) => i);
    expect(subsample(rows, 10, 0)).toEqual(subsample(rows, 10, 0));
    expect(subsample(rows, 10, 0)).not.toEqual(subsample(rows, 10, 1));
    expect(new Set(subsample(rows, 10, 0)).size).toBe(10);
    expect([...subsample(rows, 99, 3)].sort((a, b) => a - b)).toEqual(rows);
  });

  test('prepareTask writes a uniform TSV the CLI reads (sentence, sentence2, label) and caps the dev set', () => {
    const src = tmp();
    fs.mkdirSync(path.join(src, 'glue-rte'));
    const body = (n: number) => ['index\tsentence1\tsentence2\tlabel', ...Array.from({ length: n }, (_v, i) => `${i}\tp ${i}\th ${i}\t${i % 2 ? 'entailment' : 'not_entailment'}`)].join('\n');
    fs.writeFileSync(path.join(src, 'glue-rte', 'train.tsv'), body(30));
    fs.writeFileSync(path.join(src, 'glue-rte', 'dev.tsv'), body(12));
    const out = prepareTask('rte', src, tmp(), 20, 5);
    expect([out.trainRows, out.devRows]).toEqual([20, 5]);
    const train = fs.readFileSync(out.train, 'utf8').trimEnd().split('\n');
    expect(train[0]).toBe('sentence\tsentence2\tlabel');
    expect(train).toHaveLength(21);
    expect(toTsv([{ text: 'a', label: '1' }])).toBe('sentence\tlabel\na\t1\n');
  });
});

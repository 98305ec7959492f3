// The CLI end to end, in-process: `adapters train --adapter prefix_tuning:...` through plugin discovery, the saved
// AdapterHub config, then eval and predict from the saved folder.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';

const POS = ['good', 'great', 'fine', 'nice'];
const NEG = ['bad', 'awful', 'poor', 'sad'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POS, ...NEG, 'film', 'very'];

describe('adapters train with prefix_tuning', () => {
  let tmp: string;
  const ok = async (argv: string[]) => {
    const r = await runCliIn(tmp, argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'prefix-cli-'));
    writeTinyModelDir(path.join(tmp, 'tiny-bert'), VOCAB);
    const rows = Array.from({ length: 16 }, (_v, i) => (i % 2 === 0 ? `very ${POS[i % 4]} film\tpos` : `${NEG[i % 4]} film\tneg`));
    writeFileSync(path.join(tmp, 'train.tsv'), `text\tlabel\n${rows.join('\n')}\n`);
    linkAdapterPackages(tmp, [path.resolve(__dirname, '..')]);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test.each([
    ['prefix_tuning:prefix_length=4,bottleneck_size=16', { architecture: 'prefix_tuning', prefix_length: 4, bottleneck_size: 16, flat: false, non_linearity: 'tanh' }],
    ['prefix_tuning:flat=true,prefix_length=3', { architecture: 'prefix_tuning', prefix_length: 3, flat: true }],
  ])('train --adapter %s, then eval and predict from the saved folder', async (spec, fields) => {
    const run = `run-${spec.includes('flat') ? 'flat' : 'mlp'}`;
    await ok(['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--adapter', spec, '--max-steps', '3', '--batch-size', '4', '--lr', '0.05', '--max-length', '8', '--out', run]);
    const saved = JSON.parse(readFileSync(path.join(tmp, run, 'adapter', 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown> };
    expect(saved.config).toMatchObject(fields);
    expect((await ok(['eval', '--adapter-dir', `${run}/adapter`, '--data', 'train.tsv'])).out).toMatch(/^accuracy: \d\.\d{4}/);
    expect((await ok(['predict', '--adapter-dir', `${run}/adapter`, '--text', 'very good film'])).out).toMatch(/pos|neg/);
  }, 120_000);
});

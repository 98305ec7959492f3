// The CLI in-process: `--adapter mam` / `--adapter unipelt` trained, evaluated and used through plugin discovery (this package's `plugins`
// lists the union with its presets; prefix_tuning, bottleneck and lora place the components).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';

const POS = ['good', 'great', 'fine', 'nice'];
const NEG = ['bad', 'awful', 'poor', 'sad'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POS, ...NEG, 'film', 'very'];

describe('adapters train with the union presets', () => {
  let tmp: string;
  const ok = async (argv: string[]) => {
    const r = await runCliIn(tmp, argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'unified-cli-'));
    writeTinyModelDir(path.join(tmp, 'tiny-bert'), VOCAB);
    const rows = Array.from({ length: 16 }, (_v, i) => (i % 2 === 0 ? `very ${POS[i % 4]} film\tpos` : `${NEG[i % 4]} film\tneg`));
    writeFileSync(path.join(tmp, 'train.tsv'), `text\tlabel\n${rows.join('\n')}\n`);
    const packages = path.resolve(__dirname, '..', '..');
    linkAdapterPackages(tmp, ['adapter-unified', 'adapter-prefix', 'adapter-bottleneck', 'adapter-lora'].map((p) => path.join(packages, p)));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  // A union's components sit at their own plugins' sites in several modes; its run.json records no placement and
  // loading re-derives each component's from its config. eval by --run and --adapter-dir, and predict, must rebuild
  // exactly the trained model: the same accuracy as train's final eval, to the 4 printed digits.
  test.each(['mam', 'unipelt'])('train --adapter %s, then eval (--run, --adapter-dir) and predict', async (preset) => {
    const out = `run-${preset}`;
    await ok([
      'train', '--model', 'tiny-bert', '--data', 'train.tsv', '--eval', 'train.tsv', '--adapter', preset, '--epochs', '1', '--batch-size', '8', '--max-length', '8', '--lr', '0.01', '--out', out,
    ]);
    const run = JSON.parse(readFileSync(path.join(tmp, out, 'run.json'), 'utf8')) as { adapters: Array<Record<string, unknown>> };
    // No placement recorded: each component's is re-derived from its config.
    expect(run.adapters).toEqual([{ name: 'task', dir: 'adapter' }]);
    const summary = JSON.parse(readFileSync(path.join(tmp, out, 'summary.json'), 'utf8')) as { accuracy: number };
    expect(typeof summary.accuracy).toBe('number');
    const accuracy = summary.accuracy.toFixed(4);
    for (const by of [['--run', out], ['--adapter-dir', out]]) {
      const e = await ok(['eval', ...by, '--data', 'train.tsv']);
      expect(e.out.match(/^accuracy: (\d\.\d{4})/m)?.[1]).toBe(accuracy);
    }
    const p = await ok(['predict', '--run', out, '--text', 'very good film', '--json']);
    const line = JSON.parse(p.out.trim()) as { label: string; probability: number };
    expect(['pos', 'neg']).toContain(line.label);
  }, 240_000);

  // Multi-task: one MAM per task (each the union under the task's name), eval of one task from the run.
  test('train --task a=... --task b=... --adapter mam, then eval --run DIR --task NAME', async () => {
    const r = await ok([
      'train', '--model', 'tiny-bert', '--task', 'a=train.tsv,train.tsv', '--task', 'b=train.tsv,train.tsv', '--adapter', 'mam', '--max-steps', '4', '--batch-size', '8', '--max-length', '8', '--lr', '0.01', '--out', 'run-mt',
    ]);
    const run = JSON.parse(readFileSync(path.join(tmp, 'run-mt', 'run.json'), 'utf8')) as { adapters: Array<Record<string, unknown>> };
    // Unions record no placement, at the top or per task.
    expect(run.adapters).toEqual([{ name: 'a', dir: 'a' }, { name: 'b', dir: 'b' }]);
    for (const t of ['a', 'b']) {
      const printed = r.out.match(new RegExp(`^${t}: accuracy (\\d\\.\\d{4})`, 'm'))?.[1];
      const e = await ok(['eval', '--run', 'run-mt', '--task', t, '--data', 'train.tsv']);
      expect(e.out.match(/^accuracy: (\d\.\d{4})/m)?.[1]).toBe(printed);
    }
  }, 240_000);

  // inspect places the preset through the same discovery.
  test.each(['mam', 'unipelt'])('inspect --adapter %s places the preset found by discovery', async (preset) => {
    const out = (await ok(['inspect', '--model', 'tiny-bert', '--adapter', preset])).out;
    expect(out).toContain(`+ union ${preset} as '${preset}'`);
  }, 120_000);

  test('list shows the union with its presets', async () => {
    expect((await ok(['list'])).out).toMatch(/union: .*\n\s+presets: mam, unipelt/);
  }, 60_000);
});

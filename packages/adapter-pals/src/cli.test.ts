// `adapters pals-train` / `pals-eval` end to end, in-process, on a tiny model folder and tiny TSVs: per-task dev
// metrics, one folder per task that core's `adapters eval` also reads, pals-eval reproducing the training run's
// numbers, and bad input rejected with one clear message.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';

const POS = ['good', 'great', 'fine', 'nice'];
const NEG = ['bad', 'awful', 'poor', 'sad'];
const TOPIC = ['film', 'song', 'book'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POS, ...NEG, ...TOPIC, 'very', 'a'];

describe('adapters pals-train / pals-eval', () => {
  let tmp: string;
  const cli = (argv: string[]) => runCliIn(tmp, argv);
  const ok = async (argv: string[]) => {
    const r = await cli(argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };
  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pals-cli-'));
    writeTinyModelDir(path.join(tmp, 'tiny-bert'), VOCAB);
    const sentiment = Array.from({ length: 12 }, (_v, i) => (i % 2 === 0 ? `very ${POS[i % 4]} film\tpos` : `${NEG[i % 4]} film\tneg`));
    const topic = Array.from({ length: 9 }, (_v, i) => `a ${POS[i % 4]} ${TOPIC[i % 3]}\t${TOPIC[i % 3]}`);
    writeFileSync(path.join(tmp, 'sent.tsv'), `text\tlabel\n${sentiment.join('\n')}\n`);
    writeFileSync(path.join(tmp, 'sent-dev.tsv'), `text\tlabel\n${sentiment.slice(0, 6).join('\n')}\n`);
    writeFileSync(path.join(tmp, 'topic.tsv'), `text\tlabel\n${topic.join('\n')}\n`);
    writeFileSync(path.join(tmp, 'topic-dev.tsv'), `text\tlabel\n${topic.slice(0, 5).join('\n')}\n`);
    linkAdapterPackages(tmp, [path.resolve(__dirname, '..')]);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('trains two tasks, reports per-task dev metrics, and pals-eval / core eval reproduce them', async () => {
    const r = await ok([
      'pals-train', '--model', 'tiny-bert', '--task', 'sent=sent.tsv,sent-dev.tsv', '--task', 'topic=topic.tsv,topic-dev.tsv',
      '--epochs', '2', '--max-steps', '6', '--batch-size', '4', '--lr', '0.01', '--max-length', '8', '--d-s', '8', '--heads', '2', '--out', 'run',
    ]);
    const line = (name: string) => new RegExp(`^${name}: accuracy (\\d\\.\\d{4})  F1 \\d\\.\\d{4}  MCC -?\\d\\.\\d{4}  \\((\\d+) dev examples`, 'm');
    expect(r.out).toMatch(line('sent'));
    expect(r.out).toMatch(line('topic'));
    const run = JSON.parse(readFileSync(path.join(tmp, 'run', 'pals_run.json'), 'utf8')) as {
      steps: number; d_s: number; sampling: string; results: Array<{ name: string; accuracy: number; evalExamples: number; stepsDrawn: number; labels: string[] }>;
      palsParamsPerTask: number; sharedParamsPerTask: number;
    };
    expect({ steps: run.steps, d_s: run.d_s, sampling: run.sampling }).toEqual({ steps: 6, d_s: 8, sampling: 'annealed' });
    expect(run.results.map((t) => [t.name, t.evalExamples, t.labels.length])).toEqual([['sent', 6, 2], ['topic', 5, 3]]);
    expect(run.results.reduce((n, t) => n + t.stepsDrawn, 0)).toBe(6);
    // writeTinyModelDir: hidden 16, 2 layers. Shared V^E + V^D once, q/k/v per layer.
    expect(run.sharedParamsPerTask).toBe(16 * 8 + 8 + 8 * 16 + 16);
    expect(run.palsParamsPerTask).toBe(run.sharedParamsPerTask + 2 * 3 * (8 * 8 + 8));
    for (const t of ['sent', 'topic']) {
      const saved = JSON.parse(readFileSync(path.join(tmp, 'run', t, 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown>; placement: { mode: string; sites: string[] } };
      expect(saved.config).toMatchObject({ architecture: 'pals', d_s: 8, heads: 2 });
      expect(saved.placement).toEqual({ mode: 'parallel', sites: ['layer.0.ffn', 'layer.1.ffn'] });
      expect(existsSync(path.join(tmp, 'run', t, 'head_config.json'))).toBe(true);
    }
    // pals-eval reloads every task from the run folder and gets the training run's numbers exactly.
    const e = await ok(['pals-eval', '--run', 'run']);
    for (const t of run.results) expect(e.out.match(new RegExp(`^${t.name}: accuracy (\\d\\.\\d{4})`, 'm'))?.[1]).toBe(t.accuracy.toFixed(4));
    // Core's eval reads a task folder like any adapter (plugin discovery finds `pals`).
    const core = await ok(['eval', '--adapter-dir', 'run/sent', '--data', 'sent-dev.tsv']);
    expect(core.out.match(/^accuracy: (\d\.\d{4})/m)?.[1]).toBe((run.results[0] as { accuracy: number }).accuracy.toFixed(4));
    // One task on another file.
    const one = await ok(['pals-eval', '--run', 'run', '--task', 'topic=topic.tsv']);
    expect(one.out).toMatch(/^topic: accuracy \d\.\d{4} .*\(9 examples of topic\.tsv/m);
    expect(one.out).not.toMatch(/^sent:/m);
  });

  test('pals-eval refuses a pals_run.json whose task folder leaves the run directory', async () => {
    const dir = path.join(tmp, 'evil');
    mkdirSync(dir, { recursive: true });
    const tasks = [{ name: 'a', dir: '../tiny-bert', labels: ['x', 'y'], columns: { text: 'text', label: 'label' }, eval: null }];
    writeFileSync(path.join(dir, 'pals_run.json'), JSON.stringify({ model: 'tiny-bert', maxLength: 8, tasks }));
    const r = await cli(['pals-eval', '--run', 'evil']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/pals_run\.json: tasks\[0\].*name and dir must be the same plain name/);
  });

  test.each([
    [['pals-train', '--model', 'tiny-bert', '--task', 'sent', '--out', 'x'], /--task sent: expected NAME=TRAIN\[,EVAL\]/],
    [['pals-train', '--model', 'tiny-bert', '--task', 'a=sent.tsv', '--task', 'a=topic.tsv', '--out', 'x'], /--task a is given twice/],
    [['pals-train', '--model', 'tiny-bert', '--task', 'a=sent.tsv', '--sampling', 'greedy', '--out', 'x'], /--sampling must be annealed/],
    [['pals-train', '--model', 'tiny-bert', '--task', 'a=sent.tsv', '--d-s', '10', '--heads', '4', '--out', 'x'], /d_s.*10 is not divisible by heads = 4/],
    [['pals-eval', '--run', 'nowhere'], /no pals_run\.json in .*nowhere/],
  ])('bad input %j → one clear error', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(message);
    expect(existsSync(path.join(tmp, 'x', 'pals_run.json'))).toBe(false);
  });
});

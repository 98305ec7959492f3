// `adapters pals-train` / `pals-eval` end to end, in-process, on a tiny model folder and tiny TSVs: per-task dev
// metrics, one run.json at the top and one per task folder that core's `adapters eval --run` also reads, pals-eval reproducing the training run's
// numbers, and bad input rejected with one clear message.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { failForwardOnce, writeTinyModelDir } from '@adapters/core-graph/testing';
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

  test('a step that runs out of wasm heap: pals-train goes on checkpointed and says so in one line', async () => {
    const undo = failForwardOnce(1);
    let r;
    try {
      r = await ok(['pals-train', '--model', 'tiny-bert', '--task', 'sent=sent.tsv', '--task', 'topic=topic.tsv', '--max-steps', '2', '--batch-size', '4', '--max-length', '8', '--d-s', '8', '--heads', '2', '--out', 'heap']);
    } finally {
      undo();
    }
    expect(r.err.split('\n').filter((l) => l.includes('wasm heap'))).toEqual(['step 1 ran out of wasm heap: it and the rest of the run used gradient checkpointing (one more forward per layer, far less activation memory)']);
  });

  test('--gradient-checkpointing on checkpoints from the first step; off lets the heap error end the run', async () => {
    const undo = failForwardOnce(Infinity);
    const args = ['pals-train', '--model', 'tiny-bert', '--task', 'sent=sent.tsv', '--task', 'topic=topic.tsv', '--max-steps', '2', '--batch-size', '4', '--max-length', '8', '--d-s', '8', '--heads', '2'];
    try {
      const on = await ok([...args, '--gradient-checkpointing', 'on', '--out', 'ckpt-on']);
      expect(on.err).not.toContain('wasm heap');
      const off = await cli([...args, '--gradient-checkpointing', 'off', '--out', 'ckpt-off']);
      expect(off.code).not.toBe(0);
      expect(off.err).toMatch(/wasm heap/);
    } finally {
      undo();
    }
  });

  test('trains two tasks, reports per-task dev metrics, and pals-eval / core eval reproduce them', async () => {
    const r = await ok([
      'pals-train', '--model', 'tiny-bert', '--task', 'sent=sent.tsv,sent-dev.tsv', '--task', 'topic=topic.tsv,topic-dev.tsv',
      '--epochs', '2', '--max-steps', '6', '--batch-size', '4', '--lr', '0.01', '--max-length', '8', '--d-s', '8', '--heads', '2', '--out', 'run',
    ]);
    const line = (name: string) => new RegExp(`^${name}: accuracy (\\d\\.\\d{4})  F1 \\d\\.\\d{4}  MCC -?\\d\\.\\d{4}  \\((\\d+) dev examples`, 'm');
    expect(r.out).toMatch(line('sent'));
    expect(r.out).toMatch(line('topic'));
    // One run.json at the top (every task, PALs' settings and results under extras.pals), one per task folder.
    const manifest = JSON.parse(readFileSync(path.join(tmp, 'run', 'run.json'), 'utf8')) as {
      format: string; adapters: Array<{ name: string; dir: string; placement: unknown }>; heads: Array<{ name: string; dir: string; labels: string[] }>;
      extras: { pals: {
        steps: number; d_s: number; sampling: string; tasks: Array<{ name: string; accuracy: number; evalExamples: number; stepsDrawn: number; labels: string[] }>;
        palsParamsPerTask: number; sharedParamsPerTask: number;
      } };
    };
    const run = manifest.extras.pals;
    expect(manifest.format).toBe('adapters-ts.run/1');
    expect(manifest.adapters.map((a) => [a.name, a.dir])).toEqual([['sent', 'sent'], ['topic', 'topic']]);
    expect(manifest.heads.map((h) => [h.name, h.dir, h.labels.length])).toEqual([['sent', 'sent', 2], ['topic', 'topic', 3]]);
    expect({ steps: run.steps, d_s: run.d_s, sampling: run.sampling }).toEqual({ steps: 6, d_s: 8, sampling: 'annealed' });
    expect(run.tasks.map((t) => [t.name, t.evalExamples, t.labels.length])).toEqual([['sent', 6, 2], ['topic', 5, 3]]);
    expect(run.tasks.reduce((n, t) => n + t.stepsDrawn, 0)).toBe(6);
    for (const old of ['pals_run.json', 'sent/labels.json', 'topic/labels.json']) expect(existsSync(path.join(tmp, 'run', old))).toBe(false);
    // writeTinyModelDir: hidden 16, 2 layers. Shared V^E + V^D once, q/k/v per layer.
    expect(run.sharedParamsPerTask).toBe(16 * 8 + 8 + 8 * 16 + 16);
    expect(run.palsParamsPerTask).toBe(run.sharedParamsPerTask + 2 * 3 * (8 * 8 + 8));
    for (const t of ['sent', 'topic']) {
      const saved = JSON.parse(readFileSync(path.join(tmp, 'run', t, 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown>; placement: { mode: string; sites: string[] } };
      expect(saved.config).toMatchObject({ architecture: 'pals', d_s: 8, heads: 2 });
      expect(saved.placement).toEqual({ mode: 'parallel', sites: ['layer.0.ffn', 'layer.1.ffn'] });
      expect(existsSync(path.join(tmp, 'run', t, 'head_config.json'))).toBe(true);
      const own = JSON.parse(readFileSync(path.join(tmp, 'run', t, 'run.json'), 'utf8')) as { adapters: Array<{ name: string; dir: string; placement: unknown }> };
      expect(own.adapters).toEqual([{ name: t, dir: '.', placement: { mode: 'parallel', sites: ['layer.0.ffn', 'layer.1.ffn'] } }]);
    }
    // pals-eval reloads every task from the run folder and gets the training run's numbers exactly.
    const e = await ok(['pals-eval', '--run', 'run']);
    for (const t of run.tasks) expect(e.out.match(new RegExp(`^${t.name}: accuracy (\\d\\.\\d{4})`, 'm'))?.[1]).toBe(t.accuracy.toFixed(4));
    // Core's eval reads a task folder like any adapter (plugin discovery finds `pals`), by its run.json or its folder.
    for (const [t, i] of [['sent', 0], ['topic', 1]] as const) {
      const byRun = await ok(['eval', '--run', `run/${t}`, '--data', `${t}-dev.tsv`]);
      expect(byRun.out.match(/^accuracy: (\d\.\d{4})/m)?.[1]).toBe((run.tasks[i] as { accuracy: number }).accuracy.toFixed(4));
    }
    const core = await ok(['eval', '--adapter-dir', 'run/sent', '--data', 'sent-dev.tsv']);
    expect(core.out.match(/^accuracy: (\d\.\d{4})/m)?.[1]).toBe((run.tasks[0] as { accuracy: number }).accuracy.toFixed(4));
    // The top-level run holds one model per task: core's eval names the commands that evaluate it.
    const top = await cli(['eval', '--run', 'run', '--data', 'sent-dev.tsv']);
    expect(top.code).not.toBe(0);
    expect(top.err).toMatch(/run\.json: extras\.pals: .*use adapters pals-eval --run run \(every task\), or adapters eval --run run --task TASK/);
    // One task on another file.
    const one = await ok(['pals-eval', '--run', 'run', '--task', 'topic=topic.tsv']);
    expect(one.out).toMatch(/^topic: accuracy \d\.\d{4} .*\(9 examples of topic\.tsv/m);
    expect(one.out).not.toMatch(/^sent:/m);
  });

  test("core's `adapters train --task ... --adapter pals` trains the same PALs as pals-train, and eval --run DIR --task NAME reads either", async () => {
    const common = ['--model', 'tiny-bert', '--task', 'sent=sent.tsv,sent-dev.tsv', '--task', 'topic=topic.tsv,topic-dev.tsv', '--epochs', '2', '--max-steps', '6', '--batch-size', '4', '--lr', '0.01', '--max-length', '8', '--seed', '5'];
    const viaPals = await ok(['pals-train', ...common, '--d-s', '8', '--heads', '2', '--out', 'same-pals']);
    const viaCore = await ok(['train', ...common, '--adapter', 'pals:d_s=8,heads=2', '--out', 'same-core']);
    const accuracies = (text: string) => text.split('\n').filter((l) => /^(sent|topic): accuracy/.test(l)).map((l) => l.split('  (')[0]);
    expect(accuracies(viaCore.out)).toHaveLength(2);
    expect(accuracies(viaCore.out)).toEqual(accuracies(viaPals.out));
    // Same seed, same settings, same trainer: the saved PALs and heads are the same bytes.
    for (const t of ['sent', 'topic']) {
      for (const f of ['adapter.safetensors', 'model_head.safetensors']) {
        const a = path.join(tmp, 'same-pals', t, f);
        expect(readFileSync(path.join(tmp, 'same-core', t, f)).equals(readFileSync(a))).toBe(true);
      }
    }
    for (const run of ['same-pals', 'same-core']) {
      const e = await ok(['eval', '--run', run, '--task', 'topic', '--data', 'topic-dev.tsv']);
      expect(`topic: accuracy ${e.out.match(/^accuracy: (\d\.\d{4})/m)?.[1]}`).toBe(accuracies(viaCore.out)[1]?.split('  F1')[0]);
    }
  });

  test.each([
    ['a task folder leaving the run directory', { adapters: [{ name: 'a', dir: '../tiny-bert' }], tasks: [{ name: 'a', eval: null }] }, /run\.json: adapters\[0\]\.dir.*without '\.\.'/],
    ['a task that is not an adapter of the run', { adapters: [{ name: 'a', dir: 'a' }], tasks: [{ name: 'b', eval: null }] }, /run\.json: extras\.pals\.tasks\[0\].*names task "b"/],
    ['a task in another folder', { adapters: [{ name: 'a', dir: 'x/a' }], tasks: [{ name: 'a', eval: null }] }, /run\.json: extras\.pals\.tasks\[0\]/],
  ])('pals-eval refuses a run.json with %s', async (_what, run, message) => {
    const dir = path.join(tmp, `evil-${run.tasks[0]?.name}-${run.adapters[0]?.dir.length}`);
    mkdirSync(dir, { recursive: true });
    const manifest = { format: 'adapters-ts.run/1', model: 'tiny-bert', adapters: run.adapters, heads: [], maxLength: 8, columns: {}, extras: { pals: { tasks: run.tasks } } };
    writeFileSync(path.join(dir, 'run.json'), JSON.stringify(manifest));
    const r = await cli(['pals-eval', '--run', path.basename(dir)]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(message);
  });

  test.each([
    [['pals-train', '--model', 'tiny-bert', '--task', 'sent', '--out', 'x'], /--task sent: expected NAME=TRAIN\[,EVAL\]/],
    [['pals-train', '--model', 'tiny-bert', '--task', 'a=sent.tsv', '--task', 'a=topic.tsv', '--out', 'x'], /--task a is given twice/],
    [['pals-train', '--model', 'tiny-bert', '--task', 'a=sent.tsv', '--sampling', 'greedy', '--out', 'x'], /--sampling must be annealed/],
    [['pals-train', '--model', 'tiny-bert', '--task', 'a=sent.tsv', '--d-s', '10', '--heads', '4', '--out', 'x'], /d_s.*10 is not divisible by heads = 4/],
    [['pals-eval', '--run', 'nowhere'], /no run\.json in .*nowhere/],
  ])('bad input %j → one clear error', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(message);
    expect(existsSync(path.join(tmp, 'x', 'run.json'))).toBe(false);
  });
});

// `adapters train --task NAME=TRAIN[,EVAL] ...` end to end, in-process, on a tiny BERT folder and a toy adapter
// plugin package: one adapter + head per task trained jointly, a run folder per task, `eval --run DIR --task NAME`
// reproducing the training run's numbers, and bad input rejected with one line and nothing written.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { failForwardOnce, writeTinyModelDir } from '@adapters/core-graph/testing';
import { parseArgs } from './args';
import { option } from './option-specs';
import { main } from './main';
import { parseSampling, parseTaskArgs } from './tasks';

const POS = ['good', 'great', 'fine', 'nice'];
const NEG = ['bad', 'awful', 'poor', 'sad'];
const TOPIC = ['film', 'song', 'book'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POS, ...NEG, ...TOPIC, 'very', 'a'];

/** A plain-JS bottleneck plugin package (the CLI package cannot depend on a real plugin). */
const TOY_PLUGIN_JS = `
const plugin = {
  name: 'toymt', description: 'toy bottleneck for multi-task CLI tests', modes: ['wrap'], defaults: { size: 4 },
  schema: { type: 'object', properties: { size: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build(ctx) {
    const down = ctx.scope.dense('down', ctx.input, ctx.config.size);
    const up = ctx.scope.dense('up', ctx.scope.act('relu', 'act', down), ctx.width, { init: { kind: 'zeros' }, biasInit: { kind: 'zeros' } });
    return { output: ctx.scope.add('residual', up, ctx.input), up };
  },
};
module.exports = { plugins: [plugin] };
`;

describe('adapters train --task (multi-task)', () => {
  let tmp: string;
  const cli = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s), isTTY: false }, cwd: tmp, env: {}, pluginSearchPaths: [tmp] });
    return { code, out: out.join(''), err: err.join('') };
  };
  const ok = async (argv: string[]) => {
    const r = await cli(argv);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
    return r;
  };
  const TRAIN = ['train', '--model', 'tiny-bert', '--adapter', 'toymt:size=3', '--epochs', '2', '--max-steps', '6', '--batch-size', '4', '--lr', '0.01', '--max-length', '8', '--seed', '3'];
  const TASKS = ['--task', 'sent=sent.tsv,sent-dev.tsv', '--task', 'topic=topic.tsv,topic-dev.tsv'];

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'adapters-mt-'));
    writeTinyModelDir(path.join(tmp, 'tiny-bert'), VOCAB);
    const sentiment = Array.from({ length: 12 }, (_v, i) => (i % 2 === 0 ? `very ${POS[i % 4]} film\tpos` : `${NEG[i % 4]} film\tneg`));
    const topic = Array.from({ length: 9 }, (_v, i) => `a ${POS[i % 4]} ${TOPIC[i % 3]}\t${TOPIC[i % 3]}`);
    writeFileSync(path.join(tmp, 'sent.tsv'), `text\tlabel\n${sentiment.join('\n')}\n`);
    writeFileSync(path.join(tmp, 'sent-dev.tsv'), `text\tlabel\n${sentiment.slice(0, 6).join('\n')}\n`);
    writeFileSync(path.join(tmp, 'topic.tsv'), `text\tlabel\n${topic.join('\n')}\n`);
    writeFileSync(path.join(tmp, 'topic-dev.tsv'), `text\tlabel\n${topic.slice(0, 5).join('\n')}\n`);
    writeFileSync(path.join(tmp, 'one-label.tsv'), 'text\tlabel\ngood film\tpos\nnice film\tpos\n');
    const dir = path.join(tmp, 'node_modules', '@adapters', 'adapter-toymt');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: '@adapters/adapter-toymt', version: '0.0.1', main: 'index.js' }));
    writeFileSync(path.join(dir, 'index.js'), TOY_PLUGIN_JS);
    writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'mt-test', private: true, dependencies: { '@adapters/adapter-toymt': '*' } }));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('trains one adapter + head per task, saves a run per task, and eval --run DIR --task NAME reproduces the numbers', async () => {
    const r = await ok([...TRAIN, ...TASKS, '--sampling', 'round-robin', '--out', 'mt']);
    const printed = (name: string) => r.out.match(new RegExp(`^${name}: accuracy (\\d\\.\\d{4})  F1 \\d\\.\\d{4}  MCC -?\\d\\.\\d{4}  \\((\\d+) dev examples; majority \\d\\.\\d{4}; (\\d) of 6 steps\\)`, 'm'));
    // Round-robin over two tasks: 3 steps each.
    expect(printed('sent')?.slice(2)).toEqual(['6', '3']);
    expect(printed('topic')?.slice(2)).toEqual(['5', '3']);

    const manifest = JSON.parse(readFileSync(path.join(tmp, 'mt', 'run.json'), 'utf8')) as {
      adapters: Array<{ name: string; dir: string; placement: { mode: string; sites: string[] } }>; heads: Array<{ name: string; dir: string; labels: string[] }>;
      extras: { multitask: { sampling: string; steps: number; tasks: Array<{ name: string; eval: string }> } };
    };
    expect(manifest.adapters.map((a) => [a.name, a.dir, a.placement.mode, a.placement.sites])).toEqual([['sent', 'sent', 'wrap', ['layer.0.ffn', 'layer.1.ffn']], ['topic', 'topic', 'wrap', ['layer.0.ffn', 'layer.1.ffn']]]);
    expect(manifest.heads.map((h) => [h.name, h.labels])).toEqual([['sent', ['neg', 'pos']], ['topic', ['book', 'film', 'song']]]);
    expect(manifest.extras.multitask).toMatchObject({ sampling: 'round-robin', steps: 6 });
    expect(manifest.extras.multitask.tasks.map((t) => path.basename(t.eval))).toEqual(['sent-dev.tsv', 'topic-dev.tsv']);
    const summary = JSON.parse(readFileSync(path.join(tmp, 'mt', 'summary.json'), 'utf8')) as { adapterParamsPerTask: number; tasks: Array<{ name: string; stepsDrawn: number; accuracy: number }> };
    // writeTinyModelDir: hidden 16, 2 layers; the toy adapter (size 3) per layer: 16·3 + 3 + 3·16 + 16.
    expect(summary.adapterParamsPerTask).toBe(2 * (16 * 3 + 3 + 3 * 16 + 16));
    expect(summary.tasks.map((t) => [t.name, t.stepsDrawn])).toEqual([['sent', 3], ['topic', 3]]);
    for (const t of ['sent', 'topic']) {
      expect(existsSync(path.join(tmp, 'mt', t, 'adapter_config.json'))).toBe(true);
      expect(existsSync(path.join(tmp, 'mt', t, 'head_config.json'))).toBe(true);
    }
    const steps = readFileSync(path.join(tmp, 'mt', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; losses?: Record<string, number> });
    expect(steps.filter((s) => s.type === 'step').map((s) => Object.keys(s.losses ?? {}))).toEqual([['sent'], ['topic'], ['sent'], ['topic'], ['sent'], ['topic']]);

    // eval --run DIR --task NAME loads that task's adapter and head alone and gets the training run's numbers.
    for (const [t, dev] of [['sent', 'sent-dev.tsv'], ['topic', 'topic-dev.tsv']] as const) {
      const e = await ok(['eval', '--run', 'mt', '--task', t, '--data', dev]);
      expect(e.out.match(/^accuracy: (\d\.\d{4})/m)?.[1]).toBe(printed(t)?.[1]);
      expect((summary.tasks.find((x) => x.name === t) as { accuracy: number }).accuracy.toFixed(4)).toBe(printed(t)?.[1]);
    }
    const p = await ok(['predict', '--run', 'mt', '--task', 'topic', '--text', 'a good song']);
    expect(p.out).toMatch(/^(book|film|song)\t\d\.\d{4}\ta good song\n$/);

    // Same seed, same data → same numbers (a second run replaces the first as a whole).
    const again = await ok([...TRAIN, ...TASKS, '--sampling', 'round-robin', '--out', 'mt']);
    expect(again.out.split('\n').filter((l) => /^(sent|topic): /.test(l))).toEqual(r.out.split('\n').filter((l) => /^(sent|topic): /.test(l)));
  });

  test('a step that runs out of wasm heap: the run goes on checkpointed and says so in one line', async () => {
    // Round-robin: one task, so one plain forward pass, per step; the second fails as an out-of-heap allocation would.
    const undo = failForwardOnce(2);
    let r;
    try {
      r = await ok([...TRAIN, ...TASKS, '--sampling', 'round-robin', '--out', 'mt-heap']);
    } finally {
      undo();
    }
    expect(r.err.split('\n').filter((l) => l.includes('wasm heap'))).toEqual(['step 2 ran out of wasm heap: it and the rest of the run used gradient checkpointing (one more forward per layer, far less activation memory)']);
    expect((await ok([...TRAIN, ...TASKS, '--sampling', 'round-robin', '--out', 'mt-quiet'])).err).not.toMatch(/wasm heap/);
  });

  test('eval of a multi-task run needs --task; a wrong --task, or --task without --run, is one clear line', async () => {
    await ok([...TRAIN, ...TASKS, '--out', 'mt2']);
    for (const [argv, message] of [
      [['eval', '--run', 'mt2', '--data', 'sent-dev.tsv'], /is a multi-task run: give --task NAME \(tasks: sent, topic\)/],
      [['eval', '--run', 'mt2', '--task', 'nope', '--data', 'sent-dev.tsv'], /--task nope: .* has no task 'nope' .*\(adapters: sent, topic\)/],
      [['eval', '--run', 'mt2', '--task', 'sent', '--task', 'topic', '--data', 'sent-dev.tsv'], /give --task once/],
      [['eval', '--adapter-dir', 'mt2/sent', '--task', 'sent', '--data', 'sent-dev.tsv'], /--task picks one task of a multi-task run: give it with --run DIR/],
    ] as const) {
      const r = await cli([...argv]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n').filter((l) => !l.startsWith('backend: '))).toHaveLength(1);
    }
  });

  test('bad --task input is refused before anything is written', async () => {
    for (const [argv, message] of [
      [[...TRAIN, '--task', 'sent', '--out', 'bad'], /--task sent: expected NAME=TRAIN\[,EVAL\]/],
      [[...TRAIN, '--task', 'a b=sent.tsv', '--out', 'bad'], /the name 'a b' may use only letters/],
      [[...TRAIN, '--task', 'a=sent.tsv,x.tsv,y.tsv', '--out', 'bad'], /expected NAME=TRAIN\[,EVAL\]/],
      [[...TRAIN, '--task', 'a=sent.tsv', '--task', 'a=topic.tsv', '--out', 'bad'], /--task a is given twice/],
      [[...TRAIN, ...TASKS, '--data', 'sent.tsv', '--out', 'bad'], /--data is for one task/],
      [[...TRAIN, ...TASKS, '--full-finetune', '--out', 'bad'], /--full-finetune is for one task/],
      [[...TRAIN, ...TASKS, '--sampling', 'sometimes', '--out', 'bad'], /--sampling must be annealed, proportional/],
      [[...TRAIN, '--task', 'a=one-label.tsv', '--out', 'bad'], /--task a: .*one-label\.tsv has only one label \('pos'\)/],
      [[...TRAIN, '--task', 'a=missing.tsv', '--out', 'bad'], /missing\.tsv/],
    ] as const) {
      const r = await cli([...argv]);
      expect({ code: r.code, match: message.test(r.err) }).toEqual({ code: 2, match: true });
      expect(existsSync(path.join(tmp, 'bad'))).toBe(false);
    }
  });

  test('parseTaskArgs and parseSampling', () => {
    const args = parseArgs(['--task', 'rte=r/train.tsv,r/dev.tsv', '--task', 'cola=c.tsv'], { name: 'x', summary: '', brief: '', usage: '', options: [option('task')] });
    expect(parseTaskArgs(args, '/data')).toEqual([{ name: 'rte', train: '/data/r/train.tsv', eval: '/data/r/dev.tsv' }, { name: 'cola', train: '/data/c.tsv' }]);
    expect(() => parseTaskArgs(args, '/data', 1)).toThrow(/--task rte=r\/train.tsv,r\/dev.tsv: expected NAME=FILE/);
    expect(parseSampling('annealed')).toBe('annealed');
    expect(parseSampling('round-robin')).toBe('roundRobin');
    expect(parseSampling('temperature=2.5')).toEqual({ temperature: 2.5 });
    for (const bad of ['temperature=0', 'temperature=-1', 'temperature=x', 'roundRobin', '']) expect(() => parseSampling(bad)).toThrow(/--sampling must be/);
  });
});

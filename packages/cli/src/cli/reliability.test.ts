// Issue 18, end to end through the CLI: bounded inputs (max length, data files), strict files (head_config.json,
// labels.json, adapter_config.json, safetensors), divergence, and atomic run directories. Each case failed before.
import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { main } from './main';

const POSITIVE = ['good', 'great', 'fun', 'lovely'];
const NEGATIVE = ['bad', 'awful', 'boring', 'dull'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POSITIVE, ...NEGATIVE, 'the', 'movie', 'was'];

const TOY_PLUGIN_JS = `
const plugin = {
  name: 'toyjs', description: 'toy bottleneck', modes: ['wrap'], presets: ['toy_bn'], defaults: { size: 4 },
  schema: { type: 'object', properties: { config: { type: 'string', enum: ['toy_bn'] }, size: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  resolve(input) { const { config, ...rest } = input; return { size: 4, ...rest }; },
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build(ctx) {
    const down = ctx.scope.dense('down', ctx.input, ctx.config.size);
    const up = ctx.scope.dense('up', ctx.scope.act('relu', 'act', down), ctx.width, { init: { kind: 'zeros' }, biasInit: { kind: 'zeros' } });
    return { output: ctx.scope.add('residual', up, ctx.input), up };
  },
};
module.exports = { plugins: [plugin] };
`;

let tmp: string;

function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s), isTTY: false }, cwd: tmp, env: {}, pluginSearchPaths: [tmp] };
  return main(argv, ctx).then((code) => ({ code, out: out.join(''), err: err.join('') }));
}

/** The error line (the last stderr line starting with `adapters: error:`). */
const errorLine = (err: string): string => err.split('\n').filter((l) => l.startsWith('adapters: error:')).pop() ?? `(none in: ${err.slice(-300)})`;

const TRAIN = ['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--adapter', 'toy_bn', '--max-steps', '2', '--batch-size', '8', '--max-length', '16'];
/** TRAIN on another data file. */
const trainOn = (data: string): string[] => TRAIN.map((a) => (a === 'train.tsv' ? data : a));

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'adapters-reliability-'));
  writeTinyModelDir(path.join(tmp, 'tiny-bert'), VOCAB); // 32 positions
  const rows = ['sentence\tlabel'];
  for (let i = 0; i < 24; i++) rows.push(`the movie was ${i % 2 === 0 ? POSITIVE[i % 4] : NEGATIVE[i % 4]}\t${i % 2 === 0 ? 'pos' : 'neg'}`);
  writeFileSync(path.join(tmp, 'train.tsv'), `${rows.join('\n')}\n`);
  writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'p', private: true, dependencies: { '@adapters/adapter-toyjs': '*' } }));
  const pkg = path.join(tmp, 'node_modules', '@adapters', 'adapter-toyjs');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@adapters/adapter-toyjs', version: '1.0.0', main: 'index.js' }));
  writeFileSync(path.join(pkg, 'index.js'), TOY_PLUGIN_JS);
  const first = await run([...TRAIN, '--out', 'good']);
  expect({ code: first.code, err: first.code === 0 ? '' : first.err }).toEqual({ code: 0, err: '' });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the trained run `good` to corrupt. */
function copyRun(name: string): string {
  const dir = path.join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  const cp = spawnSync('cp', ['-r', path.join(tmp, 'good'), dir]);
  expect(cp.status).toBe(0);
  return dir;
}

describe('bounded inputs', () => {
  test('--max-length beyond max_position_embeddings is refused before any work, in train, eval and predict (item 3)', async () => {
    const r = await run([...TRAIN, '--max-length', '40', '--out', 'too-long']);
    expect(r.code).toBe(2);
    expect(errorLine(r.err)).toMatch(/--max-length 40 is longer than the model's 32 positions \(max_position_embeddings in .*config\.json\)/);
    expect(existsSync(path.join(tmp, 'too-long'))).toBe(false);
    expect((await run(['eval', '--adapter-dir', 'good', '--data', 'train.tsv', '--max-length', '40'])).code).toBe(2);
    const p = await run(['predict', '--adapter-dir', 'good', '--text', 'good', '--max-length', '40']);
    expect(p.code).toBe(2);
    expect(p.out).toBe('');
  });

  test('a binary data file gives one short line naming the file and line, with control bytes escaped (item 9)', async () => {
    const bytes = Buffer.alloc(200_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
    writeFileSync(path.join(tmp, 'binary.tsv'), bytes);
    const r = await run([...trainOn('binary.tsv'), '--out', 'bin']);
    expect(r.code).toBe(1);
    const line = errorLine(r.err);
    expect(line).toMatch(/binary\.tsv:1: holds a NUL byte \(at byte 0\): this looks like a binary file/);
    expect(line.length).toBeLessThan(600);
    expect(r.err).not.toContain('\u0000');
    expect(r.err).not.toContain('--verbose');
    // Wide non-binary garbage: the column list in the message is capped.
    writeFileSync(path.join(tmp, 'wide.tsv'), `${Array.from({ length: 5000 }, (_v, i) => `c${i}`.repeat(50)).join('\t')}\n`);
    const w = await run([...trainOn('wide.tsv'), '--out', 'wide']);
    expect(w.code).toBe(2);
    expect(errorLine(w.err)).toMatch(/wide\.tsv: cannot tell which column holds the text \(columns: 'c0c0c0.*\.\.\./);
    expect(errorLine(w.err).length).toBeLessThan(600);
  });

  test('a header-only file says it has no examples (item 11; before: "only one label (\'undefined\')")', async () => {
    writeFileSync(path.join(tmp, 'header.tsv'), 'sentence\tlabel\n');
    const r = await run([...trainOn('header.tsv'), '--out', 'hdr']);
    expect(r.code).toBe(1);
    expect(errorLine(r.err)).toMatch(/header\.tsv: has no examples \(a header row only\?\)$/);
  });

  test('--name constructor is refused as reserved (item 6)', async () => {
    const r = await run([...TRAIN, '--name', 'constructor', '--out', 'ctor']);
    expect(r.code).toBe(2);
    expect(errorLine(r.err)).toMatch(/'constructor' is reserved/);
  });
});

describe('strict files', () => {
  test('head_config.json: pooling "max" and type "bogus" are refused naming the field (item 5)', async () => {
    for (const [edit, field] of [[{ pooling: 'max' }, 'config.pooling'], [{ type: 'bogus' }, 'config.type'], [{ numLabels: 2.5 }, 'config.numLabels'], [{ toString: 1 }, 'config.toString']] as const) {
      const dir = copyRun('head');
      const file = path.join(dir, 'adapter', 'head_config.json');
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> };
      writeFileSync(file, JSON.stringify({ ...saved, config: { ...saved.config, ...edit } }));
      const r = await run(['eval', '--adapter-dir', 'head', '--data', 'train.tsv']);
      expect({ field, code: r.code }).toEqual({ field, code: 1 });
      expect(errorLine(r.err)).toContain(`head_config.json: ${field}: `);
      expect(r.err).not.toContain('--verbose');
    }
  });

  test('run.json with three labels for a 2-way head is refused (item 11; before: labels silently became 0, 1)', async () => {
    const dir = copyRun('labels');
    const f = path.join(dir, 'run.json');
    const saved = JSON.parse(readFileSync(f, 'utf8')) as { heads: Array<Record<string, unknown>> };
    writeFileSync(f, JSON.stringify({ ...saved, heads: [{ ...saved.heads[0], labels: ['neg', 'pos', 'meh'] }] }));
    const r = await run(['predict', '--adapter-dir', 'labels', '--text', 'good']);
    expect(r.code).toBe(1);
    expect(errorLine(r.err)).toMatch(/run\.json: labels: lists 3 labels but the head 'task' has 2 outputs/);
    const byRun = await run(['predict', '--run', 'labels', '--text', 'good']);
    expect(byRun.code).toBe(1);
    expect(errorLine(byRun.err)).toMatch(/run\.json: heads\[0\]\.labels: lists 3 labels but the head 'task' has 2 outputs/);
  });

  test('adapter_config.json hidden_size / model_type must match the base (item 11)', async () => {
    for (const [field, value] of [['hidden_size', 768], ['model_type', 'roberta']] as const) {
      const dir = copyRun('base');
      const file = path.join(dir, 'adapter', 'adapter_config.json');
      writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), [field]: value }));
      const r = await run(['eval', '--adapter-dir', 'base', '--data', 'train.tsv']);
      expect(r.code).toBe(1);
      expect(errorLine(r.err)).toContain(`adapter_config.json: ${field}: the adapter was trained on`);
    }
  });

  test('adapter.safetensors with a header length off by one, or NaN weights, no longer predicts NaN with exit 0 (items 4, 10)', async () => {
    const dir = copyRun('st');
    const file = path.join(dir, 'adapter', 'adapter.safetensors');
    const bytes = readFileSync(file);
    const shifted = Buffer.from(bytes);
    shifted.writeBigUInt64LE(bytes.readBigUInt64LE(0) - 1n, 0);
    writeFileSync(file, shifted);
    const r = await run(['predict', '--adapter-dir', 'st', '--text', 'good']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(errorLine(r.err)).toMatch(/adapter\.safetensors: .*trailing bytes/);
    // NaN in the first float of the data: a valid file holding a non-finite weight.
    const nan = Buffer.from(bytes);
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    nan.writeFloatLE(Number.NaN, dataStart);
    writeFileSync(file, nan);
    const n = await run(['predict', '--adapter-dir', 'st', '--text', 'good']);
    expect(n.code).toBe(1);
    expect(n.out).toBe('');
    expect(errorLine(n.err)).toMatch(/holds NaN at index 0; non-finite weights are refused/);
  });
});

describe('divergence and atomic runs', () => {
  test('lr 1000 stops with "training diverged" and leaves the previous run untouched (items 1, 10)', async () => {
    copyRun('diverge');
    const before = readFileSync(path.join(tmp, 'diverge', 'summary.json'), 'utf8');
    const r = await run([...TRAIN, '--max-steps', '30', '--lr', '1000', '--out', 'diverge']);
    expect(r.code).toBe(1);
    expect(errorLine(r.err)).toMatch(/^adapters: error: training diverged at step \d+: .*; lower the learning rate \(--lr\)$/);
    expect(readFileSync(path.join(tmp, 'diverge', 'summary.json'), 'utf8')).toBe(before);
    expect(readdirSync(tmp).filter((f) => f.startsWith('.diverge.'))).toEqual([]);
  });

  test('a rerun removes stale staging directories and temp files of dead processes, and refuses a non-run directory', async () => {
    copyRun('rerun');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    mkdirSync(path.join(tmp, `.rerun.staging-${dead}-abcd1234`));
    writeFileSync(path.join(tmp, 'rerun', 'adapter', `.adapter.safetensors.${dead}.0a1b2c.tmp`), 'partial');
    const r = await run([...TRAIN, '--out', 'rerun']);
    expect(r.code).toBe(0);
    expect(readdirSync(tmp).filter((f) => f.startsWith('.rerun.'))).toEqual([]);
    expect(readdirSync(path.join(tmp, 'rerun', 'adapter')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    mkdirSync(path.join(tmp, 'mine'));
    writeFileSync(path.join(tmp, 'mine', 'thesis.tex'), 'precious');
    const m = await run([...TRAIN, '--out', 'mine']);
    expect(m.code).toBe(1);
    expect(errorLine(m.err)).toMatch(/mine is not empty and holds no earlier run/);
    expect(readFileSync(path.join(tmp, 'mine', 'thesis.tex'), 'utf8')).toBe('precious');
  });
});

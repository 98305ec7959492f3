// Issue 18 item 1: kill-during-save. A child node process replaces run A by run B with the production writers
// (stageRunDir, writeFileAtomic) and is SIGKILLed by a test-only `--require` preload at its Nth rename or rm, for
// every N. Afterwards the directory must read as exactly run A or exactly run B (every file byte for byte), must
// evaluate through the CLI as one of them, and the next save must clean every leftover.
import { spawn } from 'child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from './main';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { readableRunPath, stageRunDir } from '@adapters/core-graph';

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const SRC = path.join(REPO, 'packages', 'core-graph', 'src');

/** Test-only fault injection: counts fs renames and rms; SIGKILLs itself right before mutation number KILL_AT. */
const PRELOAD = `
const fs = require('fs');
const killAt = Number(process.env.KILL_AT || 0);
const killMatch = process.env.KILL_AT_MATCH ? new RegExp(process.env.KILL_AT_MATCH) : undefined;
let count = 0;
function tick(args) {
  count += 1;
  if (count === killAt || (killMatch && killMatch.test(String(args[0])))) process.kill(process.pid, 'SIGKILL');
}
for (const name of ['rename', 'rm']) {
  const p = fs.promises[name];
  fs.promises[name] = function (...args) { tick(args); return p.apply(this, args); };
  const s = fs[name + 'Sync'];
  fs[name + 'Sync'] = function (...args) { tick(args); return s.apply(this, args); };
}
process.on('exit', () => { if (process.env.COUNT_FILE) fs.writeFileSync(process.env.COUNT_FILE, String(count)); });
`;

/** Writes run `from` over `target` exactly as a run is saved: every file through writeFileAtomic into staging, then the swap. */
const CHILD = `
require(${JSON.stringify(path.join(REPO, 'scripts', 'register-source.js'))});
const fs = require('fs');
const path = require('path');
const { stageRunDir } = require(${JSON.stringify(path.join(SRC, 'io', 'run-dir.ts'))});
const { writeFileAtomic } = require(${JSON.stringify(path.join(SRC, 'io', 'atomic-write.ts'))});
const [from, target] = process.argv.slice(2);
function files(dir, rel = '') {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => e.isDirectory() ? files(dir, path.join(rel, e.name)) : [path.join(rel, e.name)]);
}
(async () => {
  const staged = await stageRunDir(target);
  for (const f of files(from).sort()) {
    fs.mkdirSync(path.dirname(path.join(staged.dir, f)), { recursive: true });
    await writeFileAtomic(path.join(staged.dir, f), fs.readFileSync(path.join(from, f)));
  }
  await staged.commit();
})().catch((e) => { console.error(e); process.exit(3); });
`;

/** Every file of a directory tree, relative path → bytes (as base64, for exact comparison). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else out[p] = readFileSync(path.join(dir, p)).toString('base64');
    }
  };
  walk('');
  return out;
}

function child(from: string, target: string, env: Record<string, string>, argv = [path.join(tmp, 'child.js'), from, target]): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--require', path.join(tmp, 'kill-at-rename.js'), ...argv], { cwd: tmp, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code, signal) => resolve({ code, signal, err }));
  });
}

let tmp: string;

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s), isTTY: false }, cwd: tmp, env: {}, pluginSearchPaths: [tmp] };
  const code = await main(argv, ctx);
  return { code, out: out.join(''), err: err.join('') };
}

const TOY = `module.exports = { plugins: [{
  name: 'toyjs', description: 'toy', modes: ['wrap'], presets: ['toy_bn'], defaults: { size: 4 },
  schema: { type: 'object', properties: { config: { type: 'string', enum: ['toy_bn'] }, size: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  resolve(input) { const { config, ...rest } = input; return { size: 4, ...rest }; },
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build(ctx) {
    const down = ctx.scope.dense('down', ctx.input, ctx.config.size);
    const up = ctx.scope.dense('up', ctx.scope.act('relu', 'act', down), ctx.width);
    return { output: ctx.scope.add('residual', up, ctx.input), up };
  },
}] };`;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'adapters-kill-'));
  writeFileSync(path.join(tmp, 'kill-at-rename.js'), PRELOAD);
  writeFileSync(path.join(tmp, 'child.js'), CHILD);
  writeTinyModelDir(path.join(tmp, 'tiny'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'good', 'bad', 'the', 'film']);
  writeFileSync(path.join(tmp, 'data.tsv'), ['sentence\tlabel', ...Array.from({ length: 16 }, (_v, i) => `the film ${i % 2 ? 'good' : 'bad'}\t${i % 2 ? 'pos' : 'neg'}`)].join('\n'));
  writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ name: 'k', private: true, dependencies: { '@adapters/adapter-toyjs': '*' } }));
  const pkg = path.join(tmp, 'node_modules', '@adapters', 'adapter-toyjs');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@adapters/adapter-toyjs', main: 'index.js' }));
  writeFileSync(path.join(pkg, 'index.js'), TOY);
  // Two real runs with different seeds and lengths: A (old) and B (new).
  for (const [name, seed, steps] of [['A', '1', '2'], ['B', '2', '3']] as const) {
    const r = await cli(['train', '--model', 'tiny', '--data', 'data.tsv', '--eval', 'data.tsv', '--adapter', 'toy_bn', '--seed', seed, '--max-steps', steps, '--batch-size', '8', '--lr', '0.05', '--max-length', '8', '--out', name]);
    expect({ code: r.code, err: r.code === 0 ? '' : r.err }).toEqual({ code: 0, err: '' });
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('SIGKILL at every rename/rm of a save leaves exactly the old run or exactly the new run, and the next save cleans up', async () => {
  const A = snapshot(path.join(tmp, 'A'));
  const B = snapshot(path.join(tmp, 'B'));
  expect(A).not.toEqual(B);
  expect(Object.keys(A).sort()).toEqual(Object.keys(B).sort());
  const accuracyOf = async (dir: string) => (await cli(['eval', '--adapter-dir', dir, '--data', 'data.tsv'])).out;
  const evalA = await accuracyOf('A');
  const evalB = await accuracyOf('B');

  // How many renames/rms a complete save makes.
  const target = path.join(tmp, 'target');
  cpSync(path.join(tmp, 'A'), target, { recursive: true });
  const countFile = path.join(tmp, 'count');
  const full = await child(path.join(tmp, 'B'), target, { COUNT_FILE: countFile });
  expect({ code: full.code, err: full.err }).toEqual({ code: 0, err: '' });
  expect(snapshot(target)).toEqual(B);
  const mutations = Number(readFileSync(countFile, 'utf8'));
  expect(mutations).toBeGreaterThanOrEqual(Object.keys(B).length + 2); // one rename per file, then the swap

  const outcomes: string[] = [];
  for (let n = 1; n <= mutations; n++) {
    rmSync(target, { recursive: true, force: true });
    for (const f of readdirSync(tmp)) if (f.startsWith('.target.')) rmSync(path.join(tmp, f), { recursive: true, force: true });
    cpSync(path.join(tmp, 'A'), target, { recursive: true });
    const r = await child(path.join(tmp, 'B'), target, { KILL_AT: String(n) });
    expect({ n, signal: r.signal }).toEqual({ n, signal: 'SIGKILL' });
    // Readers: exactly A or exactly B, and the CLI evaluates it as one of them.
    const seen = snapshot(readableRunPath(target));
    const which = JSON.stringify(seen) === JSON.stringify(A) ? 'old' : JSON.stringify(seen) === JSON.stringify(B) ? 'new' : 'mix';
    expect({ n, which }).not.toEqual({ n, which: 'mix' });
    expect({ n, eval: await accuracyOf('target') }).toEqual({ n, eval: which === 'old' ? evalA : evalB });
    // The next save recovers: the target is back in place and no staging, backup or temp file is left.
    await (await stageRunDir(target)).abandon();
    expect({ n, recovered: JSON.stringify(snapshot(target)) === JSON.stringify(which === 'old' ? A : B) }).toEqual({ n, recovered: true });
    expect({ n, leftovers: readdirSync(tmp).filter((f) => f.startsWith('.target.')) }).toEqual({ n, leftovers: [] });
    outcomes.push(`${n}:${which}`);
  }
  console.log(`kill-during-save: ${mutations} kill points (renames + rms of a complete save); outcomes ${outcomes.join(' ')}`);
  // Before the swap every kill leaves the old run; from the swap on, the new one.
  expect(outcomes.filter((o) => o.endsWith('old')).length).toBeGreaterThan(Object.keys(B).length - 1);
  expect(outcomes.some((o) => o.endsWith('new'))).toBe(true);
  expect(existsSync(target) && statSync(target).isDirectory()).toBe(true);
});

test('the real CLI killed between the two renames of its swap: eval reads the old run, the next train restores and replaces it', async () => {
  const target = path.join(tmp, 'cli-run');
  rmSync(target, { recursive: true, force: true });
  cpSync(path.join(tmp, 'A'), target, { recursive: true });
  const A = snapshot(target);
  const evalA = (await cli(['eval', '--adapter-dir', 'A', '--data', 'data.tsv'])).out;
  const train = ['train', '--model', 'tiny', '--data', 'data.tsv', '--eval', 'data.tsv', '--adapter', 'toy_bn', '--seed', '2', '--max-steps', '3', '--batch-size', '8', '--lr', '0.05', '--max-length', '8', '--out', 'cli-run'];
  // Kill right before staging → target, i.e. after target → .cli-run.previous: the only moment no target exists.
  const r = await child('', '', { KILL_AT_MATCH: '\\.cli-run\\.staging-\\d+-[0-9a-f]+$' }, [path.join(REPO, 'packages', 'cli', 'bin', 'adapters.js'), ...train]);
  expect({ signal: r.signal, err: r.signal === 'SIGKILL' ? '' : r.err }).toEqual({ signal: 'SIGKILL', err: '' });
  expect(existsSync(target)).toBe(false);
  expect(snapshot(readableRunPath(target))).toEqual(A);
  expect((await cli(['eval', '--adapter-dir', 'cli-run', '--data', 'data.tsv'])).out).toBe(evalA);
  const again = await cli(train);
  expect({ code: again.code, err: again.code === 0 ? '' : again.err }).toEqual({ code: 0, err: '' });
  expect(snapshot(target)['summary.json']).toBeDefined();
  expect(readdirSync(tmp).filter((f) => f.startsWith('.cli-run.'))).toEqual([]);
}, 300_000);

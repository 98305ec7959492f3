// Resume after a real kill: a child `adapters nmt-train` is SIGKILLed while writing its second mid-stage checkpoint
// (a test-only preload kills the process at that rename). The first checkpoint must survive intact, the run directory
// must not exist, and rerunning the same command must resume at that step and save a model identical, byte for byte,
// to an uninterrupted run's (cpu backend in both processes, so the arithmetic is the same).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readSafetensorsFile } from '@adapters/core-graph';
import { linkAdapterPackages, runCliIn } from '@adapters/cli/testing';
import { checkpointFile } from './checkpoint';

const REPO = path.resolve(__dirname, '..', '..', '..');
const EN = ['the house', 'a dog', 'the big dog', 'a small house', 'the cat', 'a big cat'];
const FR = ['la maison', 'un chien', 'le grand chien', 'une petite maison', 'le chat', 'un grand chat'];
const tsv = (a: string[], b: string[]) => `${a.map((x, i) => `${x}\t${b[i]}`).join('\n')}\n`;
const ARGS = ['nmt-train', '--recipe', 'base', '--pair', 'en-fr=en-fr.tsv', '--pair', 'fr-en=fr-en.tsv', '--d-model', '16', '--layers', '1', '--heads', '2', '--ffn', '32',
  '--max-length', '16', '--vocab-size', '60', '--batch-size', '4', '--steps', '8', '--checkpoint-every', '2', '--backend', 'cpu'];

/** Kills the process right before its KILL_AT-th rename onto a checkpoint file (the atomic commit of that checkpoint). */
const PRELOAD = `
const fs = require('fs');
const killAt = Number(process.env.KILL_AT);
let n = 0;
const rename = fs.renameSync;
fs.renameSync = function (from, to) {
  if (String(to).endsWith('.checkpoint.safetensors') && ++n === killAt) process.kill(process.pid, 'SIGKILL');
  return rename.apply(this, arguments);
};
`;
const CHILD = `
require(${JSON.stringify(path.join(REPO, 'scripts', 'register-source.js'))});
const { runCliIn } = require('@adapters/cli/testing');
runCliIn(process.cwd(), process.argv.slice(2)).then((r) => { process.stderr.write(r.err); process.exit(r.code); });
`;

describe('nmt-train killed mid-stage', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'nmt-kill-'));
    writeFileSync(path.join(tmp, 'en-fr.tsv'), tsv(EN, FR));
    writeFileSync(path.join(tmp, 'fr-en.tsv'), tsv(FR, EN));
    writeFileSync(path.join(tmp, 'kill.js'), PRELOAD);
    writeFileSync(path.join(tmp, 'child.js'), CHILD);
    linkAdapterPackages(tmp, [path.resolve(__dirname, '..')]);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('resumes from the last checkpoint and ends exactly where an uninterrupted run ends', async () => {
    const whole = await runCliIn(tmp, [...ARGS, '--out', 'whole']);
    expect({ code: whole.code, err: whole.code === 0 ? '' : whole.err }).toEqual({ code: 0, err: '' });
    expect(existsSync(checkpointFile(path.join(tmp, 'whole')))).toBe(false);

    const killed = await new Promise<{ signal: NodeJS.Signals | null; err: string }>((resolve) => {
      const p = spawn(process.execPath, ['--require', path.join(tmp, 'kill.js'), path.join(tmp, 'child.js'), ...ARGS, '--out', 'resumed'], {
        cwd: tmp, env: { ...process.env, KILL_AT: '2' }, stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (_code, signal) => resolve({ signal, err }));
    });
    expect({ signal: killed.signal, err: killed.signal === 'SIGKILL' ? '' : killed.err }).toEqual({ signal: 'SIGKILL', err: '' });
    const ckpt = checkpointFile(path.join(tmp, 'resumed'));
    expect(existsSync(path.join(tmp, 'resumed'))).toBe(false);
    expect((await readSafetensorsFile(ckpt)).metadata['step']).toBe('2');
    copyFileSync(ckpt, checkpointFile(path.join(tmp, 'other')));

    const resumed = await runCliIn(tmp, [...ARGS, '--out', 'resumed']);
    expect({ code: resumed.code, err: resumed.code === 0 ? '' : resumed.err }).toEqual({ code: 0, err: '' });
    expect(resumed.err).toMatch(/resuming from .*resumed\.checkpoint\.safetensors at step 2\/8/);
    const file = (run: string, f: string) => readFileSync(path.join(tmp, run, ...f.split('/')));
    expect(file('resumed', 'model/model.safetensors').equals(file('whole', 'model/model.safetensors'))).toBe(true);
    expect(file('resumed', 'model/tokenizer.bpe.json').equals(file('whole', 'model/tokenizer.bpe.json'))).toBe(true);
    const losses = (run: string) => file(run, 'metrics.jsonl').toString().trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
    expect(losses('resumed')).toEqual(losses('whole'));
    expect(JSON.parse(file('resumed', 'run.json').toString()).extras.nmt.resumedAtStep).toBe(2);
    // The finished run removes its checkpoint and the temp file the kill left behind.
    expect(readdirSync(tmp).filter((f) => f.includes('resumed.checkpoint'))).toEqual([]);
  }, 240_000);

  test('refuses a checkpoint written with other options, naming the option, and writes nothing', async () => {
    // The killed child's checkpoint (copied by the test above), offered to a run with another learning rate.
    expect(existsSync(checkpointFile(path.join(tmp, 'other')))).toBe(true);
    const r = await runCliIn(tmp, [...ARGS, '--lr', '0.01', '--out', 'other']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/other\.checkpoint\.safetensors: settings\.lr: was 0\.0005 but this run has 0\.01/);
    expect(existsSync(path.join(tmp, 'other'))).toBe(false);
  });
});

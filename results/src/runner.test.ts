import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import type { Experiment } from './experiments';
import { CORE_BUDGET, experiments } from './experiments';
import { fakeResult, fixtureRecord } from './fixtures';
import { isDone, readRecord, recordFile, writeRecord } from './records';
import type { Execute, RunnerPaths } from './runner';
import { claim, runAll } from './runner';

function setup(): RunnerPaths {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'results-runner-'));
  return { root, runsDir: path.join(root, 'results', 'runs'), datasets: path.join(root, 'none') };
}
const quiet = (): void => undefined;
const pick = (...names: string[]): Experiment[] => experiments().filter((e) => names.includes(e.name));

describe('records', () => {
  test('a half-written or foreign record does not count', () => {
    const { runsDir } = setup();
    const e = pick('sst2-lora-s1')[0] as Experiment;
    fs.mkdirSync(runsDir, { recursive: true });
    fs.writeFileSync(recordFile(runsDir, e.name), '{"name": "sst2-lora-s1", "complete": tr');
    expect(isDone(runsDir, e)).toBe(false);
    const { complete: _c, ...noFlag } = fixtureRecord({ name: e.name });
    fs.writeFileSync(recordFile(runsDir, e.name), JSON.stringify(noFlag));
    expect(isDone(runsDir, e)).toBe(false);
    writeRecord(runsDir, fixtureRecord({ name: e.name, budget: { ...CORE_BUDGET, epochs: 9 } }));
    expect(isDone(runsDir, e)).toBe(false);
    writeRecord(runsDir, fixtureRecord({ name: e.name }));
    expect(isDone(runsDir, e)).toBe(true);
    expect(fs.readdirSync(runsDir)).toEqual(['sst2-lora-s1.json']); // no temp file left behind
    expect(readRecord(path.join(runsDir, 'absent.json'))).toBeUndefined();
  });
});

describe('runAll', () => {
  test('resume: finished runs are skipped, a half-written one is redone', async () => {
    const paths = setup();
    const list = pick('sst2-lora-s1', 'rte-lora-s1', 'cola-lora-s1');
    writeRecord(paths.runsDir, fixtureRecord({ name: 'sst2-lora-s1' }));
    fs.writeFileSync(recordFile(paths.runsDir, 'rte-lora-s1'), '{"name":"rte-lora-s1"'); // killed mid-write
    const calls: string[] = [];
    const execute: Execute = async (e) => (calls.push(e.name), fakeResult(e, { accuracy: 0.75 }));
    const s = await runAll(list, paths, execute, quiet);
    expect(calls).toEqual(['rte-lora-s1', 'cola-lora-s1']);
    expect(s.skipped).toEqual(['sst2-lora-s1']);
    expect(readRecord(recordFile(paths.runsDir, 'rte-lora-s1'))?.metrics.accuracy).toBe(0.75);
    const again = await runAll(list, paths, execute, quiet);
    expect(again.ran).toEqual([]);
    expect(calls).toHaveLength(2);
  });

  test('a fusion waits for its adapters; a failed run is left undone and reported', async () => {
    const paths = setup();
    const fusion = pick('rte-fusion-s1');
    const needs = fusion[0]?.kind === 'fusion' ? fusion[0].needs : [];
    const list = [...fusion, ...pick(...needs)]; // the fusion first: it must wait for a later pass
    const order: string[] = [];
    const execute: Execute = async (e) => {
      if (e.name === 'cola-pfeiffer-s1' && !order.includes('failed-once')) {
        order.push('failed-once');
        throw new Error('boom');
      }
      order.push(e.name);
      return fakeResult(e);
    };
    const s = await runAll(list, paths, execute, quiet);
    expect(s.failed).toEqual(['cola-pfeiffer-s1']);
    expect(s.blocked).toEqual(['rte-fusion-s1']);
    expect(order).not.toContain('rte-fusion-s1');
    const s2 = await runAll(list, paths, execute, quiet);
    expect(s2.ran).toEqual(['cola-pfeiffer-s1', 'rte-fusion-s1']);
  });

  test('a run claimed by a live process is left to it; a dead owner\'s lock is taken over', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'results-locks-'));
    fs.writeFileSync(path.join(dir, 'a.lock'), String(process.ppid)); // alive
    expect(claim(dir, 'a')).toBe(false);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    fs.writeFileSync(path.join(dir, 'b.lock'), dead);
    expect(claim(dir, 'b')).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'b.lock'), 'utf8')).toBe(String(process.pid));
    expect(claim(dir, 'b')).toBe(false); // now ours: claimed once
  });
});

// The per-machine fetch lock: concurrent callers fetch once; a lock left by a killed process is broken.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fetchOncePerMachine, withFileLock } from './machine-lock';

let tmp: string;
beforeEach(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'fleet-lock-'))));
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

test('six concurrent workers wanting one model: one fetch, everyone finds it ready, the lock is released', async () => {
  const model = path.join(tmp, 'model.bin');
  let fetches = 0;
  const ready = async () => existsSync(model);
  const fetch = async () => {
    fetches++;
    await new Promise((r) => setTimeout(r, 100)); // a download takes a while
    writeFileSync(model, 'weights');
  };
  const lock = path.join(tmp, 'locks', 'model.lock');
  const states = await Promise.all(Array.from({ length: 6 }, () => fetchOncePerMachine(lock, ready, fetch, { pollMs: 10 })));
  expect(fetches).toBe(1);
  expect(states.filter((s) => s === 'fetched')).toHaveLength(1);
  expect(existsSync(lock)).toBe(false);
  expect(await fetchOncePerMachine(lock, ready, fetch)).toBe('cached');
  expect(fetches).toBe(1);
});

test('a lock whose owner process is dead is broken; a live owner is waited for', async () => {
  const lock = path.join(tmp, 'x.lock');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  writeFileSync(lock, JSON.stringify({ pid: Number(dead), host: os.hostname(), token: 'dead' }));
  expect(await withFileLock(lock, async () => readFileSync(lock, 'utf8'), { pollMs: 10 })).toMatch(new RegExp(`"pid":${process.pid}`));

  writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), token: 'alive' }));
  await expect(withFileLock(lock, async () => 'got it', { pollMs: 10, timeoutMs: 200 })).rejects.toThrow(/timed out waiting for the lock/);
  expect(readFileSync(lock, 'utf8')).toMatch(/alive/); // not ours: left alone
});

test('the lock is released when the work throws', async () => {
  const lock = path.join(tmp, 'y.lock');
  await expect(withFileLock(lock, async () => Promise.reject(new Error('download failed')))).rejects.toThrow('download failed');
  expect(existsSync(lock)).toBe(false);
});

// A lock file shared by the processes of one machine, so that N workers (and their training children) fetch the
// base model once, not N times. The lock is a file created with O_EXCL holding the owner's pid and host; a lock whose
// owner process is gone (SIGKILL) or that is older than `staleMs` is broken.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface FileLockOptions {
  /** A lock older than this is taken to be abandoned (default 30 minutes: longer than any model download). */
  readonly staleMs?: number;
  /** How often a waiter looks again (default 200 ms). */
  readonly pollMs?: number;
  /** Give up waiting after this long (default 60 minutes). */
  readonly timeoutMs?: number;
}

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isStale(lockFile: string, staleMs: number): Promise<boolean> {
  let text: string;
  let mtime: number;
  try {
    [text, mtime] = await Promise.all([fs.readFile(lockFile, 'utf8'), fs.stat(lockFile).then((s) => s.mtimeMs)]);
  } catch {
    return false; // released meanwhile: just try again
  }
  if (Date.now() - mtime > staleMs) return true;
  try {
    const owner = JSON.parse(text) as Owner;
    return owner.host === os.hostname() && !alive(owner.pid);
  } catch {
    return Date.now() - mtime > 5000; // half-written by a process killed between open and write
  }
}

/** Runs `fn` while holding `lockFile` (created with its directory); waits for other holders. */
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const staleMs = options.staleMs ?? 30 * 60_000;
  const pollMs = options.pollMs ?? 200;
  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60_000);
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  const owner: Owner = { pid: process.pid, host: os.hostname(), token: `${process.pid}-${Date.now()}-${Math.random()}` };
  for (;;) {
    try {
      const handle = await fs.open(lockFile, 'wx');
      try {
        await handle.writeFile(JSON.stringify(owner));
      } finally {
        await handle.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (await isStale(lockFile, staleMs)) {
      // Move it aside first: of several processes breaking the same stale lock, only one rename succeeds.
      const aside = `${lockFile}.stale-${owner.token}`;
      await fs.rename(lockFile, aside).then(() => fs.rm(aside, { force: true }), () => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lockFile} (held by another process; delete it if no process is using it)`);
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    const text = await fs.readFile(lockFile, 'utf8').catch(() => '');
    if (text.includes(owner.token)) await fs.rm(lockFile, { force: true });
  }
}

/**
 * Runs `fetch` unless `ready()` says the thing is there, at most once at a time on this machine: the second caller
 * waits for the first and then finds it ready.
 */
export async function fetchOncePerMachine(lockFile: string, ready: () => Promise<boolean>, fetch: () => Promise<void>, options: FileLockOptions = {}): Promise<'cached' | 'fetched'> {
  if (await ready()) return 'cached';
  return withFileLock(
    lockFile,
    async () => {
      if (await ready()) return 'cached';
      await fetch();
      return 'fetched';
    },
    options,
  );
}

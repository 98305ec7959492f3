// Atomic output directories: a run (adapter files, head, labels, metrics, summary, curves) is written into a staging
// directory beside its target and swapped in as a whole, so a reader sees the old run or the new one, never a mix.
//
// The swap is two renames: target → `.NAME.previous`, then staging → target; the backup is removed afterwards.
// A process killed between them leaves no target but a complete backup: `readableRunPath` reads it, and the next
// `stageRunDir` for the same target restores it before doing anything else.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { AdapterGraphError } from '../errors';
import { syncDirectory } from './atomic-write';

/** Files by which an existing directory is recognised as an earlier run that may be replaced. */
export const RUN_MARKERS: readonly string[] = ['run.json', 'summary.json', 'labels.json', 'metrics.jsonl', 'fusion_run.json', 'adapter/adapter_config.json', 'adapter_config.json'];

const previousOf = (target: string): string => join(dirname(target), `.${basename(target)}.previous`);
const STAGING_RE = /^\.(.+)\.staging-(\d+)-[0-9a-f]+$/;
const TEMP_RE = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/;

/** A run being written: files go into `dir`; `commit` swaps it in as a whole, `abandon` removes it. */
export interface StagedRun {
  readonly target: string;
  readonly dir: string;
  commit(): Promise<void>;
  abandon(): Promise<void>;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Removes `.NAME.<pid>.<hex>.tmp` files (writeFileAtomic's) left in `dir` by processes that no longer run. */
export async function removeStaleTempFiles(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const e of entries) {
    const m = TEMP_RE.exec(e);
    if (m && !alive(Number(m[1]))) await rm(join(dir, e), { force: true });
  }
}

/**
 * Undoes what a killed swap left: restores `.NAME.previous` when the target is missing, removes it when the target
 * is there (the swap had finished), and removes staging directories of processes that no longer run.
 */
export async function recoverRunDir(target: string): Promise<void> {
  const abs = resolve(target);
  const previous = previousOf(abs);
  if (await exists(previous)) {
    if (await exists(abs)) await rm(previous, { recursive: true, force: true });
    else await rename(previous, abs);
  }
  const parent = dirname(abs);
  for (const e of await readdir(parent).catch(() => [] as string[])) {
    const m = STAGING_RE.exec(e);
    if (m && m[1] === basename(abs) && !alive(Number(m[2]))) await rm(join(parent, e), { recursive: true, force: true });
  }
}

/** Where a reader finds `path` (a run directory or a file/folder inside one) when a swap was cut off midway. */
export function readableRunPath(path: string): string {
  const abs = resolve(path);
  for (const root of [abs, dirname(abs)]) {
    if (!existsSync(root) && existsSync(previousOf(root))) return join(previousOf(root), relative(root, abs));
  }
  return abs;
}

async function isReplaceable(target: string): Promise<boolean> {
  const entries = await readdir(target).catch(() => undefined);
  if (entries === undefined) throw new AdapterGraphError(`${target} exists and is not a directory`, 'E_RUN_DIR');
  if (entries.length === 0) return true;
  for (const m of RUN_MARKERS) if (await exists(join(target, m))) return true;
  return false;
}

/**
 * Starts writing the run `target`: recovers an interrupted earlier swap, refuses a non-empty directory that is not
 * a run (replacing it would delete the user's files), and returns a fresh staging directory beside the target.
 */
export async function stageRunDir(target: string): Promise<StagedRun> {
  const abs = resolve(target);
  await mkdir(dirname(abs), { recursive: true });
  await recoverRunDir(abs);
  if ((await exists(abs)) && !(await isReplaceable(abs))) {
    throw new AdapterGraphError(`${abs} is not empty and holds no earlier run (${RUN_MARKERS.slice(0, 3).join(', ')}, ...); choose a new or empty output directory`, 'E_RUN_DIR');
  }
  const dir = join(dirname(abs), `.${basename(abs)}.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir);
  let done = false;
  return {
    target: abs,
    dir,
    async commit(): Promise<void> {
      if (done) throw new AdapterGraphError(`${abs}: this staged run was already committed or abandoned`, 'E_RUN_DIR');
      done = true;
      await syncDirectory(dir);
      const previous = previousOf(abs);
      const hadTarget = await exists(abs);
      if (hadTarget) {
        await rm(previous, { recursive: true, force: true });
        await rename(abs, previous);
      }
      await rename(dir, abs);
      await syncDirectory(dirname(abs));
      if (hadTarget) await rm(previous, { recursive: true, force: true });
    },
    async abandon(): Promise<void> {
      done = true;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `write(stagingDir)` and swaps the result in as `target`; on any error the staging directory is removed. */
export async function writeRunDir<T>(target: string, write: (dir: string) => Promise<T>): Promise<T> {
  const staged = await stageRunDir(target);
  try {
    const result = await write(staged.dir);
    await staged.commit();
    return result;
  } catch (e) {
    await staged.abandon();
    throw e;
  }
}

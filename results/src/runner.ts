// Works through the experiment table: skips finished runs, claims the next one with a lock file (so two
// workers can share the table), runs it, and writes its record only when it has finished.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dataDir, fusionArgv, shellLine, trainArgv, WORK_DIR } from './commands';
import { prepareTask } from './data';
import type { Experiment } from './experiments';
import type { RunRecord } from './records';
import { isDone, writeRecord } from './records';

export interface RunnerPaths {
  readonly root: string;
  readonly runsDir: string;
  readonly datasets: string;
}

/** What executes one experiment: the real one runs the CLI / AdapterDrop; tests pass a fake. */
export type Execute = (e: Experiment, paths: RunnerPaths, log: (line: string) => void) => Promise<Omit<RunRecord, 'finishedAt' | 'machine' | 'complete'>>;

export function machine(backend = ''): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}${backend !== '' ? `, ${backend}` : ''}; shared with other jobs (load 10-30)`;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Claims an experiment for this process; a lock left by a dead process is taken over. */
export function claim(lockDir: string, name: string): boolean {
  fs.mkdirSync(lockDir, { recursive: true });
  const file = path.join(lockDir, `${name}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      const owner = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
      fs.rmSync(file, { force: true });
    }
  }
  return false;
}

export const release = (lockDir: string, name: string): void => fs.rmSync(path.join(lockDir, `${name}.lock`), { force: true });

export interface RunSummary {
  readonly ran: string[];
  readonly skipped: string[];
  readonly failed: string[];
  readonly blocked: string[];
}

/**
 * Runs every experiment not yet done. An experiment whose inputs (`needs`) are not done yet waits for a later
 * pass; passes repeat while something finishes. Failures are logged and left undone (rerun to retry).
 */
export async function runAll(list: readonly Experiment[], paths: RunnerPaths, execute: Execute, log: (line: string) => void): Promise<RunSummary> {
  const lockDir = path.join(paths.root, WORK_DIR, 'locks');
  const ran: string[] = [];
  const failed: string[] = [];
  const skipped = list.filter((e) => isDone(paths.runsDir, e)).map((e) => e.name);
  let progress = true;
  while (progress) {
    progress = false;
    for (const e of list) {
      if (isDone(paths.runsDir, e) || failed.includes(e.name)) continue;
      if (e.kind === 'fusion' && !e.needs.every((n) => fs.existsSync(path.join(paths.runsDir, `${n}.json`)))) continue;
      if (!claim(lockDir, e.name)) continue;
      try {
        if (isDone(paths.runsDir, e)) continue; // finished by another worker between the check and the claim
        log(`== ${e.name}`);
        const started = Date.now();
        const rec = await execute(e, paths, log);
        writeRecord(paths.runsDir, { ...rec, finishedAt: new Date().toISOString(), machine: machine(), complete: true });
        log(`== ${e.name} done in ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(rec.metrics)}`);
        ran.push(e.name);
        progress = true;
      } catch (err) {
        log(`== ${e.name} FAILED: ${(err as Error).stack ?? String(err)}`);
        failed.push(e.name);
      } finally {
        release(lockDir, e.name);
      }
    }
  }
  const blocked = list.filter((e) => !isDone(paths.runsDir, e) && !failed.includes(e.name)).map((e) => e.name);
  return { ran, skipped, failed, blocked };
}

/** Writes the budgeted data files the experiments read. */
export function prepareData(list: readonly Experiment[], paths: RunnerPaths): void {
  const seen = new Set<string>();
  for (const e of list) {
    const key = dataDir(e.task, e.budget);
    if (seen.has(key)) continue;
    seen.add(key);
    prepareTask(e.task, paths.datasets, path.join(paths.root, 'results', '.data'), e.budget.trainSize, e.budget.devCap);
  }
}

export const commandOf = (e: Experiment): string => {
  if (e.kind === 'train') return shellLine(trainArgv(e));
  if (e.kind === 'fusion') return shellLine(fusionArgv(e));
  return `npm run reproduce -- --only ${e.name}`;
};

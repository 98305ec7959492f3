// The multi-task options every command reads the same way: `--task NAME=TRAIN[,EVAL]` (repeatable) and
// `--sampling` (one of core-graph's task samplings).
import * as path from 'path';
import type { TaskSampling } from '@adapters/core-graph';
import type { ParsedArgs } from './args';
import { UsageError } from './args';

/** The key of a multi-task run's extras in its top-level run.json (`adapters train --task`). */
export const MULTITASK_EXTRAS = 'multitask';

/** A task name: also a folder, an adapter and a head name. */
export const TASK_NAME_RE = /^[A-Za-z0-9_-]+$/;

/** At most this many tasks in one run (one graph and one head each). */
export const MAX_TASKS = 64;

export interface TaskArg {
  readonly name: string;
  /** Absolute path of the training file (`--task NAME=FILE` with `files: 1`: the one file). */
  readonly train: string;
  readonly eval?: string;
}

/**
 * Every `--task` of `args`, files resolved against `cwd`: `NAME=TRAIN[,EVAL]` (files 2) or `NAME=FILE` (files 1).
 * A malformed value, a bad or repeated name, or too many tasks is a UsageError naming the value.
 */
export function parseTaskArgs(args: ParsedArgs, cwd: string, files: 1 | 2 = 2): TaskArg[] {
  const form = files === 2 ? 'NAME=TRAIN[,EVAL]' : 'NAME=FILE';
  const values = args.strings('task');
  if (values.length > MAX_TASKS) throw new UsageError(`--task is given ${values.length} times; at most ${MAX_TASKS} tasks`, args.command);
  const seen = new Set<string>();
  return values.map((t): TaskArg => {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new UsageError(`--task ${t}: expected ${form}, e.g. --task rte=${files === 2 ? 'train.tsv,dev.tsv' : 'dev.tsv'}`, args.command);
    const name = t.slice(0, eq);
    if (!TASK_NAME_RE.test(name) || name.length > 128) throw new UsageError(`--task ${t}: the name '${name}' may use only letters, digits, _ and - (at most 128)`, args.command);
    const parts = t.slice(eq + 1).split(',');
    if (parts.length > files || parts.some((f) => f === '')) throw new UsageError(`--task ${t}: expected ${form}`, args.command);
    if (seen.has(name)) throw new UsageError(`--task ${name} is given twice`, args.command);
    seen.add(name);
    return { name, train: path.resolve(cwd, parts[0] as string), ...(parts[1] !== undefined ? { eval: path.resolve(cwd, parts[1]) } : {}) };
  });
}

/** `--sampling` text as core-graph's TaskSampling. */
export function parseSampling(text: string, command?: string): TaskSampling {
  if (text === 'annealed' || text === 'proportional' || text === 'uniform' || text === 'all') return text;
  if (text === 'round-robin') return 'roundRobin';
  const t = /^temperature=(.+)$/.exec(text);
  const temperature = t ? Number(t[1]) : NaN;
  if (Number.isFinite(temperature) && temperature > 0) return { temperature };
  throw new UsageError(`--sampling must be annealed, proportional, uniform, round-robin, all or temperature=T (T > 0), got '${text}'`, command);
}

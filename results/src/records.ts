// One finished run = one JSON file in results/runs/, written whole (temp file + rename) after the run ends.
// A file that does not parse, lacks `complete: true`, or was made with another budget does not count: the
// runner reruns it and the generator ignores it.
import * as fs from 'fs';
import * as path from 'path';
import type { Budget, Experiment } from './experiments';

export interface Metrics {
  readonly accuracy: number | null;
  readonly f1: number | null;
  readonly mcc: number | null;
  readonly majorityBaseline: number | null;
}

export interface RunRecord {
  readonly name: string;
  readonly kind: Experiment['kind'];
  readonly task: string;
  /** Method id (train), 'fusion', or 'drop-specialized' / 'drop-robust'. */
  readonly method: string;
  readonly seed: number;
  readonly budget: Budget;
  /** The command that made it, runnable from the repository root. */
  readonly command: string;
  readonly metrics: Metrics;
  /** AdapterDrop: dev metrics with the lowest n layers' adapters dropped at inference, by n. */
  readonly byDroppedLayers?: Readonly<Record<string, Metrics>>;
  readonly trainableParams: number | null;
  readonly trainablePercentOfBase: number | null;
  readonly steps: number;
  readonly trainSeconds: number;
  readonly seconds: number;
  readonly finishedAt: string;
  readonly machine: string;
  readonly complete: true;
}

export const recordFile = (runsDir: string, name: string): string => path.join(runsDir, `${name}.json`);

const sameBudget = (a: Budget, b: Budget): boolean => (Object.keys(b) as (keyof Budget)[]).every((k) => a[k] === b[k]) && Object.keys(a).length === Object.keys(b).length;

/** The record of a finished run, or undefined when it is absent, half-written or from another budget. */
export function readRecord(file: string, budget?: Budget): RunRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const r = parsed as Partial<RunRecord>;
  if (r.complete !== true || typeof r.name !== 'string' || typeof r.metrics !== 'object' || r.metrics === null || typeof r.budget !== 'object') return undefined;
  if (budget && !sameBudget(r.budget as Budget, budget)) return undefined;
  return r as RunRecord;
}

/** Every finished record in the directory (sorted by name). */
export function readAllRecords(runsDir: string): RunRecord[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readRecord(path.join(runsDir, f)))
    .filter((r): r is RunRecord => r !== undefined);
}

export function writeRecord(runsDir: string, record: RunRecord): void {
  fs.mkdirSync(runsDir, { recursive: true });
  const file = recordFile(runsDir, record.name);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

/** Is this experiment already done (with the same budget)? */
export function isDone(runsDir: string, e: Experiment): boolean {
  return readRecord(recordFile(runsDir, e.name), e.budget) !== undefined;
}

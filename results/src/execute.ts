// The real executor: train and fusion rows run the `adapters` CLI in this process (one TypeScript compile for
// the whole grid); AdapterDrop rows run drop.ts. The run's own log goes to results/.work/NAME.log.
import * as fs from 'fs';
import * as path from 'path';
import { runCli } from '@adapters/cli';
import type { CliContext } from '@adapters/cli';
import { fusionArgv, trainArgv, WORK_DIR } from './commands';
import { runDrop } from './drop';
import type { Experiment } from './experiments';
import type { Metrics } from './records';
import type { Execute } from './runner';
import { commandOf } from './runner';

interface Summary {
  accuracy: number | null;
  f1: number | null;
  mcc: number | null;
  majorityBaseline: number | null;
  trainableParams: number;
  trainablePercentOfBase?: number;
  baseParams: number;
  steps: number;
  trainSeconds: number;
  seconds: number;
}

const metricsOf = (s: Summary): Metrics => ({ accuracy: s.accuracy, f1: s.f1, mcc: s.mcc, majorityBaseline: s.majorityBaseline });
const methodOf = (e: Experiment): string => (e.kind === 'train' ? e.method : e.kind === 'fusion' ? 'fusion' : `drop-${e.mode}`);

export const executeReal: Execute = async (e, paths) => {
  const logFile = path.join(paths.root, WORK_DIR, `${e.name}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = fs.openSync(logFile, 'w');
  const stream = { write: (s: string): boolean => (fs.writeSync(fd, s), true) };
  const base = { name: e.name, kind: e.kind, task: e.task, method: methodOf(e), seed: e.seed, budget: e.budget, command: commandOf(e) };
  try {
    if (e.kind === 'drop') {
      const d = await runDrop(e, paths.root, (line) => stream.write(`${line}\n`));
      return { ...base, metrics: d.metrics, byDroppedLayers: d.byDroppedLayers, trainableParams: d.trainableParams, trainablePercentOfBase: d.trainablePercentOfBase, steps: d.steps, trainSeconds: d.trainSeconds, seconds: d.trainSeconds };
    }
    const argv = e.kind === 'train' ? trainArgv(e) : fusionArgv(e);
    const ctx: Partial<CliContext> = { stdout: stream, stderr: stream, cwd: paths.root, env: { ...process.env, NO_COLOR: '1' }, pluginSearchPaths: [paths.root] };
    const code = await runCli(argv, ctx);
    if (code !== 0) throw new Error(`adapters ${argv[0]} exited with ${code}; see ${path.relative(paths.root, logFile)}:\n${fs.readFileSync(logFile, 'utf8').split('\n').slice(-8).join('\n')}`);
    const s = JSON.parse(fs.readFileSync(path.join(paths.root, WORK_DIR, e.name, 'summary.json'), 'utf8')) as Summary;
    const pct = s.trainablePercentOfBase ?? (s.baseParams > 0 ? (100 * s.trainableParams) / s.baseParams : null);
    return { ...base, metrics: metricsOf(s), trainableParams: s.trainableParams, trainablePercentOfBase: pct, steps: s.steps, trainSeconds: s.trainSeconds, seconds: s.seconds };
  } finally {
    fs.closeSync(fd);
  }
};

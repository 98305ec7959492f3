// The exact `adapters` command lines of the experiments: what the runner executes (in-process) and what the
// README prints. Paths are relative to the repository root.
import type { Budget, FusionExperiment, TrainExperiment } from './experiments';
import { methodById } from './experiments';

export const MODEL = 'all-MiniLM-L6-v2';
export const WORK_DIR = 'results/.work';
export const DATA_CACHE = 'results/.data';

export const dataDir = (task: string, b: Budget): string => `${DATA_CACHE}/${task}-${b.trainSize}-${b.devCap}`;
export const totalSteps = (b: Budget): number => b.epochs * Math.ceil(b.trainSize / b.batchSize);

/** Evaluate once, at the end (no model selection on dev: the dev score is the final model's). */
function budgetArgs(b: Budget): string[] {
  return ['--epochs', String(b.epochs), '--batch-size', String(b.batchSize), '--max-length', String(b.maxLength), '--eval-every', String(totalSteps(b))];
}

export function trainArgv(e: TrainExperiment): string[] {
  const m = methodById(e.method);
  const data = dataDir(e.task, e.budget);
  return [
    'train', '--model', MODEL, '--data', `${data}/train.tsv`, '--eval', `${data}/dev.tsv`,
    '--adapter', m.spec, ...(m.fullFinetune ? ['--full-finetune'] : []), '--name', e.task,
    ...budgetArgs(e.budget), '--lr', String(m.lr), '--seed', String(e.seed), '--out', `${WORK_DIR}/${e.name}`,
  ];
}

export function fusionArgv(e: FusionExperiment): string[] {
  const data = dataDir(e.task, e.budget);
  return [
    'fusion-stage2', '--model', MODEL, '--adapters', e.needs.map((n) => `${WORK_DIR}/${n}`).join(','),
    '--data', `${data}/train.tsv`, '--eval', `${data}/dev.tsv`, '--name', `${e.task}_fused`,
    ...budgetArgs(e.budget), '--lr', String(e.lr), '--seed', String(e.seed), '--out', `${WORK_DIR}/${e.name}`,
  ];
}

/** Shell-quotes argv for the README (`adapters` = `node packages/cli/bin/adapters.js`). */
export function shellLine(argv: readonly string[]): string {
  return ['adapters', ...argv.map((a) => (/^[A-Za-z0-9_./=,:+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))].join(' ');
}

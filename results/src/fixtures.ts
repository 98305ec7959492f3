// Fixture records for the runner and generator tests: what finished runs write, with chosen metrics.
import { CORE_BUDGET } from './experiments';
import type { Budget, Experiment } from './experiments';
import type { Metrics, RunRecord } from './records';

export function fixtureRecord(over: Partial<RunRecord> & { name: string }, metrics: Partial<Metrics> = {}): RunRecord {
  const [task = 'sst2', method = 'pfeiffer'] = over.name.split('-');
  const seed = Number(/-s(\d+)$/.exec(over.name)?.[1] ?? 1);
  return {
    kind: 'train', task, method, seed, budget: CORE_BUDGET as Budget, command: `adapters train # ${over.name}`,
    metrics: { accuracy: 0.5, f1: 0.5, mcc: 0, majorityBaseline: 0.5, ...metrics },
    trainableParams: 1000, trainablePercentOfBase: 0.5, steps: 50, trainSeconds: 1, seconds: 2, finishedAt: '2026-12-02T08:00:00.000Z',
    machine: 'fixture machine', complete: true, ...over,
  };
}

export const fakeResult = (e: Experiment, metrics: Partial<Metrics> = {}): Omit<RunRecord, 'finishedAt' | 'machine' | 'complete'> => {
  const r = fixtureRecord({ name: e.name, kind: e.kind, task: e.task, seed: e.seed, budget: e.budget }, metrics);
  const { finishedAt: _f, machine: _m, complete: _c, ...rest } = r;
  return rest;
};

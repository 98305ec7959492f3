// AdapterDrop runs (Rücklé et al., 2021): the CLI has no training flag for it, so this trains a seq_bn adapter
// with adapter-bottleneck's schedule through core's trainer and evaluates with the lowest n layers' adapters
// dropped. Specialized: one n for training and inference. Robust: n drawn per step from 0..L-1, evaluated at every n.
import * as path from 'path';
import { adapterDropSchedule, plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import { detectColumns, encodeExamples, resolveModel } from '@adapters/cli';
import { readColumns } from '@adapters/cli';
import type { EvalResult } from '@adapters/core-graph';
import {
  adapter, adaptersOnlyPolicy, applyPlacements, createRegistry, describeBackend, evaluate, Executor, LabelVocab, loadPretrained, loadTokenizer, numLayersOf,
  parameterSummary, selectBackend, train,
} from '@adapters/core-graph';
import { dataDir, MODEL } from './commands';
import type { DropExperiment } from './experiments';
import { DROP_LAYERS } from './experiments';
import type { Metrics } from './records';

export interface DropOutcome {
  readonly backend: string;
  readonly metrics: Metrics;
  readonly byDroppedLayers: Record<string, Metrics>;
  readonly trainableParams: number;
  readonly trainablePercentOfBase: number;
  readonly steps: number;
  readonly trainSeconds: number;
}

const metricsOf = (r: EvalResult, majority: number): Metrics => ({ accuracy: r.accuracy, f1: r.f1, mcc: r.mcc, majorityBaseline: majority });

export async function runDrop(e: DropExperiment, root: string, log: (line: string) => void): Promise<DropOutcome> {
  await selectBackend({ env: process.env, log });
  const model = await resolveModel(MODEL, root, log);
  const tokenizer = await loadTokenizer(model.dir);
  const dir = path.join(root, dataDir(e.task, e.budget));
  const trainFile = path.join(dir, 'train.tsv');
  const devFile = path.join(dir, 'dev.tsv');
  const columns = await detectColumns(trainFile, {}, true);
  const trainRaw = await readColumns(trainFile, columns);
  const labels = LabelVocab.fromExamples(trainRaw);
  const trainSet = encodeExamples(trainRaw, tokenizer, labels, e.budget.maxLength, trainFile);
  const evalSet = encodeExamples(await readColumns(devFile, columns), tokenizer, labels, e.budget.maxLength, devFile);
  const counts = new Map<number, number>();
  for (const x of evalSet) if (typeof x.label === 'number') counts.set(x.label, (counts.get(x.label) ?? 0) + 1);
  const majority = Math.max(...counts.values()) / evalSet.length;

  const pre = await loadPretrained(model.dir, { heads: [{ type: 'classification', name: e.task, numLabels: labels.size, pooling: 'mean' }], seed: e.seed });
  const registry = createRegistry(bottleneckPlugins);
  const { graph } = applyPlacements(pre.graph, [{ adapter: adapter('bottleneck', e.task, { config: 'seq_bn' }) }], registry);
  pre.store.sync(graph, e.seed);
  const layers = numLayersOf(graph);
  const schedule = e.mode === 'specialized' ? adapterDropSchedule({ mode: 'specialized', n: e.n ?? 0 }) : adapterDropSchedule({ mode: 'robust', numLayers: layers, seed: e.seed });
  const params = parameterSummary(graph, adaptersOnlyPolicy);
  const output = `${e.task}.logits`;
  const result = train({
    graph, store: pre.store, output, train: trainSet, policy: adaptersOnlyPolicy, epochs: e.budget.epochs, batchSize: e.budget.batchSize, learningRate: e.lr,
    seed: e.seed, padId: tokenizer.padId, skipLayers: (step) => schedule.at(step),
  });
  const executor = new Executor(graph, pre.store);
  const byDroppedLayers: Record<string, Metrics> = {};
  const ns = e.mode === 'specialized' ? [e.n ?? 0] : DROP_LAYERS.filter((n) => n < layers);
  for (const n of ns) {
    const r = evaluate(executor, output, evalSet, { batchSize: 32, padId: tokenizer.padId, ...(n > 0 ? { skipLayers: n } : {}) });
    byDroppedLayers[String(n)] = metricsOf(r, majority);
    log(`dropped ${n}: accuracy ${r.accuracy.toFixed(4)}`);
  }
  pre.store.dispose();
  const first = byDroppedLayers[String(ns[0])] as Metrics;
  return {
    backend: describeBackend(), metrics: first, byDroppedLayers, trainableParams: params.trainable, trainablePercentOfBase: params.trainablePercentOfBase,
    steps: result.steps, trainSeconds: result.seconds,
  };
}

// The README's two-stage AdapterFusion as one program: task adapters (ST-A or MT-A), then a fusion over them for a
// target task, its attention per layer, save and reload. Usage: node fusion.js MODEL_DIR (a BERT folder;
// pack-check passes a tiny random one). The texts are a handful of made-up examples: this shows the calls, not accuracy.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapter, addHead, createRegistry, loadPretrained, loadTokenizer, selectBackend, type TrainExample } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { adapterUses, fusionAttention, fusionAttentionTable, loadFusion, saveFusion, type FusionSpec } from '@adapters/adapter-fusion';
import { fusionGraph, trainFusion, trainMultiTaskAdapters, trainSingleTaskAdapters } from '@adapters/adapter-fusion/recipes';

async function main(): Promise<void> {
  await selectBackend();
  const dir = process.argv[2] ?? 'model';
  const tokenizer = await loadTokenizer(dir);
  const examples = (rows: Array<[string, number]>): TrainExample[] => rows.map(([text, label]) => ({ inputIds: tokenizer.encode(text).inputIds, label }));
  const sst2Train = examples([['a great film', 1], ['a dull mess', 0], ['lovely acting', 1], ['boring plot', 0]]);
  const mrpcTrain = examples([['the film the film', 1], ['a plot a mess', 0], ['witty witty', 1], ['gorgeous dull', 0]]);
  const rteTrain = examples([['a charming film', 1], ['a tedious plot', 0], ['great acting', 1], ['a boring mess', 0]]);
  const rteDev = rteTrain.slice(0, 2);

  // #region two-stage
  const registry = createRegistry([bottleneck]);
  const { graph: base, store } = await loadPretrained(dir);

  // Stage 1 (ST-A): one seq_bn adapter + head per task; the base (LayerNorms included) stays frozen.
  const tasks = [
    { name: 'sst2', numLabels: 2, train: sst2Train },            // default adapter: bottleneck seq_bn named 'sst2'
    { name: 'mrpc', numLabels: 2, train: mrpcTrain, adapter: adapter('bottleneck', 'mrpc', { config: 'seq_bn' }) },
  ];
  const stage1 = trainSingleTaskAdapters({ base, store, registry, tasks, settings: { maxSteps: 4, learningRate: 1e-4, batchSize: 2 } });
  // or MT-A: the adapters (and heads) trained together on core-graph's trainMultiTask, summing per-task batch
  // losses (or `mix: 'alternate'`, or any core task sampling: `sampling: 'annealed'`, `{ temperature: 2 }`, ...).
  trainMultiTaskAdapters({ base, store, registry, tasks, mix: 'sum', steps: 2, batchSize: 2 });

  // Stage 2: the fusion + the target head; only `fusion:NAME` and `head:rte` train (ownersPolicy).
  const spec: FusionSpec = { name: 'sst2,mrpc', adapters: adapterUses(Object.values(stage1.graphs), ['sst2', 'mrpc']), config: 'dynamic' };
  const rteHead = { type: 'classification', name: 'rte', numLabels: 2 } as const;
  const graph = fusionGraph(base, spec, rteHead, registry);
  store.sync(graph);
  trainFusion({ graph, store, name: 'sst2,mrpc', output: 'rte.logits', train: rteTrain, eval: rteDev, learningRate: 5e-5, maxSteps: 4, batchSize: 2 });

  // Which adapter each layer attends to, then the fusion's files (AdapterHub's adapter_fusion_config.json layout).
  console.log(fusionAttentionTable(fusionAttention(graph, store, 'sst2,mrpc', rteDev)));
  const out = await mkdtemp(join(tmpdir(), 'fusion-'));
  await saveFusion(out, graph, store, 'sst2,mrpc');
  // The fused adapters' weights are in the store already (else loadAdapter each); the target head is added first.
  const reloaded = await loadFusion(out, addHead(base, rteHead), store, registry, { graphs: Object.values(stage1.graphs) });
  // #endregion
  console.log(`reloaded fusion '${reloaded.name}' over ${reloaded.spec.adapters.length} adapters`);
  store.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

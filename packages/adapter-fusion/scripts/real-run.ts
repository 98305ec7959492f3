// A real AdapterFusion run on all-MiniLM-L6-v2 and small GLUE subsets (from /work/shared/datasets, see its README):
//   stage 1 (ST-A): seq_bn adapters for SST-2 and MRPC (and one for RTE, the single-task baseline)
//   stage 2:        Fuse(sst2, mrpc, rte) trained on RTE (only the fusion layers and the RTE head train)
// then RTE dev accuracy of both, the fusion attention table / heat map, a pruned fusion, and a save → load check.
// Sizes are small so it finishes in minutes on a busy 2-core machine; no accuracy is asserted.
//
//   node -r ./scripts/register.js scripts/real-run.ts [--out DIR] [--steps N] [--batch N] [--max-len N] [--mta]
// (or `npm run real-run -w packages/adapter-fusion -- --steps 10`)
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Example, Graph, HeadSpec, TextTokenizer, TrainExample, TrainRecord } from '@adapters/core-graph';
import { adapter, addHead, LabelVocab, loadPretrained, loadTokenizer, readExamples, saveAdapter, selectBackend, loadAdapter, createRegistry, Executor } from '@adapters/core-graph';
import { ensureModel } from '@adapters/cli';
import { bottleneck } from '@adapters/adapter-bottleneck';
import type { FusionTask } from '../src/recipes';
import { adapterUses, applyFusion, fusionAttention, fusionAttentionTable, loadFusion, pruneFusion, saveFusion } from '../src';
import { evaluateOutput, fusionGraph, trainFusion, trainMultiTaskAdapters, trainSingleTaskAdapters } from '../src/recipes';
import { writeFusionReport } from '../src/report';

const DATA = process.env['GLUE_DIR'] ?? '/work/shared/datasets';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const OUT = process.argv.includes('--out') ? (process.argv[process.argv.indexOf('--out') + 1] as string) : join(tmpdir(), 'adapter-fusion-real-run');
const STEPS = arg('steps', 10);
const BATCH = arg('batch', 16);
const MAX_LEN = arg('max-len', 48);
const SEED = arg('seed', 0);
/** Dev examples per task (RTE: all 277 by default). */
const DEV = arg('dev', 277);
/** Adapters (and so the fusion) only in the top layers: the backward pass then stops there (leave_out 0..3). */
const LEAVE_OUT = [0, 1, 2, 3];

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function encode(tok: TextTokenizer, xs: readonly Example[], vocab: LabelVocab): TrainExample[] {
  return xs.map((e) => {
    const enc = tok.encode(e.text, e.textPair, { maxLength: MAX_LEN });
    return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label: vocab.id(e.label as string) };
  });
}

interface Task {
  readonly name: string;
  readonly train: TrainExample[];
  readonly dev: TrainExample[];
  readonly labels: readonly string[];
}

async function glue(tok: TextTokenizer, name: string, folder: string, columns: { text: string; textPair?: string; label: string }, sizes: { train: number; dev: number }): Promise<Task> {
  const train = await readExamples(join(DATA, folder, 'train.tsv'), columns);
  const dev = await readExamples(join(DATA, folder, 'dev.tsv'), columns);
  const vocab = LabelVocab.fromExamples(train);
  return {
    name,
    train: encode(tok, shuffled(train, SEED + 1).slice(0, sizes.train), vocab),
    dev: encode(tok, shuffled(dev, SEED + 2).slice(0, sizes.dev), vocab),
    labels: vocab.labels,
  };
}

const seqBn = (name: string) => adapter('bottleneck', name, { config: 'seq_bn', reduction_factor: 16, leave_out: LEAVE_OUT });
const headFor = (name: string, numLabels: number): HeadSpec => ({ type: 'classification', name, numLabels, pooling: 'mean' });
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

async function main(): Promise<void> {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;
  const backend = await selectBackend();
  console.log(`backend: ${backend.name}; steps ${STEPS}, batch ${BATCH}, max length ${MAX_LEN}, adapters in layers 4-5 (leave_out ${LEAVE_OUT.join(',')}), out ${OUT}`);
  await mkdir(OUT, { recursive: true });
  const dir = await ensureModel('all-MiniLM-L6-v2');
  const tok = await loadTokenizer(dir);
  const sst2 = await glue(tok, 'sst2', 'glue-sst2', { text: 'sentence', label: 'label' }, { train: STEPS * BATCH, dev: Math.min(DEV, 128) });
  const mrpc = await glue(tok, 'mrpc', 'glue-mrpc', { text: '#1 String', textPair: '#2 String', label: 'Quality' }, { train: STEPS * BATCH, dev: Math.min(DEV, 128) });
  const rte = await glue(tok, 'rte', 'glue-rte', { text: 'sentence1', textPair: 'sentence2', label: 'label' }, { train: STEPS * BATCH, dev: DEV });
  const { graph: base, store } = await loadPretrained(dir);
  const registry = createRegistry([bottleneck]);
  const settings = { maxSteps: STEPS, batchSize: BATCH, learningRate: 1e-3, warmupRatio: 0.1, seed: SEED, padId: tok.padId };
  const log = (task: string) => (r: TrainRecord) => {
    if (r.type === 'step' && (r.step % 5 === 0 || r.step === r.totalSteps)) console.log(`  [${elapsed()}] ${task} step ${r.step}/${r.totalSteps} loss ${r.loss.toFixed(4)}`);
  };

  // Stage 1 (ST-A): one adapter per task; SST-2 and MRPC are the source tasks, RTE's own adapter is the baseline.
  const tasks: FusionTask[] = [sst2, mrpc, rte].map((t) => ({ name: t.name, numLabels: t.labels.length, train: t.train, adapter: seqBn(t.name), head: headFor(t.name, t.labels.length) }));
  const stage1: Record<string, Graph> = {};
  for (const task of tasks) {
    const one = trainSingleTaskAdapters({ base, store, registry, tasks: [task], settings: { ...settings, onRecord: log(`ST-A ${task.name}`) } });
    stage1[task.name] = one.graphs[task.name] as Graph;
  }
  const stA: Record<string, number> = {};
  for (const t of [sst2, mrpc, rte]) {
    stA[t.name] = evaluateOutput(stage1[t.name] as Graph, store, `${t.name}.logits`, t.dev).accuracy;
    console.log(`[${elapsed()}] ST-A ${t.name}: dev accuracy ${pct(stA[t.name] as number)} (${t.dev.length} dev examples)`);
  }

  // Stage 2: fuse the three adapters for RTE; only the fusion layers and the RTE head train.
  const rteHead = headFor('rte_fusion', rte.labels.length);
  const spec = { name: 'sst2,mrpc,rte', adapters: adapterUses(Object.values(stage1), ['sst2', 'mrpc', 'rte']) };
  const fused = fusionGraph(base, spec, rteHead, registry);
  store.sync(fused, SEED);
  const before = store.snapshot([...fused.params.values()].filter((p) => p.owner.startsWith('adapter:')).map((p) => p.key));
  const result = trainFusion({ ...settings, graph: fused, store, name: spec.name, output: 'rte_fusion.logits', train: rte.train, onRecord: log('fusion rte') });
  const untouched = [...before].every(([k, v]) => {
    const now = store.get(k).dataSync();
    return v.every((x, i) => Object.is(x, now[i]));
  });
  const fusedAcc = evaluateOutput(fused, store, 'rte_fusion.logits', rte.dev).accuracy;
  console.log(`[${elapsed()}] fusion on RTE: dev accuracy ${pct(fusedAcc)}; trained ${result.trainableKeys.length} tensors; adapters unchanged: ${untouched}`);

  // Introspection on RTE dev.
  const attention = fusionAttention(fused, store, spec.name, rte.dev.slice(0, Math.min(DEV, 96)));
  console.log(`fusion attention on ${attention.tokens} RTE dev tokens:\n${fusionAttentionTable(attention)}`);
  const files = await writeFusionReport(attention, OUT, { title: 'Fuse(sst2, mrpc, rte) on RTE dev: mean attention' });

  // Pruning (AdapterDrop): top-1 adapter per layer; and dropping the fusion of layer 4.
  const top1 = applyFusion(addHead(base, rteHead), pruneFusion(spec, attention, { topK: 1 }), registry).graph;
  const top1Acc = evaluateOutput(top1, store, 'rte_fusion.logits', rte.dev).accuracy;
  const drop = applyFusion(addHead(base, rteHead), pruneFusion(spec, attention, { dropFirst: 5 }), registry).graph;
  const dropAcc = evaluateOutput(drop, store, 'rte_fusion.logits', rte.dev).accuracy;
  console.log(`[${elapsed()}] pruned without retraining: top-1 per layer ${pct(top1Acc)}, fusion dropped from layer 4 ${pct(dropAcc)}`);

  // Save → load round trip on the real model (AdapterHub files), checked on a dev batch.
  const fusionDir = join(OUT, 'fusion');
  await saveFusion(fusionDir, fused, store, spec.name);
  for (const t of ['sst2', 'mrpc', 'rte']) await saveAdapter(join(OUT, t), stage1[t] as Graph, store, t);
  const fresh = await loadPretrained(dir);
  const headed = addHead(fresh.graph, rteHead);
  const graphs: Graph[] = [];
  for (const t of ['sst2', 'mrpc', 'rte']) graphs.push((await loadAdapter(join(OUT, t), fresh.graph, fresh.store, registry)).graph);
  const loaded = await loadFusion(fusionDir, headed, fresh.store, registry, { graphs });
  // The head is not part of the fusion files: copy it.
  for (const p of loaded.graph.params.values()) if (p.owner === 'head:rte_fusion') fresh.store.assign(p.key, store.get(p.key));
  const feeds = { input_ids: padded(rte.dev.slice(0, 8).map((e) => [...e.inputIds]), tok.padId), attention_mask: padded(rte.dev.slice(0, 8).map((e) => e.inputIds.map(() => 1)), 0) };
  const a = tf.tidy(() => new Executor(fused, store).run(feeds, { outputs: ['rte_fusion.logits'] })['rte_fusion.logits']?.dataSync() as Float32Array);
  const b = tf.tidy(() => new Executor(loaded.graph, fresh.store).run(feeds, { outputs: ['rte_fusion.logits'] })['rte_fusion.logits']?.dataSync() as Float32Array);
  const exact = a.every((x, i) => Object.is(x, b[i]));
  const config = JSON.parse(await readFile(join(fusionDir, 'adapter_fusion_config.json'), 'utf8')) as { adapter_names: string[] };
  console.log(`save → load: logits identical ${exact}; adapter_names ${JSON.stringify(config.adapter_names)}`);

  let mta = '';
  if (process.argv.includes('--mta')) {
    const mtStore = (await loadPretrained(dir)).store;
    const mt = trainMultiTaskAdapters({
      base, store: mtStore, registry, mix: 'sum', steps: STEPS, batchSize: BATCH, learningRate: 1e-3, seed: SEED, padId: tok.padId,
      tasks: [sst2, mrpc].map((t) => ({ name: `mt_${t.name}`, numLabels: t.labels.length, train: t.train, eval: t.dev, adapter: seqBn(`mt_${t.name}`), head: headFor(`mt_${t.name}`, t.labels.length) })),
      onRecord: (r) => r.step % 5 === 0 && console.log(`  [${elapsed()}] MT-A step ${r.step} losses ${r.losses.map((l) => l.toFixed(3)).join(', ')}`),
    });
    mta = Object.entries(mt.evals).map(([k, e]) => `${k} ${pct(e.accuracy)}`).join(', ');
    console.log(`[${elapsed()}] MT-A dev accuracy: ${mta}`);
    mtStore.dispose();
  }

  const majority = Math.max(...[0, 1].map((c) => rte.dev.filter((e) => e.label === c).length)) / rte.dev.length;
  console.log('\n| model | RTE dev accuracy |\n|---|---:|');
  console.log(`| majority class | ${pct(majority)} |`);
  console.log(`| ST-A RTE adapter | ${pct(stA['rte'] as number)} |`);
  console.log(`| Fuse(sst2, mrpc, rte), stage 2 on RTE | ${pct(fusedAcc)} |`);
  console.log(`| … pruned to top-1 adapter per layer | ${pct(top1Acc)} |`);
  console.log(`| … fusion dropped from layer 4 | ${pct(dropAcc)} |`);
  console.log(`\nsource adapters: SST-2 dev ${pct(stA['sst2'] as number)}, MRPC dev ${pct(stA['mrpc'] as number)} (128 dev examples each)${mta ? `; MT-A: ${mta}` : ''}`);
  console.log(`files: ${files.table}, ${files.svg}, ${files.png}, ${fusionDir}; total ${elapsed()}`);
  fresh.store.dispose();
  store.dispose();
}

function padded(rows: number[][], pad: number): number[][] {
  const n = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...Array<number>(n - r.length).fill(pad)]);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

// `adapters knowledge-task`: the downstream half of Lauscher et al. 2020 — a task adapter trained on a labelled set
// with a frozen knowledge adapter (knowledge-train's output) beside it: Stack(knowledge, task), Fuse(knowledge, task)
// (AdapterFusion with the task adapter training jointly with the fusion), or the task adapter alone ('none', the
// control). Every variant trains the same task adapter, head, steps, batch, learning rate and seed.
import * as path from 'node:path';
import type { AdapterCatalog, AdapterUse, EvalResult, Graph, PlacementRule, TrainRecord } from '@adapters/core-graph';
import {
  adapter, AdapterGraphError, applyPlacements, ConfigError, evaluate, Executor, LabelVocab, loadAdapter, loadPretrained, loadTokenizer, ownersPolicy,
  GraphError, parameterSummary, Stack, train, writeJsonAtomic, writeRunDir,
} from '@adapters/core-graph';
import type { CliContext, CommandSpec, ParsedArgs } from '@adapters/cli';
import {
  backendBanner, COLUMN_OPTIONS, detectColumns, encodeExamples, formatDuration, givenColumns, majorityShare, MetricsWriter, option, ProgressReporter,
  readColumns, resolveModel, sample, shortPath, UsageError,
} from '@adapters/cli';
import { madxRegistry, TASK_REDUCTION_FACTOR, taskAdapter } from '@adapters/adapter-madx';
import { fusionRules } from '@adapters/adapter-fusion';
import { fusionRegularization } from '@adapters/adapter-fusion/recipes';

export const KNOWLEDGE_COMPOSITIONS = ['none', 'stack', 'fuse'] as const;
export type KnowledgeComposition = (typeof KNOWLEDGE_COMPOSITIONS)[number];

const NAME_RE = /^[A-Za-z0-9_-]+$/;
const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);

export const KNOWLEDGE_TASK_SPEC: CommandSpec = {
  name: 'knowledge-task',
  brief: 'train a task adapter + head on a labelled set with a frozen knowledge adapter stacked under it or fused with it',
  summary:
    'Downstream use of a knowledge adapter (knowledge-train\'s output; Lauscher et al. 2020): a task adapter (seq_bn, reduction factor 16) and a ' +
    'classification head train on --data with the base and the knowledge adapter frozen. --compose stack: Stack(knowledge, task); fuse: ' +
    'Fuse(knowledge, task), AdapterFusion\'s dynamic fusion trained together with the task adapter (value regularisation on); none: the task adapter ' +
    'alone (the control, no --knowledge). The variants share steps, batch, learning rate, seed and data order. Evaluates the final weights on --eval ' +
    '(accuracy, F1, MCC) and writes metrics.jsonl and summary.json.',
  usage: '--model DIR|NAME --data FILE --eval FILE --compose none|stack|fuse [--knowledge DIR] --out DIR [options]',
  options: [
    option('model'),
    option('data'),
    option('eval'),
    { name: 'knowledge', type: 'string', metavar: 'DIR', help: 'directory written by knowledge-train (its adapter is loaded and frozen)' },
    { name: 'compose', type: 'string', metavar: 'none|stack|fuse', help: 'how the task adapter meets the knowledge adapter', defaultText: 'stack' },
    { name: 'name', type: 'string', metavar: 'NAME', help: 'name of the task adapter and its head', defaultText: 'task' },
    { name: 'reduction-factor', type: 'int', min: 1, metavar: 'N', help: 'task adapter bottleneck reduction factor', defaultText: String(TASK_REDUCTION_FACTOR) },
    option('steps', { defaultText: '300' }),
    option('batchSize'),
    option('lr'),
    option('maxLength'),
    { name: 'train-limit', type: 'int', min: 1, metavar: 'N', help: 'use a seeded sample of N training examples' },
    option('seed'),
    ...COLUMN_OPTIONS,
    option('out'),
  ],
  examples: [
    'adapters knowledge-task --model minilm --data rte/train.tsv --eval rte/dev.tsv --compose none --steps 150 --out runs/rte-none',
    'adapters knowledge-task --model minilm --data rte/train.tsv --eval rte/dev.tsv --compose stack --knowledge runs/wordnet --steps 150 --out runs/rte-stack',
  ],
};

function compositionOf(args: ParsedArgs): KnowledgeComposition {
  const c = args.string('compose') ?? 'stack';
  if (!(KNOWLEDGE_COMPOSITIONS as readonly string[]).includes(c)) throw new UsageError(`--compose must be ${KNOWLEDGE_COMPOSITIONS.join(', ')}; got '${c}'`, args.command);
  return c as KnowledgeComposition;
}

/** The placement rules of a variant: the task adapter alone, or with the knowledge adapter (`knowledge`) under it or fused with it. */
export function knowledgeTaskRules(graph: Graph, compose: KnowledgeComposition, task: AdapterUse, knowledge?: AdapterUse): PlacementRule[] {
  if (compose === 'none') return [{ adapter: task }];
  if (knowledge === undefined) throw new ConfigError('knowledge', `compose '${compose}' needs the knowledge adapter`);
  if (compose === 'stack') return [{ adapter: Stack(knowledge, task) }];
  // AdapterFusion's placement (both are Pfeiffer bottlenecks) and name: the adapter names joined by ','.
  return fusionRules(graph, { adapters: [knowledge, task] }, madxRegistry());
}

/** The fusion's name in the fuse variant (AdapterHub's default). */
export const knowledgeFusionName = (knowledge: string, task: string): string => `${knowledge},${task}`;

/** The owners a variant trains: the task adapter, its head, and for fuse the fusion. */
export function knowledgeTaskOwners(compose: KnowledgeComposition, task: string, knowledge?: string): string[] {
  return [`adapter:${task}`, `head:${task}`, ...(compose === 'fuse' ? [`fusion:${knowledgeFusionName(knowledge ?? '', task)}`] : [])];
}

export async function knowledgeTaskCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const data = path.resolve(ctx.cwd, args.requireString('data', 'the training file'));
  const evalFile = path.resolve(ctx.cwd, args.requireString('eval', 'the evaluation file'));
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const compose = compositionOf(args);
  const knowledgeGiven = args.string('knowledge');
  if (compose === 'none' && knowledgeGiven !== undefined) throw new UsageError('--knowledge does not apply with --compose none (the task adapter alone)', args.command);
  if (compose !== 'none' && knowledgeGiven === undefined) throw new UsageError(`missing required option --knowledge (a directory written by knowledge-train) for --compose ${compose}`, args.command);
  const task = args.string('name') ?? 'task';
  if (!NAME_RE.test(task)) throw new UsageError(`--name '${task}' may use only letters, digits, _ and -`, args.command);
  const steps = args.number('steps') ?? 300;
  const batchSize = args.number('batch-size') ?? 16;
  const learningRate = args.number('lr') ?? 1e-3;
  const maxLength = args.number('max-length') ?? 128;
  const seed = args.number('seed') ?? 42;
  const reduction = args.number('reduction-factor') ?? TASK_REDUCTION_FACTOR;
  const trainColumns = await detectColumns(data, givenColumns(args), true);
  const evalColumns = await detectColumns(evalFile, givenColumns(args, { ...trainColumns }), true);
  const backend = await backendBanner(args, ctx);
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const trainRaw = sample(await readColumns(data, trainColumns), args.number('train-limit'), seed);
  let labels: LabelVocab;
  try {
    labels = LabelVocab.fromExamples(trainRaw);
  } catch (e) {
    throw new UsageError(`${data}: ${(e as Error).message}`);
  }
  if (labels.size < 2) throw new UsageError(`${data}: the training data has only one label; a classifier needs at least two`);
  const trainSet = encodeExamples(trainRaw, tokenizer, labels, maxLength, data);
  const evalSet = encodeExamples(await readColumns(evalFile, evalColumns), tokenizer, labels, maxLength, evalFile);
  const pre = await loadPretrained(model.dir, { heads: [{ type: 'classification', name: task, numLabels: labels.size, pooling: 'mean' }], seed });
  const summary = await writeRunDir(outDir, async (runDir) => {
    // The knowledge adapter is loaded alone first (its weights checked and put in the store); the variant's graph then
    // places the same adapter (same name and config, so the same parameter keys) inside Stack or Fuse.
    let knowledge: AdapterUse | undefined;
    if (knowledgeGiven !== undefined) {
      const dir = path.resolve(ctx.cwd, knowledgeGiven);
      let loaded;
      try {
        loaded = await loadAdapter(dir, pre.graph, pre.store, madxRegistry(), { loadHead: false });
      } catch (e) {
        if (e instanceof AdapterGraphError || (e as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`--knowledge ${knowledgeGiven}: ${(e as Error).message.split('\n')[0]}`, args.command);
        throw e;
      }
      if (loaded.name === task) throw new UsageError(`--name ${task}: the knowledge adapter has that name; give the task adapter another`, args.command);
      const entry = ((loaded.graph.meta['adapters'] as AdapterCatalog | undefined) ?? {})[loaded.name];
      if (entry === undefined) throw new UsageError(`--knowledge ${knowledgeGiven}: no adapter was placed`, args.command);
      knowledge = adapter(entry.plugin, loaded.name, entry.config);
    }
    const taskUse = taskAdapter(task, { reduction_factor: reduction });
    let graph: Graph;
    try {
      graph = applyPlacements(pre.graph, knowledgeTaskRules(pre.graph, compose, taskUse, knowledge), madxRegistry()).graph;
    } catch (e) {
      if (e instanceof AdapterGraphError) throw new UsageError(`--compose ${compose}: ${e.message.split('\n')[0]}`, args.command);
      throw e;
    }
    const knowledgeKeys = knowledge === undefined ? [] : [...graph.params.values()].filter((p) => p.owner === `adapter:${knowledge.name}`).map((p) => p.key);
    const missing = knowledgeKeys.filter((k) => !pre.store.has(k));
    if (missing.length > 0) throw new GraphError(`knowledge adapter parameter '${missing[0]}' of the ${compose} graph was not loaded`);
    pre.store.sync(graph, seed);
    const before = pre.store.snapshot(knowledgeKeys);
    const owners = knowledgeTaskOwners(compose, task, knowledge?.name);
    const params = parameterSummary(graph, ownersPolicy(owners));
    const variant = compose === 'none' ? `task adapter '${task}' alone` : `${compose === 'stack' ? 'Stack' : 'Fuse'}(${knowledge?.name}, ${task})`;
    info(ctx, `knowledge-task: ${variant} on ${model.name}; base${knowledge ? ` and knowledge adapter '${knowledge.name}'` : ''} frozen; ` +
      `training ${owners.join(', ')} (${params.trainable.toLocaleString('en-US')} parameters)`);
    info(ctx, `data: ${trainSet.length} training examples, ${evalSet.length} eval examples; labels: ${labels.labels.join(', ')}; ${steps} steps of ${batchSize}`);
    const metrics = MetricsWriter.open(path.join(runDir, 'metrics.jsonl'), { fresh: true });
    const progress = new ProgressReporter({ stream: ctx.stderr, every: 10 });
    const output = `${task}.logits`;
    const perEpoch = Math.ceil(trainSet.length / batchSize);
    let result;
    try {
      result = train({
        graph, store: pre.store, output, train: trainSet, policy: ownersPolicy(owners),
        epochs: Math.max(1, Math.ceil(steps / perEpoch)), maxSteps: steps, batchSize, learningRate, seed, padId: tokenizer.padId, warmupRatio: 0.1, clipNorm: 1.0,
        ...(compose === 'fuse' ? { extraLoss: fusionRegularization(graph, pre.store, knowledgeFusionName(knowledge?.name ?? '', task)) } : {}),
        onRecord: (r: TrainRecord) => {
          metrics.write(r);
          progress.onRecord(r);
        },
      });
    } finally {
      progress.finish();
    }
    const final: EvalResult = evaluate(new Executor(graph, pre.store), output, evalSet, { batchSize: 32, padId: tokenizer.padId });
    metrics.write({ type: 'final', step: result.steps, ...final });
    const after = pre.store.snapshot(knowledgeKeys);
    const knowledgeUnchanged = [...before].every(([k, v]) => {
      const now = after.get(k);
      return now !== undefined && v.every((x, i) => Object.is(x, now[i]));
    });
    const s = {
      compose, knowledge: knowledge?.name ?? null, knowledgeDir: knowledgeGiven === undefined ? null : path.resolve(ctx.cwd, knowledgeGiven), task, model: model.name, backend,
      data, eval: evalFile, trainExamples: trainSet.length, evalExamples: evalSet.length, labels: labels.labels, steps: result.steps, batchSize, learningRate, maxLength, seed,
      reductionFactor: reduction, accuracy: final.accuracy, f1: final.f1 ?? null, mcc: final.mcc ?? null, evalLoss: final.loss, majorityBaseline: majorityShare(evalSet),
      trainableParams: params.trainable, knowledgeUnchanged, trainSeconds: result.seconds, seconds: (Date.now() - started) / 1000,
    };
    await writeJsonAtomic(path.join(runDir, 'summary.json'), s);
    return s;
  }).finally(() => pre.store.dispose());
  out(ctx, `accuracy ${summary.accuracy.toFixed(4)}  F1 ${summary.f1?.toFixed(4) ?? 'n/a'}  MCC ${summary.mcc?.toFixed(4) ?? 'n/a'}  loss ${summary.evalLoss.toFixed(4)}  ` +
    `(${summary.evalExamples} eval examples; majority ${summary.majorityBaseline.toFixed(4)}) — ${compose}${summary.knowledge ? ` with '${summary.knowledge}' (unchanged: ${summary.knowledgeUnchanged})` : ''}`);
  out(ctx, `wall time ${formatDuration((Date.now() - started) / 1000)} (training ${formatDuration(summary.trainSeconds)}, ${summary.steps} steps) on ${backend}`);
  out(ctx, `saved: ${shortPath(ctx.cwd, outDir)} (metrics.jsonl, summary.json)`);
}

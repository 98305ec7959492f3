// `adapters pals-train` / `adapters pals-eval`: multi-task PALs from the command line (exported as `commands`, found
// by the CLI's plugin discovery). pals-train writes one folder per task (PALs adapter + head + labels.json, so
// `adapters eval --adapter-dir OUT/NAME` works too) and OUT/pals_run.json, which pals-eval reads.
import { mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { EvalResult, Graph, JsonSchema, MultiTaskRecord, TaskSampling, TrainExample } from '@adapters/core-graph';
import type { CliCommand, CliContext, Columns, CommandSpec, ParsedArgs } from '@adapters/cli';
import { ConfigError, createRegistry, evaluate, Executor, LabelVocab, loadAdapter, loadPretrained, loadTokenizer, parameterSummary, PlacementError, resolveConfig, saveAdapter, validateSchema, writeJsonAtomic } from '@adapters/core-graph';
import { backendBanner, COLUMN_OPTIONS, detectColumns, encodeExamples, formatDuration, givenColumns, majorityShare, MetricsWriter, ProgressReporter, readColumns, resolveModel, shortPath, UsageError } from '@adapters/cli';
import { palsSharedParams, palsWidth } from './config';
import type { PalsConfig } from './config';
import { pals } from './plugin';
import type { PalsTask } from './train';
import { trainPals } from './train';

/** What pals-train writes beside the task folders, so that pals-eval can rebuild every task. */
export const PALS_RUN_FILE = 'pals_run.json';

export interface PalsRunFile {
  /** The --model given (a directory or a known name). */
  readonly model: string;
  readonly maxLength: number;
  readonly tasks: ReadonlyArray<{ readonly name: string; readonly dir: string; readonly labels: readonly string[]; readonly columns: Columns; readonly eval: string | null }>;
}

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
const fmt = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(4));
const NAME_RE = /^[A-Za-z0-9_-]+$/;

export const PALS_TRAIN_SPEC: CommandSpec = {
  name: 'pals-train',
  brief: 'multi-task PALs (BERT and PALs): one set of projected attention layers + head per task, annealed task sampling',
  summary:
    'Trains one PALs adapter (per-layer low-dimensional attention between projections shared across layers, in parallel to each layer) and one ' +
    'classification head per task, all tasks jointly on one frozen base, drawing a task per step with the annealed sampling of Stickland & Murray ' +
    '(p ∝ N^α, α = 1 − 0.8·(e−1)/(E−1)). Writes OUT/NAME per task (adapter, head, labels.json), metrics.jsonl and pals_run.json (per-task dev metrics).',
  usage: '--model DIR|NAME --task NAME=TRAIN[,EVAL] [--task ...] --out DIR [options]',
  options: [
    { name: 'model', type: 'string', metavar: 'DIR|NAME', help: 'model directory (config.json, model.safetensors, tokenizer) or a known name: all-MiniLM-L6-v2 (alias minilm)' },
    { name: 'task', type: 'string', repeat: true, metavar: 'NAME=TRAIN[,EVAL]', help: 'a task: its name (letters, digits, _ -), its training file and optionally a dev file (.tsv, .csv, .jsonl)' },
    { name: 'sampling', type: 'string', metavar: 'annealed|proportional|uniform|round-robin|all|temperature=T', help: 'how each step picks its task', defaultText: 'annealed' },
    { name: 'd-s', type: 'int', min: 1, metavar: 'N', help: 'width of the projected attention (d_s)', defaultText: '204·hidden/768 rounded to a multiple of --heads (108 for MiniLM)' },
    { name: 'heads', type: 'int', min: 1, metavar: 'N', help: 'attention heads of each PAL', defaultText: '12' },
    { name: 'epochs', type: 'int', min: 1, metavar: 'E', help: 'epochs (the annealing runs over them)', defaultText: '3' },
    { name: 'max-steps', type: 'int', min: 1, metavar: 'N', help: 'optimizer steps in all', defaultText: 'epochs × all training examples / batch size' },
    { name: 'batch-size', type: 'int', min: 1, metavar: 'N', help: 'examples per step', defaultText: '16' },
    { name: 'max-length', type: 'int', min: 4, metavar: 'N', help: 'tokens per example, including special tokens', defaultText: '128' },
    { name: 'pooling', type: 'string', metavar: 'mean|cls|pooler', help: 'how the classification heads read the sequence', defaultText: 'mean' },
    { name: 'lr', type: 'number', min: 0, metavar: 'X', help: 'peak learning rate (linear warm-up and decay)', defaultText: '1e-3' },
    { name: 'seed', type: 'int', metavar: 'N', help: 'random seed', defaultText: '42' },
    ...COLUMN_OPTIONS,
    { name: 'out', type: 'string', metavar: 'DIR', help: 'output directory (one sub-directory per task)' },
  ],
  examples: [
    'adapters pals-train --model minilm --task rte=rte/train.tsv,rte/dev.tsv --task mrpc=mrpc/train.tsv,mrpc/dev.tsv --epochs 3 --out runs/pals',
    'adapters pals-train --model minilm --task a=a.tsv,a-dev.tsv --task b=b.tsv --sampling proportional --d-s 96 --max-steps 500 --out runs/pals-ab',
  ],
};

export const PALS_EVAL_SPEC: CommandSpec = {
  name: 'pals-eval',
  brief: 'evaluate every task of a pals-train run (per-task accuracy, F1, MCC)',
  summary: "Loads the base model and each task's PALs + head from a pals-train output and evaluates each task on its dev file (as recorded, or --task NAME=FILE).",
  usage: '--run DIR [--task NAME=FILE ...] [options]',
  options: [
    { name: 'run', type: 'string', metavar: 'DIR', help: 'the directory pals-train wrote' },
    { name: 'task', type: 'string', repeat: true, metavar: 'NAME=FILE', help: 'evaluate task NAME on FILE instead of its recorded dev file (only these tasks)' },
    { name: 'model', type: 'string', metavar: 'DIR|NAME', help: 'the base model', defaultText: 'the model recorded in pals_run.json' },
    { name: 'batch-size', type: 'int', min: 1, metavar: 'N', help: 'examples per batch', defaultText: '32' },
  ],
  examples: ['adapters pals-eval --run runs/pals', 'adapters pals-eval --run runs/pals --task rte=rte/test.tsv'],
};

interface TaskArg {
  readonly name: string;
  readonly train: string;
  readonly eval?: string;
}

function parseTasks(args: ParsedArgs, cwd: string, maxFiles: 1 | 2): TaskArg[] {
  const form = maxFiles === 2 ? 'NAME=TRAIN[,EVAL]' : 'NAME=FILE';
  const tasks = args.strings('task').map((t): TaskArg => {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new UsageError(`--task ${t}: expected ${form}, e.g. --task rte=${maxFiles === 2 ? 'train.tsv,dev.tsv' : 'dev.tsv'}`, args.command);
    const name = t.slice(0, eq);
    if (!NAME_RE.test(name)) throw new UsageError(`--task ${t}: the name '${name}' may use only letters, digits, _ and -`, args.command);
    const files = t.slice(eq + 1).split(',');
    if (files.length > maxFiles || files.some((f) => f === '')) throw new UsageError(`--task ${t}: expected ${form}`, args.command);
    return { name, train: path.resolve(cwd, files[0] as string), ...(files[1] !== undefined ? { eval: path.resolve(cwd, files[1]) } : {}) };
  });
  const seen = new Set<string>();
  for (const t of tasks) {
    if (seen.has(t.name)) throw new UsageError(`--task ${t.name} is given twice`, args.command);
    seen.add(t.name);
  }
  return tasks;
}

/** `--sampling`: one of core-graph's task samplings. */
export function parseSampling(text: string, command: string): TaskSampling {
  if (text === 'annealed' || text === 'proportional' || text === 'uniform' || text === 'all') return text;
  if (text === 'round-robin') return 'roundRobin';
  const t = /^temperature=(.+)$/.exec(text);
  const temperature = t ? Number(t[1]) : NaN;
  if (Number.isFinite(temperature) && temperature > 0) return { temperature };
  throw new UsageError(`--sampling must be annealed, proportional, uniform, round-robin, all or temperature=T (T > 0), got '${text}'`, command);
}

function pooling(args: ParsedArgs): 'mean' | 'cls' | 'pooler' {
  const p = args.string('pooling') ?? 'mean';
  if (p !== 'mean' && p !== 'cls' && p !== 'pooler') throw new UsageError(`--pooling must be mean, cls or pooler, got '${p}'`, args.command);
  return p;
}

function labelsOf(examples: Parameters<typeof LabelVocab.fromExamples>[0], file: string): LabelVocab {
  let labels: LabelVocab;
  try {
    labels = LabelVocab.fromExamples(examples);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  if (labels.size < 2) throw new UsageError(`${file}: the training data has only one label ('${labels.labels[0]}'); a classifier needs at least two`);
  return labels;
}

/** The sites and mode of an adapter's splices (labels.json, so core's eval/predict re-place it exactly). */
const placementOf = (graph: Graph, name: string) => ({ mode: 'parallel', sites: graph.splices.filter((s) => s.adapters.includes(name)).map((s) => s.site) });

export async function palsTrainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const tasksGiven = parseTasks(args, ctx.cwd, 2);
  if (tasksGiven.length === 0) throw new UsageError('give at least one --task NAME=TRAIN[,EVAL]', args.command);
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const samplingText = args.string('sampling') ?? 'annealed';
  const sampling = parseSampling(samplingText, args.command);
  const pool = pooling(args);
  const maxLength = args.number('max-length') ?? 128;
  const epochs = args.number('epochs') ?? 3;
  const batchSize = args.number('batch-size') ?? 16;
  const seed = args.number('seed') ?? 42;
  const dS = args.number('d-s');
  const heads = args.number('heads');
  const configInput = { ...(dS !== undefined ? { d_s: dS } : {}), ...(heads !== undefined ? { heads } : {}) };
  let config: PalsConfig;
  try {
    config = resolveConfig(pals, configInput, 'config') as unknown as PalsConfig;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--d-s / --heads: ${e.message}`, args.command);
    throw e;
  }
  const backend = await backendBanner(args, ctx);

  const columns = new Map<string, { train: Columns; eval?: Columns }>();
  for (const t of tasksGiven) {
    const train = await detectColumns(t.train, givenColumns(args), true);
    columns.set(t.name, { train, ...(t.eval !== undefined ? { eval: await detectColumns(t.eval, givenColumns(args, { ...train }), true) } : {}) });
  }
  await mkdir(outDir, { recursive: true });
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const pre = await loadPretrained(model.dir, { seed });
  try {
    const tasks: Array<PalsTask & { labels: LabelVocab; columns: Columns; evalFile?: string }> = [];
    for (const t of tasksGiven) {
      const cols = columns.get(t.name) as { train: Columns; eval?: Columns };
      const trainRaw = await readColumns(t.train, cols.train);
      const labels = labelsOf(trainRaw, t.train);
      const train = encodeExamples(trainRaw, tokenizer, labels, maxLength, t.train);
      const evalSet = t.eval !== undefined && cols.eval ? encodeExamples(await readColumns(t.eval, cols.eval), tokenizer, labels, maxLength, t.eval) : [];
      tasks.push({
        name: t.name, numLabels: labels.size, train, ...(evalSet.length > 0 ? { eval: evalSet } : {}), head: { type: 'classification', name: t.name, numLabels: labels.size, pooling: pool },
        labels, columns: cols.train, ...(t.eval !== undefined ? { evalFile: t.eval } : {}),
      });
      info(ctx, `task ${t.name}: ${train.length} training examples${evalSet.length > 0 ? `, ${evalSet.length} dev examples` : ''}; labels: ${labels.labels.join(', ')}`);
    }
    const hidden = (pre.graph.meta['config'] as { hiddenSize: number }).hiddenSize;
    const ds = palsWidth(config, hidden);
    const totalExamples = tasks.reduce((n, t) => n + t.train.length, 0);
    const steps = args.number('max-steps') ?? epochs * Math.ceil(totalExamples / batchSize);
    info(ctx, `PALs per task: d_s ${ds}, ${config.heads} heads, V^E/V^D shared by the layers; base frozen; ${steps} steps over ${epochs} epoch(s), sampling ${samplingText}`);

    const metrics = MetricsWriter.open(path.join(outDir, 'metrics.jsonl'), { fresh: true });
    const progress = new ProgressReporter({ stream: ctx.stderr, every: 10 });
    const drawn: Record<string, number> = Object.fromEntries(tasks.map((t) => [t.name, 0]));
    let result;
    try {
      result = trainPals({
        base: pre.graph, store: pre.store, tasks, config: configInput, sampling, epochs, steps, batchSize, learningRate: args.number('lr') ?? 1e-3, seed, padId: tokenizer.padId,
        onRecord: (r: MultiTaskRecord) => {
          for (const t of r.tasks) drawn[t] = (drawn[t] ?? 0) + 1;
          metrics.write({ type: 'step', step: r.step, totalSteps: steps, epoch: r.epoch, loss: r.loss, losses: Object.fromEntries(r.tasks.map((t, i) => [t, r.losses[i]])), lr: r.lr, gradNorm: r.gradNorm });
          progress.onRecord({ type: 'step', step: r.step, totalSteps: steps, loss: r.loss, seconds: r.seconds });
        },
      });
    } catch (e) {
      if (e instanceof PlacementError || e instanceof ConfigError) throw new UsageError(e.message, args.command);
      throw e;
    } finally {
      progress.finish();
    }

    const registry = createRegistry([pals]);
    const summary = [];
    for (const task of tasks) {
      const graph = result.graphs[task.name] as Graph;
      const dir = path.join(outDir, task.name);
      await saveAdapter(dir, graph, pre.store, task.name, { head: task.name, registry, labels: task.labels.labels });
      await writeJsonAtomic(path.join(dir, 'labels.json'), {
        labels: task.labels.labels, adapter: task.name, head: task.name, plugin: 'pals', spec: 'pals', model: model.dir === path.resolve(ctx.cwd, modelSpec) ? model.dir : model.name,
        maxLength, columns: task.columns, placement: placementOf(graph, task.name),
      });
      const e: EvalResult | undefined = result.evals[task.name];
      if (e) metrics.write({ type: 'final', task: task.name, step: steps, ...e });
      summary.push({
        name: task.name, dir: task.name, labels: task.labels.labels, columns: task.columns, eval: task.evalFile ?? null, trainExamples: task.train.length, evalExamples: task.eval?.length ?? 0,
        stepsDrawn: drawn[task.name] ?? 0, accuracy: e?.accuracy ?? null, f1: e?.f1 ?? null, mcc: e?.mcc ?? null, evalLoss: e?.loss ?? null, majorityBaseline: task.eval ? majorityShare(task.eval) : null,
      });
      out(ctx, `${task.name}: accuracy ${fmt(e?.accuracy)}  F1 ${fmt(e?.f1)}  MCC ${fmt(e?.mcc)}  (${task.eval?.length ?? 0} dev examples; majority ${task.eval ? fmt(majorityShare(task.eval)) : 'n/a'}; ${drawn[task.name] ?? 0} of ${steps} steps)  saved: ${shortPath(ctx.cwd, dir)}`);
    }
    const first = result.graphs[(tasks[0] as PalsTask).name] as Graph;
    const params = parameterSummary(first, (p) => p.owner === `adapter:${(tasks[0] as PalsTask).name}`);
    const run: PalsRunFile & Record<string, unknown> = {
      model: model.dir === path.resolve(ctx.cwd, modelSpec) ? model.dir : model.name, maxLength,
      tasks: summary.map((s) => ({ name: s.name, dir: s.dir, labels: s.labels, columns: s.columns, eval: s.eval })),
      backend, config, d_s: ds, sampling: samplingText, epochs, steps, batchSize, seed,
      palsParamsPerTask: params.trainable, sharedParamsPerTask: palsSharedParams(ds, hidden), baseParams: params.base, palsPercentOfBasePerTask: (100 * params.trainable) / params.base,
      results: summary, trainSeconds: result.history.at(-1)?.seconds ?? 0, seconds: (Date.now() - started) / 1000,
    };
    await writeJsonAtomic(path.join(outDir, PALS_RUN_FILE), run);
    out(ctx, `PALs: ${params.trainable} parameters per task (${((100 * params.trainable) / params.base).toFixed(3)}% of the base's ${params.base}), ${tasks.length} tasks`);
    out(ctx, `wall time: ${formatDuration((Date.now() - started) / 1000)} (${steps} steps) on ${backend}; saved: ${shortPath(ctx.cwd, outDir)} (${PALS_RUN_FILE}, metrics.jsonl, one folder per task)`);
  } finally {
    pre.store.dispose();
  }
}

const RUN_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['model', 'maxLength', 'tasks'],
  properties: {
    model: { type: 'string' },
    maxLength: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    tasks: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', required: ['name', 'dir', 'labels', 'columns', 'eval'],
        properties: {
          name: { type: 'string' }, dir: { type: 'string' }, labels: { type: 'array', minItems: 1, items: { type: 'string' } },
          columns: { type: 'object', required: ['text'], additionalProperties: false, properties: { text: { type: 'string' }, pair: { type: 'string' }, label: { type: 'string' } } },
          eval: { anyOf: [{ type: 'null' }, { type: 'string' }] },
        },
      },
    },
  },
};

/** Reads and checks pals_run.json: schema, task names, and task folders that stay inside the run directory. */
export async function readPalsRun(dir: string): Promise<PalsRunFile> {
  const file = path.join(dir, PALS_RUN_FILE);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${code === 'ENOENT' ? `no ${PALS_RUN_FILE} in ${dir}; pass the directory 'adapters pals-train --out' wrote` : `${file} is not valid JSON`}`, 'pals-eval');
  }
  // The file also holds the run's settings and results; only what pals-eval reads is checked.
  const v = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const read = Object.fromEntries(['model', 'maxLength', 'tasks'].filter((k) => k in v).map((k) => [k, v[k]]));
  try {
    validateSchema(RUN_SCHEMA, read, '$');
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${file}: ${e.path.replace(/^\$\.?/, '') || 'value'}`, e.message.slice(e.path.length + 2));
    throw e;
  }
  const run = read as unknown as PalsRunFile;
  run.tasks.forEach((t, i) => {
    if (!NAME_RE.test(t.name) || t.dir !== t.name) throw new ConfigError(`${file}: tasks[${i}]`, `name and dir must be the same plain name (letters, digits, _ -), got ${JSON.stringify(t.name)} / ${JSON.stringify(t.dir)}`);
  });
  return run;
}

export async function palsEvalCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const runDir = path.resolve(ctx.cwd, args.requireString('run', 'the directory pals-train wrote'));
  const run = await readPalsRun(runDir);
  const given = parseTasks(args, ctx.cwd, 1);
  for (const g of given) if (!run.tasks.some((t) => t.name === g.name)) throw new UsageError(`--task ${g.name}: the run has no such task (tasks: ${run.tasks.map((t) => t.name).join(', ')})`, args.command);
  const chosen = given.length > 0 ? run.tasks.filter((t) => given.some((g) => g.name === t.name)) : run.tasks;
  const fileOf = (name: string, recorded: string | null) => given.find((g) => g.name === name)?.train ?? recorded;
  const missing = chosen.find((t) => fileOf(t.name, t.eval) === null);
  if (missing) throw new UsageError(`task '${missing.name}' was trained without a dev file: give --task ${missing.name}=FILE`, args.command);
  const backend = await backendBanner(args, ctx);
  const model = await resolveModel(args.string('model') ?? run.model, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const pre = await loadPretrained(model.dir);
  const registry = createRegistry([pals]);
  const batchSize = args.number('batch-size') ?? 32;
  const results: Record<string, EvalResult & { majorityBaseline: number; file: string }> = {};
  try {
    for (const t of chosen) {
      const file = fileOf(t.name, t.eval) as string;
      const columns = await detectColumns(file, { ...t.columns }, true);
      const examples: TrainExample[] = encodeExamples(await readColumns(file, columns), tokenizer, new LabelVocab(t.labels), run.maxLength, file);
      if (examples.length === 0) throw new UsageError(`${file}: no examples`, args.command);
      const loaded = await loadAdapter(path.join(runDir, t.dir), pre.graph, pre.store, registry);
      const e = evaluate(new Executor(loaded.graph, pre.store), `${loaded.head ?? t.name}.logits`, examples, { batchSize, padId: tokenizer.padId });
      results[t.name] = { ...e, majorityBaseline: majorityShare(examples), file };
      out(ctx, `${t.name}: accuracy ${fmt(e.accuracy)}  F1 ${fmt(e.f1)}  MCC ${fmt(e.mcc)}  (${e.count} examples of ${shortPath(ctx.cwd, file)}; majority ${fmt(majorityShare(examples))})`);
    }
  } finally {
    pre.store.dispose();
  }
  await writeJsonAtomic(path.join(runDir, 'pals_eval.json'), { model: model.name, backend, results });
}

/** The subcommands this package adds to the `adapters` CLI. */
export const commands: CliCommand[] = [
  { spec: PALS_TRAIN_SPEC, run: palsTrainCommand },
  { spec: PALS_EVAL_SPEC, run: palsEvalCommand },
];

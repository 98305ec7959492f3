// `adapters pals-train` / `adapters pals-eval`: multi-task PALs from the command line (exported as `commands`, found
// by the CLI's plugin discovery). pals-train writes one folder per task (PALs adapter + head + its own run.json, so
// `adapters eval --run OUT/NAME` and `--adapter-dir OUT/NAME` work too) and OUT/run.json listing every task, with
// PALs' settings and results under `extras.pals`; pals-eval reads that.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { EvalResult, Graph, JsonSchema, MultiTaskRecord, RunManifest, TrainExample } from '@adapters/core-graph';
import type { CliCommand, CliContext, Columns, CommandSpec, ParsedArgs } from '@adapters/cli';
import { ConfigError, createRegistry, evaluate, Executor, LabelVocab, loadPretrained, loadRunHead, loadTokenizer, parameterSummary, PlacementError, readRunManifest, resolveConfig, RUN_FILE, RUN_FORMAT, saveAdapter, singleAdapterRun, validateRunManifest, validateSchema, writeJsonAtomic, writeRunDir } from '@adapters/core-graph';
import { backendBanner, checkpointedLine, checkpointingArg, COLUMN_OPTIONS, detectColumns, encodeExamples, formatDuration, givenColumns, majorityShare, MetricsWriter, option, parseSampling, parseTaskArgs, poolingArg, ProgressReporter, readColumns, resolveModel, shortPath, trainingLabels, UsageError } from '@adapters/cli';
import { palsSharedParams, palsWidth } from './config';
import type { PalsConfig } from './config';
import { pals } from './plugin';
import type { PalsTask } from './train';
import { trainPals } from './train';

/** pals-train's key in the top-level run.json's extras: each task's dev file, the settings and the results. */
export const PALS_EXTRAS = 'pals';

/** What pals-eval reads of `extras.pals` (the rest, settings and results, is for people and tools). */
export interface PalsExtras {
  readonly tasks: ReadonlyArray<{ readonly name: string; readonly eval: string | null }>;
}

/** A top-level pals-train run.json holds one model per task: core's eval cannot pick one, so it names these commands. */
export const runExtrasCommands: Readonly<Record<string, string>> = {
  [PALS_EXTRAS]: 'adapters pals-eval --run DIR (every task), or adapters eval --run DIR --task TASK (one task)',
};

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
const fmt = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(4));

export const PALS_TRAIN_SPEC: CommandSpec = {
  name: 'pals-train',
  brief: 'multi-task PALs (BERT and PALs): one set of projected attention layers + head per task, annealed task sampling',
  summary:
    'Trains one PALs adapter (per-layer low-dimensional attention between projections shared across layers, in parallel to each layer) and one ' +
    'classification head per task, all tasks jointly on one frozen base, drawing a task per step with the annealed sampling of Stickland & Murray ' +
    '(p ∝ N^α, α = 1 − 0.8·(e−1)/(E−1)). Writes OUT/NAME per task (adapter, head, run.json), metrics.jsonl and OUT/run.json (every task; settings and per-task dev metrics under extras.pals).',
  usage: '--model DIR|NAME --task NAME=TRAIN[,EVAL] [--task ...] --out DIR [options]',
  options: [
    option('model'),
    option('task'),
    option('sampling'),
    { name: 'd-s', type: 'int', min: 1, metavar: 'N', help: 'width of the projected attention (d_s)', defaultText: '204·hidden/768 rounded to a multiple of --heads (108 for MiniLM)' },
    { name: 'heads', type: 'int', min: 1, metavar: 'N', help: 'attention heads of each PAL', defaultText: '12' },
    option('epochs', { help: 'epochs (the annealing runs over them)', metavar: 'E' }),
    option('maxSteps', { help: 'optimizer steps in all', defaultText: 'epochs × all training examples / batch size' }),
    option('batchSize'),
    option('maxLength'),
    option('pooling', { help: 'how the classification heads read the sequence' }),
    option('gradientCheckpointing'),
    option('lr'),
    option('seed'),
    ...COLUMN_OPTIONS,
    option('out', { help: 'output directory (one sub-directory per task)' }),
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
    option('run', { help: 'the directory pals-train wrote' }),
    { name: 'task', type: 'string', repeat: true, metavar: 'NAME=FILE', help: 'evaluate task NAME on FILE instead of its recorded dev file (only these tasks)' },
    option('model', { help: 'the base model', defaultText: 'the model recorded in run.json' }),
    option('batchSize', { help: 'examples per batch', defaultText: '32' }),
  ],
  examples: ['adapters pals-eval --run runs/pals', 'adapters pals-eval --run runs/pals --task rte=rte/test.tsv'],
};

/** The sites and mode of an adapter's splices (run.json, so core's eval/predict re-place it exactly). */
const placementOf = (graph: Graph, name: string) => ({ mode: 'parallel' as const, sites: graph.splices.filter((s) => s.adapters.includes(name)).map((s) => s.site) });

export async function palsTrainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const tasksGiven = parseTaskArgs(args, ctx.cwd, 2);
  if (tasksGiven.length === 0) throw new UsageError('give at least one --task NAME=TRAIN[,EVAL]', args.command);
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const samplingText = args.string('sampling') ?? 'annealed';
  const sampling = parseSampling(samplingText, args.command);
  const checkpointLayers = checkpointingArg(args);
  const pool = poolingArg(args);
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
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const pre = await loadPretrained(model.dir, { seed });
  try {
    const tasks: Array<PalsTask & { labels: LabelVocab; columns: Columns; evalFile?: string }> = [];
    for (const t of tasksGiven) {
      const cols = columns.get(t.name) as { train: Columns; eval?: Columns };
      const trainRaw = await readColumns(t.train, cols.train);
      const labels = trainingLabels(trainRaw, t.train);
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

    // Everything is written into a staging directory and swapped in as a whole (a failed or killed run leaves the
    // previous one intact): metrics, one folder per task with its own run.json, then the top-level run.json.
    const written = await writeRunDir(outDir, async (runDir) => {
      const metrics = MetricsWriter.open(path.join(runDir, 'metrics.jsonl'), { fresh: true });
      const progress = new ProgressReporter({ stream: ctx.stderr, every: 10 });
      const drawn: Record<string, number> = Object.fromEntries(tasks.map((t) => [t.name, 0]));
      let result;
      try {
        result = trainPals({
          base: pre.graph, store: pre.store, tasks, config: configInput, sampling, epochs, steps, batchSize, learningRate: args.number('lr') ?? 1e-3, seed, padId: tokenizer.padId, checkpointLayers,
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
      if (result.checkpointedFrom !== undefined) info(ctx, checkpointedLine(result.checkpointedFrom));

      const registry = createRegistry([pals]);
      const modelRecord = model.dir === path.resolve(ctx.cwd, modelSpec) ? model.dir : model.name;
      const summary = [];
      const lines: string[] = [];
      for (const task of tasks) {
        const graph = result.graphs[task.name] as Graph;
        const dir = path.join(runDir, task.name);
        await saveAdapter(dir, graph, pre.store, task.name, { head: task.name, registry, labels: task.labels.labels });
        // Each task folder is a run of its own (adapter and head saved together), for core's eval / predict.
        await writeJsonAtomic(path.join(dir, RUN_FILE), singleAdapterRun({
          model: modelRecord, adapter: task.name, head: task.name, dir: '.', labels: task.labels.labels, placement: placementOf(graph, task.name), maxLength, columns: task.columns,
        }));
        const e: EvalResult | undefined = result.evals[task.name];
        if (e) metrics.write({ type: 'final', task: task.name, step: steps, ...e });
        summary.push({
          name: task.name, eval: task.evalFile ?? null, columns: task.columns, labels: task.labels.labels, trainExamples: task.train.length, evalExamples: task.eval?.length ?? 0,
          stepsDrawn: drawn[task.name] ?? 0, accuracy: e?.accuracy ?? null, f1: e?.f1 ?? null, mcc: e?.mcc ?? null, evalLoss: e?.loss ?? null, majorityBaseline: task.eval ? majorityShare(task.eval) : null,
        });
        lines.push(`${task.name}: accuracy ${fmt(e?.accuracy)}  F1 ${fmt(e?.f1)}  MCC ${fmt(e?.mcc)}  (${task.eval?.length ?? 0} dev examples; majority ${task.eval ? fmt(majorityShare(task.eval)) : 'n/a'}; ${drawn[task.name] ?? 0} of ${steps} steps)  saved: ${shortPath(ctx.cwd, path.join(outDir, task.name))}`);
      }
      const first = result.graphs[(tasks[0] as PalsTask).name] as Graph;
      const params = parameterSummary(first, (p) => p.owner === `adapter:${(tasks[0] as PalsTask).name}`);
      const extras = {
        tasks: summary, backend, config, d_s: ds, sampling: samplingText, epochs, steps, batchSize, seed,
        palsParamsPerTask: params.trainable, sharedParamsPerTask: palsSharedParams(ds, hidden), baseParams: params.base, palsPercentOfBasePerTask: (100 * params.trainable) / params.base,
        trainSeconds: result.history.at(-1)?.seconds ?? 0, seconds: (Date.now() - started) / 1000,
      };
      // The top-level run: every task's adapter and head (each in its task folder, at its own placement); the model
      // for one task is that task's adapter alone, which the per-task run.json describes.
      await writeJsonAtomic(path.join(runDir, RUN_FILE), validateRunManifest({
        format: RUN_FORMAT, model: modelRecord,
        adapters: tasks.map((t) => ({ name: t.name, dir: t.name, placement: placementOf(result.graphs[t.name] as Graph, t.name) })),
        heads: tasks.map((t) => ({ name: t.name, dir: t.name, labels: [...t.labels.labels] })),
        maxLength, columns: { ...(tasks[0] as { columns: Columns }).columns }, extras: { [PALS_EXTRAS]: extras },
      }, path.join(outDir, RUN_FILE)));
      return { lines, params };
    });
    for (const line of written.lines) out(ctx, line);
    const { params } = written;
    out(ctx, `PALs: ${params.trainable} parameters per task (${((100 * params.trainable) / params.base).toFixed(3)}% of the base's ${params.base}), ${tasks.length} tasks`);
    out(ctx, `wall time: ${formatDuration((Date.now() - started) / 1000)} (${steps} steps) on ${backend}; saved: ${shortPath(ctx.cwd, outDir)} (${RUN_FILE}, metrics.jsonl, one folder per task)`);
  } finally {
    pre.store.dispose();
  }
}

const EXTRAS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['tasks'],
  properties: {
    tasks: {
      type: 'array', minItems: 1,
      // Each task also records its columns, labels and results: read by people and tools, not by pals-eval.
      items: { type: 'object', required: ['name', 'eval'], additionalProperties: true, properties: { name: { type: 'string' }, eval: { anyOf: [{ type: 'null' }, { type: 'string' }] } } },
    },
  },
  additionalProperties: true,
};

/** A pals-train run: its run.json (checked by core) and `extras.pals`, each task naming one of the run's adapters. */
export async function readPalsRun(dir: string): Promise<{ manifest: RunManifest; extras: PalsExtras; dir: string }> {
  const file = path.join(dir, RUN_FILE);
  if (!(await stat(file).then(() => true, () => false))) throw new UsageError(`no ${RUN_FILE} in ${dir}; pass the directory 'adapters pals-train --out' wrote`, 'pals-eval');
  const manifest = await readRunManifest(dir);
  const value = manifest.extras?.[PALS_EXTRAS];
  if (value === undefined) throw new ConfigError(`${file}: extras.${PALS_EXTRAS}`, "is missing: this is not a pals-train run (pals-train's output directory holds one)");
  validateSchema(EXTRAS_SCHEMA, value, `${file}: extras.${PALS_EXTRAS}`);
  const extras = value as PalsExtras;
  extras.tasks.forEach((t, i) => {
    const a = manifest.adapters.find((x) => x.name === t.name);
    if (!a || a.dir !== t.name) throw new ConfigError(`${file}: extras.${PALS_EXTRAS}.tasks[${i}]`, `names task ${JSON.stringify(t.name)}, which is not an adapter of the run in the folder of that name`);
  });
  return { manifest, extras, dir };
}

export async function palsEvalCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const runDir = path.resolve(ctx.cwd, args.requireString('run', 'the directory pals-train wrote'));
  const run = await readPalsRun(runDir);
  const tasks = run.extras.tasks;
  const given = parseTaskArgs(args, ctx.cwd, 1);
  for (const g of given) if (!tasks.some((t) => t.name === g.name)) throw new UsageError(`--task ${g.name}: the run has no such task (tasks: ${tasks.map((t) => t.name).join(', ')})`, args.command);
  const chosen = given.length > 0 ? tasks.filter((t) => given.some((g) => g.name === t.name)) : tasks;
  const fileOf = (name: string, recorded: string | null) => given.find((g) => g.name === name)?.train ?? recorded;
  const missing = chosen.find((t) => fileOf(t.name, t.eval) === null);
  if (missing) throw new UsageError(`task '${missing.name}' was trained without a dev file: give --task ${missing.name}=FILE`, args.command);
  const backend = await backendBanner(args, ctx);
  const model = await resolveModel(args.string('model') ?? run.manifest.model, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const pre = await loadPretrained(model.dir);
  const registry = createRegistry([pals]);
  const batchSize = args.number('batch-size') ?? 32;
  const results: Record<string, EvalResult & { majorityBaseline: number; file: string }> = {};
  try {
    for (const t of chosen) {
      // Each task folder's own run.json: the same model core's `adapters eval --run DIR/TASK` builds.
      const loaded = await loadRunHead(path.join(runDir, t.name), pre.graph, pre.store, { registry });
      const file = fileOf(t.name, t.eval) as string;
      const columns = await detectColumns(file, { ...(loaded.manifest.columns as Columns) }, true);
      const examples: TrainExample[] = encodeExamples(await readColumns(file, columns), tokenizer, new LabelVocab(loaded.headLabels), loaded.manifest.maxLength, file);
      if (examples.length === 0) throw new UsageError(`${file}: no examples`, args.command);
      const e = evaluate(new Executor(loaded.graph, pre.store), loaded.output, examples, { batchSize, padId: tokenizer.padId });
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

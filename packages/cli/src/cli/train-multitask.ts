// `adapters train --task NAME=TRAIN[,EVAL] --task ...`: one adapter (any plugin, e.g. PALs, seq_bn, LoRA, MAM) and
// one classification head per task over one frozen base, all tasks trained jointly with core-graph's
// `trainMultiTask` (a task drawn per step by --sampling; annealed by default, as in Stickland & Murray 2019).
// Writes OUT/NAME per task (adapter + head + its own run.json: `adapters eval --run OUT/NAME`, or
// `adapters eval --run OUT --task NAME`), OUT/run.json listing every task (extras.multitask), metrics.jsonl and
// summary.json.
import * as path from 'path';
import type { EvalResult, Graph, HeadSpec, MultiTaskRecord, PlacementRule, SavedPlacement, SpliceMode, TrainExample } from '@adapters/core-graph';
import { adapter, addHead, applyPlacements, ConfigError, isUnionPlugin, LabelVocab, loadPretrained, loadTokenizer, maxSequenceLength, ownersPolicy, parameterSummary, PlacementError, readHfConfig, resolveConfig, RUN_FILE, RUN_FORMAT, saveAdapter, singleAdapterRun, trainMultiTask, validateRunManifest, writeJsonAtomic, writeRunDir } from '@adapters/core-graph';
import { checkpointedLine, formatDuration, MetricsWriter, ProgressReporter } from '../report/progress';
import type { ParsedArgs } from './args';
import { parseAdapterSpec, UsageError } from './args';
import type { CliContext } from './commands';
import { backendBanner, checkMaxLength, cliPlugins, placedSummary, readPlacementFile } from './commands';
import type { Columns } from './data';
import { detectColumns, encodeExamples, givenColumns, majorityShare, readColumns, resolveModel, sample, shortPath } from './data';
import { choosePlugin } from './plugins';
import { MULTITASK_EXTRAS, parseSampling, parseTaskArgs } from './tasks';
import { checkpointingArg } from './task-args';


/** Single-task options that mean nothing with --task. */
const SINGLE_TASK_ONLY = ['data', 'eval', 'name', 'full-finetune', 'eval-every', 'eval-subset', 'patience'] as const;

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
const fmt = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(4));

interface Task {
  readonly name: string;
  readonly trainFile: string;
  readonly evalFile?: string;
  readonly columns: Columns;
  readonly labels: LabelVocab;
  readonly train: readonly TrainExample[];
  readonly eval: readonly TrainExample[];
  readonly graph: Graph;
  readonly placement?: SavedPlacement;
}

export async function trainMultiTaskCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const given = parseTaskArgs(args, ctx.cwd, 2);
  const clash = SINGLE_TASK_ONLY.find((k) => args.has(k));
  if (clash !== undefined) throw new UsageError(`--${clash} is for one task; with --task each task names its own files, its adapter and head take the task's name, and each task is evaluated once at the end`, 'train');
  const specText = args.requireString('adapter', 'e.g. --adapter pals or --adapter seq_bn');
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const samplingText = args.string('sampling') ?? 'annealed';
  const sampling = parseSampling(samplingText, 'train');
  const checkpointLayers = checkpointingArg(args);
  const pooling = args.string('pooling') ?? 'mean';
  if (pooling !== 'mean' && pooling !== 'cls' && pooling !== 'pooler') throw new UsageError(`--pooling must be mean, cls or pooler, got '${pooling}'`, 'train');
  const epochs = args.number('epochs') ?? 3;
  const batchSize = args.number('batch-size') ?? 16;
  const learningRate = args.number('lr') ?? 1e-3;
  const seed = args.number('seed') ?? 42;
  const trainLimit = args.number('train-limit');
  const backend = await backendBanner(args, ctx);

  // Everything that can be checked without the model is checked first.
  const spec = parseAdapterSpec(specText);
  const { packages, registry, runtime } = cliPlugins(ctx);
  const choice = choosePlugin(packages, spec.name, spec.config);
  let config: Record<string, unknown>;
  try {
    config = resolveConfig(choice.plugin, choice.input, 'config');
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--adapter ${specText}: ${e.message}`, 'train');
    throw e;
  }
  const placementFile = args.string('placement');
  const placements = placementFile !== undefined ? await readPlacementFile(path.resolve(ctx.cwd, placementFile)) : [{}];
  const columns = new Map<string, { train: Columns; eval?: Columns }>();
  for (const t of given) {
    const train = await detectColumns(t.train, givenColumns(args), true);
    columns.set(t.name, { train, ...(t.eval !== undefined ? { eval: await detectColumns(t.eval, givenColumns(args, { ...train }), true) } : {}) });
  }

  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const maxLength = args.number('max-length') ?? Math.min(128, maxSequenceLength(await readHfConfig(model.dir)));
  await checkMaxLength(model.dir, maxLength);
  const tokenizer = await loadTokenizer(model.dir);
  const pre = await loadPretrained(model.dir, { seed });
  const union = isUnionPlugin(choice.plugin);
  try {
    const tasks: Task[] = [];
    for (const t of given) {
      const cols = columns.get(t.name) as { train: Columns; eval?: Columns };
      const trainRaw = sample(await readColumns(t.train, cols.train), trainLimit, seed);
      if (trainRaw.length === 0) throw new UsageError(`--task ${t.name}: ${t.train} has no examples`, 'train');
      let labels: LabelVocab;
      try {
        labels = LabelVocab.fromExamples(trainRaw);
      } catch (e) {
        throw new UsageError(`--task ${t.name}: ${t.train}: ${(e as Error).message}`, 'train');
      }
      if (labels.size < 2) throw new UsageError(`--task ${t.name}: ${t.train} has only one label ('${labels.labels[0]}'); a classifier needs at least two`, 'train');
      const train = encodeExamples(trainRaw, tokenizer, labels, maxLength, t.train);
      const evalSet = t.eval !== undefined && cols.eval ? encodeExamples(await readColumns(t.eval, cols.eval), tokenizer, labels, maxLength, t.eval) : [];
      const head: HeadSpec = { type: 'classification', name: t.name, numLabels: labels.size, pooling };
      const rules: PlacementRule[] = placements.map((p) => ({ ...p, adapter: adapter(choice.plugin, t.name, config) }));
      let placed;
      try {
        placed = applyPlacements(addHead(pre.graph, head), rules, runtime);
      } catch (e) {
        if (e instanceof PlacementError || e instanceof ConfigError) throw new UsageError(`${placementFile !== undefined ? `--placement ${placementFile}` : `--adapter ${specText}`}: ${e.message}`, 'train');
        throw e;
      }
      const where = placedSummary(placed.report);
      if (where.modes.length > 1 && !union) throw new UsageError('--placement: the rules use different modes for one adapter; the saved adapter can be re-applied with one mode only', 'train');
      pre.store.sync(placed.graph, seed);
      tasks.push({
        name: t.name, trainFile: t.train, ...(t.eval !== undefined ? { evalFile: t.eval } : {}), columns: cols.train, labels, train, eval: evalSet, graph: placed.graph,
        // A union (MAM, UniPELT) re-derives each component's placement from its config when loaded: nothing recorded.
        ...(union ? {} : { placement: { sites: where.sites, mode: where.modes[0] as SpliceMode } }),
      });
      info(ctx, `task ${t.name}: ${train.length} training examples${evalSet.length > 0 ? `, ${evalSet.length} dev examples` : ''}; labels: ${labels.labels.join(', ')}`);
    }
    const owners = tasks.flatMap((t) => [`adapter:${t.name}`, `head:${t.name}`]);
    const first = tasks[0] as Task;
    const params = parameterSummary(first.graph, (p) => p.owner === `adapter:${first.name}`);
    const totalExamples = tasks.reduce((n, t) => n + t.train.length, 0);
    const steps = args.number('max-steps') ?? epochs * Math.ceil(totalExamples / batchSize);
    info(ctx, `adapter per task: ${choice.plugin.name}${choice.via === 'preset' ? ` preset ${spec.name}` : ''}, ${params.trainable.toLocaleString('en-US')} parameters each; base frozen; ${steps} steps over ${epochs} epoch(s), sampling ${samplingText}, batch ${batchSize}, lr ${learningRate}, max length ${maxLength}`);

    // Staged and swapped in as a whole: a failed or killed run leaves the previous one intact.
    const written = await writeRunDir(outDir, async (runDir) => {
      const metrics = MetricsWriter.open(path.join(runDir, 'metrics.jsonl'), { fresh: true });
      const progress = new ProgressReporter({ stream: ctx.stderr, every: Math.max(1, Math.min(10, Math.ceil(steps / 20))) });
      const drawn: Record<string, number> = Object.fromEntries(tasks.map((t) => [t.name, 0]));
      let result;
      try {
        result = trainMultiTask({
          store: pre.store, policy: ownersPolicy(owners), sampling, steps, epochs, batchSize, learningRate, seed, padId: tokenizer.padId, checkpointLayers,
          tasks: tasks.map((t) => ({ name: t.name, graph: t.graph, output: `${t.name}.logits`, train: t.train, ...(t.eval.length > 0 ? { eval: t.eval } : {}) })),
          onRecord: (r: MultiTaskRecord) => {
            for (const name of r.tasks) drawn[name] = (drawn[name] ?? 0) + 1;
            metrics.write({ type: 'step', step: r.step, totalSteps: steps, epoch: r.epoch, loss: r.loss, losses: Object.fromEntries(r.tasks.map((name, i) => [name, r.losses[i]])), lr: r.lr, gradNorm: r.gradNorm });
            progress.onRecord({ type: 'step', step: r.step, totalSteps: steps, loss: r.loss, seconds: r.seconds });
          },
        });
      } finally {
        progress.finish();
      }
      if (result.checkpointedFrom !== undefined) info(ctx, checkpointedLine(result.checkpointedFrom));
      const modelRecord = model.dir === path.resolve(ctx.cwd, modelSpec) ? model.dir : model.name;
      const perTask = [];
      const lines: string[] = [];
      for (const t of tasks) {
        const dir = path.join(runDir, t.name);
        await saveAdapter(dir, t.graph, pre.store, t.name, { head: t.name, registry, labels: t.labels.labels });
        await writeJsonAtomic(path.join(dir, RUN_FILE), singleAdapterRun({
          model: modelRecord, adapter: t.name, head: t.name, dir: '.', labels: t.labels.labels, ...(t.placement ? { placement: t.placement } : {}), maxLength, columns: t.columns,
        }));
        const e: EvalResult | undefined = result.evals[t.name];
        if (e) metrics.write({ type: 'final', task: t.name, step: steps, ...e });
        const majority = t.eval.length > 0 ? majorityShare(t.eval) : null;
        perTask.push({
          name: t.name, train: t.trainFile, eval: t.evalFile ?? null, trainExamples: t.train.length, evalExamples: t.eval.length, stepsDrawn: drawn[t.name] ?? 0,
          accuracy: e?.accuracy ?? null, f1: e?.f1 ?? null, mcc: e?.mcc ?? null, evalLoss: e?.loss ?? null, majorityBaseline: majority,
        });
        lines.push(`${t.name}: accuracy ${fmt(e?.accuracy)}  F1 ${fmt(e?.f1)}  MCC ${fmt(e?.mcc)}  (${t.eval.length} dev examples; majority ${majority === null ? 'n/a' : fmt(majority)}; ${drawn[t.name] ?? 0} of ${steps} steps)  saved: ${shortPath(ctx.cwd, path.join(outDir, t.name))}`);
      }
      // The top-level run lists every task's adapter and head (each in its task folder); core's eval/predict pick
      // one with --task NAME, which loads the task folder's own run.json (that task's adapter alone).
      await writeJsonAtomic(path.join(runDir, RUN_FILE), validateRunManifest({
        format: RUN_FORMAT, model: modelRecord,
        adapters: tasks.map((t) => ({ name: t.name, dir: t.name, ...(t.placement ? { placement: t.placement } : {}) })),
        heads: tasks.map((t) => ({ name: t.name, dir: t.name, labels: [...t.labels.labels] })),
        maxLength, columns: { ...first.columns },
        extras: { [MULTITASK_EXTRAS]: { adapter: specText, sampling: samplingText, steps, epochs, tasks: perTask.map((t) => ({ name: t.name, eval: t.eval })) } },
      }, path.join(outDir, RUN_FILE)));
      const seconds = (Date.now() - started) / 1000;
      await writeJsonAtomic(path.join(runDir, 'summary.json'), {
        adapter: specText, plugin: choice.plugin.name, config, model: model.name, backend, sampling: samplingText, steps, epochs, batchSize, learningRate, maxLength, seed,
        adapterParamsPerTask: params.trainable, baseParams: params.base, adapterPercentOfBasePerTask: params.base === 0 ? 0 : (100 * params.trainable) / params.base,
        tasks: perTask, trainSeconds: result.history.at(-1)?.seconds ?? 0, seconds,
      });
      return { lines, seconds };
    });
    for (const line of written.lines) out(ctx, line);
    out(ctx, `adapter per task: ${params.trainable.toLocaleString('en-US')} parameters (${((100 * params.trainable) / params.base).toFixed(3)}% of the base's ${params.base.toLocaleString('en-US')}), ${tasks.length} tasks`);
    out(ctx, `wall time: ${formatDuration(written.seconds)} (${steps} steps) on ${backend}; saved: ${shortPath(ctx.cwd, outDir)} (${RUN_FILE}, summary.json, metrics.jsonl, one folder per task)`);
  } finally {
    pre.store.dispose();
  }
}

// `adapters fusion-*` subcommands: the two-stage AdapterFusion recipe (stage 1 ST-A or MT-A, stage 2 fusion),
// fusion introspection and pruning, on core-graph's CLI (exported as `commands`, found by plugin discovery).
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { bottleneck } from '@adapters/adapter-bottleneck';
import type { AdapterRegistry, AnyAdapterPlugin, EvalResult, Graph, HeadSpec, JsonSchema, TaskSampling, TextTokenizer, TrainExample, TrainRecord, WeightStore } from '@adapters/core-graph';
import { adapter, applyPlacements, ConfigError, createRegistry, evaluate, Executor, HEAD_CONFIG_FILE, LabelVocab, loadAdapter, loadPretrained, loadRun as coreLoadRun, loadTokenizer, ownersPolicy, parameterSummary, PlacementError, resolveConfig, RUN_FILE, RUN_FORMAT, saveAdapter, saveHead, singleAdapterRun, stageRunDir, validateRunManifest, validateSchema, writeJsonAtomic } from '@adapters/core-graph';
import type { AdapterSpec, CliCommand, CliContext, Columns, CommandSpec, GradientCheckpointing, OptionSpec, ParsedArgs, PluginPackage } from '@adapters/cli';
import { backendBanner, checkpointedLine, checkpointingArg, choosePlugin, COLUMN_OPTIONS, detectColumns, discoverPlugins, encodeExamples, formatDuration, givenColumns, majorityShare, MetricsWriter, option, parseAdapterSpec, parseTaskArgs, poolingArg, ProgressReporter, readColumns, readRunArg, resolveAdapterDir, resolveModel, shortPath, trainingLabels, UsageError, writeTrainingCurves } from '@adapters/cli';
import type { FusionConfigInput } from './config';
import { resolveFusionConfig } from './config';
import { fusionAttention, fusionAttentionTable } from './introspect';
import { writeFusionReport } from './report';
import type { FusionAttention } from './introspect';
import { FUSION_CONFIG_FILE, FUSION_WEIGHTS_FILE, loadFusion, saveFusion } from './hub';
import type { FusionSpec } from './model';
import { adapterUses, applyFusion } from './model';
import { pruneFusion } from './prune';
import type { FusionTask } from './train';
import { fusionGraph, trainFusion, trainMultiTaskAdapters, trainSingleTaskAdapters } from './train';

/** fusion-stage2's key in run.json's extras: `{ fusion: NAME, pruned? }` (the rest of the run is core's manifest). */
export const FUSION_EXTRAS = 'fusion';

/** A fusion run as fusion-inspect / fusion-prune use it: run.json's fields, with the fusion's extras. */
export interface FusionRunFile {
  /** The --model given (a directory or a known name). */
  readonly model: string;
  readonly fusion: string;
  readonly head: string;
  readonly labels: readonly string[];
  readonly maxLength: number;
  readonly columns: Columns;
  /** The fused adapters, saved under `adapters/NAME` of the fusion directory. */
  readonly adapters: ReadonlyArray<{ readonly name: string; readonly dir: string }>;
  readonly pruned?: { readonly topK: number | null; readonly dropFirst: number; readonly from: string };
}

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
const fmt = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(4));
const NAME_RE = /^[A-Za-z0-9_-]+$/;

const MODEL: OptionSpec = option('model');
const TRAINING: readonly OptionSpec[] = [
  option('epochs'),
  option('maxSteps'),
  option('batchSize'),
  option('maxLength'),
  option('pooling', { help: 'how the classification heads read the sequence' }),
  option('gradientCheckpointing'),
  option('evalEvery', { help: 'evaluate every N steps (best weights are kept)', defaultText: 'at the end' }),
  option('seed'),
];
const LR = (defaultText: string): OptionSpec => option('lr', { defaultText });

export const STAGE1_SPEC: CommandSpec = {
  name: 'fusion-stage1',
  brief: 'AdapterFusion stage 1: one adapter + head per task (ST-A), or jointly (--mta)',
  summary:
    'AdapterFusion stage 1. ST-A (default): trains one adapter and classification head per task on its own data with the base frozen. ' +
    'MT-A (--mta): trains all task adapters and heads together with a multi-task loss. Each task is saved to OUT/NAME in AdapterHub layout ' +
    "(adapter, head, run.json: usable with 'adapters eval/predict --run OUT/NAME'), with metrics.jsonl; OUT/stage1.json summarises.",
  usage: '--model DIR|NAME --task NAME=TRAIN[,EVAL] [--task ...] [--adapter SPEC] [--mta] --out DIR [options]',
  options: [
    MODEL,
    { name: 'task', type: 'string', repeat: true, metavar: 'NAME=TRAIN[,EVAL]', help: 'a task: its name (letters, digits, _ -), its training file and optionally an eval file (.tsv, .csv, .jsonl)' },
    { name: 'adapter', type: 'string', metavar: 'SPEC', help: 'adapter for every task, e.g. seq_bn or seq_bn:reduction_factor=16,leave_out=[0,1]', defaultText: 'seq_bn' },
    { name: 'mta', type: 'boolean', help: 'MT-A: train all adapters jointly (multi-task loss) instead of one by one' },
    {
      name: 'mix', type: 'string', metavar: 'sum|alternate|proportional|annealed|uniform|temperature=T',
      help: 'MT-A: sum one batch of every task per step, tasks in turn, or one task drawn per step (by dataset size, annealed over the epochs as in BERT and PALs, uniformly, or p ∝ size^(1/T))', defaultText: 'sum',
    },
    ...TRAINING,
    LR('1e-3'),
    ...COLUMN_OPTIONS,
    option('out', { help: 'output directory (one sub-directory per task)' }),
  ],
  examples: [
    'adapters fusion-stage1 --model minilm --task sst2=sst2/train.tsv,sst2/dev.tsv --task mrpc=mrpc/train.tsv,mrpc/dev.tsv --adapter seq_bn --out runs/stage1',
    'adapters fusion-stage1 --model minilm --task sst2=sst2/train.tsv --task mrpc=mrpc/train.tsv --mta --max-steps 500 --out runs/stage1-mta',
  ],
};

export const STAGE2_SPEC: CommandSpec = {
  name: 'fusion-stage2',
  brief: 'AdapterFusion stage 2: fuse trained adapters, train only the fusion + target head',
  summary:
    'AdapterFusion stage 2: loads the stage-1 adapters, freezes the base model and the adapters, and trains only the fusion layers and a new target head ' +
    '(with the value regularisation of dynamic fusion). Writes adapter_fusion_config.json, model_adapter_fusion.safetensors, head_config.json, ' +
    'model_head.safetensors, the fused adapters (adapters/NAME), run.json, metrics.jsonl, curves.svg/png and summary.json to --out.',
  usage: '--model DIR|NAME --adapters DIR1,DIR2,... --data FILE [--eval FILE] --out DIR [options]',
  options: [
    MODEL,
    { name: 'adapters', type: 'string', repeat: true, metavar: 'DIR,DIR,...', help: "adapters to fuse: stage-1 task directories or 'adapters train' outputs (comma-separated or repeated)" },
    option('data', { help: 'target-task training examples (.tsv, .csv or .jsonl)' }),
    option('eval', { help: 'target-task evaluation examples, same columns' }),
    { name: 'name', type: 'string', metavar: 'NAME', help: 'name of the target head', defaultText: 'target' },
    { name: 'fusion-name', type: 'string', metavar: 'NAME', help: 'name of the fusion', defaultText: 'the adapter names joined by commas (AdapterHub)' },
    { name: 'fusion-config', type: 'string', metavar: 'SPEC', help: 'dynamic or static, with overrides, e.g. dynamic:temperature=true', defaultText: 'dynamic' },
    ...TRAINING,
    LR('5e-5 (Pfeiffer et al. 2021)'),
    ...COLUMN_OPTIONS,
    option('out'),
  ],
  examples: ['adapters fusion-stage2 --model minilm --adapters runs/stage1/sst2,runs/stage1/mrpc,runs/stage1/rte --data rte/train.tsv --eval rte/dev.tsv --lr 1e-4 --out runs/fusion-rte'],
};

export const INSPECT_SPEC: CommandSpec = {
  name: 'fusion-inspect',
  brief: 'per-layer mean fusion attention over a data file: table + heat map',
  summary: 'Runs a saved fusion (fusion-stage2 or fusion-prune output) over a data file and prints, per fusion layer, the mean softmax weight each adapter receives over the real tokens; writes fusion-attention.md, .svg, .png and .json.',
  usage: '--fusion DIR --data FILE [--model DIR|NAME] [--out DIR] [options]',
  options: [
    { name: 'fusion', type: 'string', metavar: 'DIR', help: 'directory written by fusion-stage2 or fusion-prune' },
    option('data', { help: 'texts to average over (.tsv, .csv or .jsonl; labels not needed)' }),
    { ...MODEL, defaultText: 'the model recorded in run.json' },
    option('limit'),
    option('maxLength', { help: 'tokens per example', defaultText: 'as trained' }),
    option('batchSize', { help: 'examples per batch', defaultText: '32' }),
    COLUMN_OPTIONS[0] as OptionSpec,
    COLUMN_OPTIONS[1] as OptionSpec,
    option('out', { help: 'where to write the report files', defaultText: 'the --fusion directory' }),
  ],
  examples: ['adapters fusion-inspect --fusion runs/fusion-rte --data rte/dev.tsv'],
};

export const PRUNE_SPEC: CommandSpec = {
  name: 'fusion-prune',
  brief: 'prune a fusion by measured attention: top-k adapters per layer, drop the first layers',
  summary:
    'Measures the fusion attention on a data file, keeps the --top-k most attended adapters per layer and drops the fusion (and its adapters) from the first --drop-first layers ' +
    '(AdapterDrop); no retraining. Writes the pruned fusion in the fusion-stage2 layout plus prune.json; with labels in --data, prints accuracy before and after.',
  usage: '--fusion DIR (--top-k K | --drop-first N) --data FILE --out DIR [options]',
  options: [
    { name: 'fusion', type: 'string', metavar: 'DIR', help: 'directory written by fusion-stage2' },
    { name: 'top-k', type: 'int', min: 1, metavar: 'K', help: 'adapters to keep per layer', defaultText: 'all' },
    { name: 'drop-first', type: 'int', min: 0, metavar: 'N', help: 'remove the fusion from layers 0..N-1', defaultText: '0' },
    option('data', { help: 'examples to measure attention on (and evaluate, when labelled)' }),
    { ...MODEL, defaultText: 'the model recorded in run.json' },
    option('maxLength', { help: 'tokens per example', defaultText: 'as trained' }),
    option('batchSize', { help: 'examples per batch', defaultText: '32' }),
    ...COLUMN_OPTIONS,
    option('out', { help: 'output directory for the pruned fusion' }),
  ],
  examples: ['adapters fusion-prune --fusion runs/fusion-rte --top-k 1 --drop-first 2 --data rte/dev.tsv --out runs/fusion-rte-top1'],
};

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** Installed plugin packages, plus this package's own dependency (bottleneck) when it was not discovered. */
function plugins(ctx: CliContext): { packages: PluginPackage[]; registry: AdapterRegistry } {
  const discovered = discoverPlugins(ctx.pluginSearchPaths);
  const packages: PluginPackage[] = [...discovered, { name: '@adapters/adapter-bottleneck', version: undefined, dir: '', plugins: [bottleneck], commands: [] }];
  const byName = new Map<string, AnyAdapterPlugin>();
  for (const p of packages) for (const plugin of p.plugins) if (!byName.has(plugin.name)) byName.set(plugin.name, plugin);
  return { packages, registry: createRegistry([...byName.values()]) };
}

function settingsOf(args: ParsedArgs, defaultLr: number, padId: number, hasEval: boolean, checkpointLayers: GradientCheckpointing) {
  const maxSteps = args.number('max-steps');
  const evalEvery = args.number('eval-every');
  return {
    epochs: args.number('epochs') ?? 3,
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    batchSize: args.number('batch-size') ?? 16,
    learningRate: args.number('lr') ?? defaultLr,
    seed: args.number('seed') ?? 42,
    padId,
    checkpointLayers,
    ...(hasEval && evalEvery !== undefined ? { evalEvery } : {}),
  };
}

/** The model as recorded: the directory when a directory was given, else the known name. */
const modelRecord = (given: string, model: { dir: string; name: string }, cwd: string) => (model.dir === path.resolve(cwd, given) ? model.dir : model.name);

/** Sites and mode where an adapter goes by default (for run.json, so core's eval/predict re-place it exactly). */
function placementOf(base: Graph, use: ReturnType<typeof adapter>, registry: AdapterRegistry, option: string): { sites: string[]; mode: string } {
  let report;
  try {
    report = applyPlacements(base, [{ adapter: use }], registry).report;
  } catch (e) {
    if (e instanceof PlacementError || e instanceof ConfigError) throw new UsageError(`${option}: ${e.message}`);
    throw e;
  }
  const modes = [...new Set(report.map((r) => r.mode))];
  if (modes.length !== 1) throw new UsageError(`${option}: the adapter is placed with several modes (${modes.join(', ')}); fusion needs one`);
  return { sites: [...new Set(report.map((r) => r.site))], mode: modes[0] as string };
}

/** `--mix`: fusion's sum / alternate, or one of core-graph's task samplings. */
function parseMix(text: string, command: string): { mix: 'sum' | 'alternate' } | { sampling: TaskSampling } {
  if (text === 'sum' || text === 'alternate') return { mix: text };
  if (text === 'proportional' || text === 'annealed' || text === 'uniform') return { sampling: text };
  const t = /^temperature=(.+)$/.exec(text);
  const temperature = t ? Number(t[1]) : NaN;
  if (Number.isFinite(temperature) && temperature > 0) return { sampling: { temperature } };
  throw new UsageError(`--mix must be sum, alternate, proportional, annealed, uniform or temperature=T (T > 0), got '${text}'`, command);
}

interface LoadedRun {
  readonly run: FusionRunFile;
  readonly dir: string;
  readonly model: { dir: string; name: string };
  readonly tokenizer: TextTokenizer;
  readonly store: WeightStore;
  readonly registry: AdapterRegistry;
  /** Base + target head (no adapters). */
  readonly headed: Graph;
  /** One graph per fused adapter (base + that adapter). */
  readonly adapterGraphs: readonly Graph[];
  readonly graph: Graph;
  readonly spec: FusionSpec;
  readonly output: string;
}

const FUSION_EXTRAS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['fusion'],
  additionalProperties: false,
  properties: {
    fusion: { type: 'string' },
    pruned: { type: 'object', additionalProperties: false, properties: { topK: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] }, dropFirst: { type: 'integer', minimum: 0 }, from: { type: 'string' } } },
  },
};

/**
 * Checks a fusion run's run.json: core's manifest checks (adapter paths relative, without `..`), then what a fusion
 * run needs: at least one adapter, each in its own folder inside the run, a labelled head, a text column, the fusion's extras.
 */
export function validateFusionRun(value: unknown, file: string, dir: string): FusionRunFile {
  const m = validateRunManifest(value, file);
  if (m.adapters.length === 0) throw new ConfigError(`${file}: adapters`, 'must list the fused adapters');
  m.adapters.forEach((a, i) => {
    if (!NAME_RE.test(a.name)) throw new ConfigError(`${file}: adapters[${i}].name`, `'${a.name}' may use only letters, digits, _ and -`);
    const rel = path.relative(dir, path.resolve(dir, a.dir));
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new ConfigError(`${file}: adapters[${i}].dir`, `must be a folder inside the fusion directory, got ${JSON.stringify(a.dir)}`);
  });
  const head = m.heads[0];
  if (!head?.labels) throw new ConfigError(`${file}: heads[0].labels`, 'must name the target head\'s labels');
  if (m.columns.text === undefined) throw new ConfigError(`${file}: columns.text`, 'must name the text column');
  const extras = m.extras?.[FUSION_EXTRAS];
  validateSchema(FUSION_EXTRAS_SCHEMA, extras, `${file}: extras.${FUSION_EXTRAS}`);
  const x = extras as { fusion: string; pruned?: FusionRunFile['pruned'] };
  return {
    model: m.model, fusion: x.fusion, head: head.name, labels: head.labels, maxLength: m.maxLength, columns: m.columns as Columns,
    adapters: m.adapters.map((a) => ({ name: a.name, dir: a.dir })), ...(x.pruned ? { pruned: x.pruned } : {}),
  };
}

/** Rebuilds a fusion-stage2 / fusion-prune output with core's loadRun; the fusion itself is this package's extras handler. */
async function loadRun(args: ParsedArgs, ctx: CliContext): Promise<LoadedRun> {
  const given = args.requireString('fusion', 'the directory fusion-stage2 wrote');
  const dir = path.resolve(ctx.cwd, given);
  const manifest = await readRunArg(dir, { option: '--fusion', given, hint: "pass the directory 'adapters fusion-stage2 --out' wrote", command: args.command });
  const run = validateFusionRun(manifest, path.join(dir, RUN_FILE), dir);
  const model = await resolveModel(args.string('model') ?? run.model, ctx.cwd, (line) => info(ctx, line));
  const { registry } = plugins(ctx);
  const pre = await loadPretrained(model.dir);
  let fused: { headed: Graph; adapterGraphs: readonly Graph[]; spec: FusionSpec; name: string } | undefined;
  const loaded = await coreLoadRun(dir, pre.graph, pre.store, {
    registry,
    extras: {
      [FUSION_EXTRAS]: async (c) => {
        const l = await loadFusion(c.dir, c.headed, c.store, c.registry, { graphs: c.adapterGraphs });
        fused = { headed: c.headed, adapterGraphs: c.adapterGraphs, spec: l.spec, name: l.name };
        return l.graph;
      },
    },
  });
  const f = fused as NonNullable<typeof fused>;
  info(ctx, `loaded fusion '${f.name}' of ${run.adapters.map((a) => a.name).join(', ')} with head '${run.head}' (${run.labels.join(', ')}) on ${model.name}`);
  return { run, dir, model, tokenizer: await loadTokenizer(model.dir), store: pre.store, registry, headed: f.headed, adapterGraphs: f.adapterGraphs, graph: loaded.graph, spec: f.spec, output: `${run.head}.logits` };
}

/** Saves the fusion, its head, the fused adapters and run.json into `dir` (the fusion-stage2 layout). */
async function saveRun(dir: string, graph: Graph, store: WeightStore, fusion: string, adapterGraphs: readonly Graph[], registry: AdapterRegistry, run: Omit<FusionRunFile, 'adapters' | 'fusion'>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveFusion(dir, graph, store, fusion);
  await saveHead(dir, graph, store, run.head, { labels: run.labels });
  const adapters: Array<{ name: string; dir: string }> = [];
  for (const g of adapterGraphs) {
    const names = Object.keys(g.meta.adapters ?? {});
    for (const name of names) {
      const rel = `adapters/${name}`;
      await saveAdapter(path.join(dir, rel), g, store, name, { registry });
      adapters.push({ name, dir: rel });
    }
  }
  const manifest = validateRunManifest({
    format: RUN_FORMAT, model: run.model, adapters, heads: [{ name: run.head, dir: '.', labels: [...run.labels] }], maxLength: run.maxLength, columns: { ...run.columns },
    extras: { [FUSION_EXTRAS]: { fusion, ...(run.pruned ? { pruned: run.pruned } : {}) } },
  }, path.join(dir, RUN_FILE));
  await writeJsonAtomic(path.join(dir, RUN_FILE), manifest);
}

async function examplesFor(args: ParsedArgs, ctx: CliContext, run: FusionRunFile, tokenizer: TextTokenizer, needLabel: boolean): Promise<{ file: string; examples: TrainExample[]; labelled: boolean }> {
  const file = path.resolve(ctx.cwd, args.requireString('data', 'a .tsv, .csv or .jsonl file'));
  const { label: _l, ...textColumns } = run.columns;
  const columns = await detectColumns(file, givenColumns(args, needLabel ? { ...run.columns } : textColumns), needLabel);
  let raw = await readColumns(file, columns);
  const limit = args.has('limit') ? args.number('limit') : undefined;
  if (limit !== undefined) raw = raw.slice(0, limit);
  if (raw.length === 0) throw new UsageError(`${file}: no examples`, args.command);
  const labelled = columns.label !== undefined && raw.every((e) => e.label !== undefined);
  const examples = encodeExamples(raw, tokenizer, labelled ? new LabelVocab(run.labels) : undefined, args.number('max-length') ?? run.maxLength, file);
  return { file, examples, labelled };
}

// ---------------------------------------------------------------------------------------------
// fusion-stage1

function parseTasks(args: ParsedArgs, cwd: string): ReturnType<typeof parseTaskArgs> {
  if (args.strings('task').length === 0) throw new UsageError('give at least one --task NAME=TRAIN[,EVAL]', args.command);
  return parseTaskArgs(args, cwd, 2);
}

export async function stage1Command(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const tasksGiven = parseTasks(args, ctx.cwd);
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const target = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const specText = args.string('adapter') ?? 'seq_bn';
  const spec: AdapterSpec = parseAdapterSpec(specText);
  const mta = args.flag('mta');
  const mix = args.string('mix') ?? 'sum';
  const mixing = parseMix(mix, args.command);
  if (args.has('mix') && !mta) throw new UsageError('--mix applies to MT-A only: add --mta', args.command);
  const pool = poolingArg(args);
  const checkpointLayers = checkpointingArg(args);
  const maxLength = args.number('max-length') ?? 128;
  const backend = await backendBanner(args, ctx);

  const { packages, registry } = plugins(ctx);
  const choice = choosePlugin(packages, spec.name, spec.config);
  let config: Record<string, unknown>;
  try {
    config = resolveConfig(choice.plugin, choice.input, 'config');
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--adapter ${specText}: ${e.message}`, args.command);
    throw e;
  }
  const columns = new Map<string, { train: Columns; eval?: Columns }>();
  for (const t of tasksGiven) {
    const train = await detectColumns(t.train, givenColumns(args), true);
    columns.set(t.name, { train, ...(t.eval !== undefined ? { eval: await detectColumns(t.eval, givenColumns(args, { ...train }), true) } : {}) });
  }
  // Written into a staging directory and swapped in as a whole (io/run-dir): a reader sees the old run or the new one.
  const staged = await stageRunDir(target);
  const outDir = staged.dir;
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const seed = args.number('seed') ?? 42;
  const pre = await loadPretrained(model.dir, { seed });

  const tasks: Array<FusionTask & { labels: LabelVocab; columns: Columns; placement: { sites: string[]; mode: string } }> = [];
  for (const t of tasksGiven) {
    const cols = columns.get(t.name) as { train: Columns; eval?: Columns };
    const trainRaw = await readColumns(t.train, cols.train);
    const labels = trainingLabels(trainRaw, t.train);
    const train = encodeExamples(trainRaw, tokenizer, labels, maxLength, t.train);
    const evalSet = t.eval !== undefined && cols.eval ? encodeExamples(await readColumns(t.eval, cols.eval), tokenizer, labels, maxLength, t.eval) : [];
    const use = adapter(choice.plugin, t.name, config);
    tasks.push({
      name: t.name, numLabels: labels.size, train, ...(evalSet.length > 0 ? { eval: evalSet } : {}), adapter: use,
      head: { type: 'classification', name: t.name, numLabels: labels.size, pooling: pool }, labels, columns: cols.train, placement: placementOf(pre.graph, use, registry, `--adapter ${specText}`),
    });
    info(ctx, `task ${t.name}: ${train.length} training examples${evalSet.length > 0 ? `, ${evalSet.length} eval examples` : ''}; labels: ${labels.labels.join(', ')}`);
  }
  info(ctx, `adapter: ${choice.plugin.name}${choice.via === 'preset' ? ` preset ${spec.name}` : ''} per task; ${mta ? `MT-A (joint, ${mix})` : 'ST-A (one task at a time)'}; base frozen`);

  const settings = settingsOf(args, 1e-3, tokenizer.padId, true, checkpointLayers);
  const graphs: Record<string, Graph> = {};
  const finals: Record<string, { eval?: EvalResult; steps: number }> = {};
  if (!mta) {
    for (const task of tasks) {
      await mkdir(path.join(outDir, task.name), { recursive: true });
      const metrics = MetricsWriter.open(path.join(outDir, task.name, 'metrics.jsonl'), { fresh: true });
      const progress = new ProgressReporter({ stream: ctx.stderr, every: 10 });
      info(ctx, `stage 1 (ST-A): training '${task.name}'`);
      let result;
      try {
        result = trainSingleTaskAdapters({
          base: pre.graph, store: pre.store, registry, tasks: [task],
          settings: { ...settings, onRecord: (r: TrainRecord) => { metrics.write(r); progress.onRecord(r); } },
        });
      } finally {
        progress.finish();
      }
      const graph = result.graphs[task.name] as Graph;
      graphs[task.name] = graph;
      const r = result.results[task.name];
      if (r?.checkpointedFrom !== undefined) info(ctx, checkpointedLine(r.checkpointedFrom));
      const final = task.eval ? (r?.best?.eval ?? evaluate(new Executor(graph, pre.store), `${task.name}.logits`, task.eval, { batchSize: 32, padId: tokenizer.padId })) : undefined;
      if (final) metrics.write({ type: 'final', step: r?.best?.step ?? r?.steps ?? 0, ...final });
      finals[task.name] = { ...(final ? { eval: final } : {}), steps: r?.steps ?? 0 };
    }
  } else {
    const batchSize = settings.batchSize;
    const steps = settings.maxSteps ?? settings.epochs * Math.max(...tasks.map((t) => Math.ceil(t.train.length / batchSize)));
    const metrics = MetricsWriter.open(path.join(outDir, 'metrics.jsonl'), { fresh: true });
    const progress = new ProgressReporter({ stream: ctx.stderr, every: 10 });
    info(ctx, `stage 1 (MT-A): training ${tasks.map((t) => t.name).join(', ')} jointly for ${steps} steps`);
    const t0 = Date.now();
    let result;
    try {
      result = trainMultiTaskAdapters({
        base: pre.graph, store: pre.store, registry, tasks, ...mixing, epochs: settings.epochs, steps, batchSize, learningRate: settings.learningRate, seed, padId: tokenizer.padId, checkpointLayers,
        onRecord: (r) => {
          const loss = r.losses.reduce((a, b) => a + b, 0);
          metrics.write({ type: 'step', step: r.step, totalSteps: steps, loss, losses: Object.fromEntries(r.tasks.map((t, i) => [t, r.losses[i]])), lr: r.lr, gradNorm: r.gradNorm });
          progress.onRecord({ type: 'step', step: r.step, totalSteps: steps, loss, seconds: (Date.now() - t0) / 1000 });
        },
      });
    } finally {
      progress.finish();
    }
    if (result.checkpointedFrom !== undefined) info(ctx, checkpointedLine(result.checkpointedFrom));
    for (const task of tasks) {
      graphs[task.name] = result.graphs[task.name] as Graph;
      const e = result.evals[task.name];
      if (e) metrics.write({ type: 'final', task: task.name, step: steps, ...e });
      finals[task.name] = { ...(e ? { eval: e } : {}), steps };
    }
  }

  const summary = [];
  for (const task of tasks) {
    const dir = path.join(outDir, task.name);
    await saveAdapter(dir, graphs[task.name] as Graph, pre.store, task.name, { head: task.name, registry });
    // A run manifest like `adapters train`'s, so `adapters eval/predict --run OUT/NAME` (or --adapter-dir) work on stage-1 adapters.
    await writeJsonAtomic(path.join(dir, RUN_FILE), singleAdapterRun({
      model: modelRecord(modelSpec, model, ctx.cwd), adapter: task.name, head: task.name, dir: '.', labels: task.labels.labels, placement: task.placement, maxLength, columns: task.columns,
    }));
    const f = finals[task.name];
    summary.push({
      name: task.name, dir: task.name, labels: task.labels.labels, trainExamples: task.train.length, evalExamples: task.eval?.length ?? 0, steps: f?.steps ?? 0,
      accuracy: f?.eval?.accuracy ?? null, f1: f?.eval?.f1 ?? null, evalLoss: f?.eval?.loss ?? null, majorityBaseline: task.eval ? majorityShare(task.eval) : null,
    });
    out(ctx, `${task.name}: accuracy ${fmt(f?.eval?.accuracy)}  F1 ${fmt(f?.eval?.f1)}  (${task.eval?.length ?? 0} eval examples; ${f?.steps ?? 0} steps)  saved: ${shortPath(ctx.cwd, path.join(target, task.name))}`);
  }
  const params = parameterSummary(Object.values(graphs)[0] as Graph, (p) => p.owner.startsWith('adapter:'));
  await writeJsonAtomic(path.join(outDir, 'stage1.json'), {
    variant: mta ? 'mt-a' : 'st-a', ...(mta ? { mix } : {}), model: model.name, backend, adapterSpec: specText, plugin: choice.plugin.name, config,
    adapterParams: params.trainable, baseParams: params.base, tasks: summary, seconds: (Date.now() - started) / 1000,
  });
  pre.store.dispose();
  await staged.commit();
  out(ctx, `wall time: ${formatDuration((Date.now() - started) / 1000)} on ${backend}; next: adapters fusion-stage2 --model ${modelSpec} --adapters ${tasks.map((t) => shortPath(ctx.cwd, path.join(target, t.name))).join(',')} --data TARGET_TRAIN --out DIR`);
}

// ---------------------------------------------------------------------------------------------
// fusion-stage2

function fusionConfigOf(args: ParsedArgs): FusionConfigInput {
  const text = args.string('fusion-config') ?? 'dynamic';
  const spec = parseAdapterSpec(text);
  const input = { config: spec.name, ...spec.config };
  try {
    resolveFusionConfig(input, 'fusion-config');
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--fusion-config ${text}: ${e.message}`, args.command);
    throw e;
  }
  return input;
}

export async function stage2Command(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const dirsGiven = args.strings('adapters').flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (dirsGiven.length === 0) throw new UsageError('missing required option --adapters (the stage-1 adapter directories, comma-separated)', args.command);
  const data = path.resolve(ctx.cwd, args.requireString('data', 'the target-task training file'));
  const evalGiven = args.string('eval');
  const evalFile = evalGiven !== undefined ? path.resolve(ctx.cwd, evalGiven) : undefined;
  const target = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const head = args.string('name') ?? 'target';
  if (!NAME_RE.test(head)) throw new UsageError(`--name '${head}' may use only letters, digits, _ and -`, args.command);
  const fusionConfig = fusionConfigOf(args);
  const pool = poolingArg(args);
  const checkpointLayers = checkpointingArg(args);
  const maxLength = args.number('max-length') ?? 128;
  const adapterDirs: string[] = [];
  for (const d of dirsGiven) adapterDirs.push(await resolveAdapterDir(d, ctx.cwd, '--adapters'));
  const backend = await backendBanner(args, ctx);

  const { registry } = plugins(ctx);
  const trainColumns = await detectColumns(data, givenColumns(args), true);
  const evalColumns = evalFile !== undefined ? await detectColumns(evalFile, givenColumns(args, { ...trainColumns }), true) : undefined;
  // Written into a staging directory and swapped in as a whole (io/run-dir): a reader sees the old run or the new one.
  const staged = await stageRunDir(target);
  const outDir = staged.dir;
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const trainRaw = await readColumns(data, trainColumns);
  const labels = trainingLabels(trainRaw, data);
  const trainSet = encodeExamples(trainRaw, tokenizer, labels, maxLength, data);
  const evalSet = evalFile !== undefined && evalColumns ? encodeExamples(await readColumns(evalFile, evalColumns), tokenizer, labels, maxLength, evalFile) : [];
  const seed = args.number('seed') ?? 42;
  const pre = await loadPretrained(model.dir, { seed });

  const adapterGraphs: Graph[] = [];
  const names: string[] = [];
  for (const dir of adapterDirs) {
    const loaded = await loadAdapter(dir, pre.graph, pre.store, registry, { loadHead: false });
    if (names.includes(loaded.name)) throw new UsageError(`--adapters: two adapters are named '${loaded.name}' (${shortPath(ctx.cwd, dir)}); fuse adapters with distinct names`, args.command);
    adapterGraphs.push(loaded.graph);
    names.push(loaded.name);
  }
  const fusionName = args.string('fusion-name') ?? names.join(',');
  const spec: FusionSpec = { name: fusionName, adapters: adapterUses(adapterGraphs, names), config: fusionConfig };
  const headSpec: HeadSpec = { type: 'classification', name: head, numLabels: labels.size, pooling: pool };
  let graph: Graph;
  try {
    graph = fusionGraph(pre.graph, spec, headSpec, registry);
  } catch (e) {
    if (e instanceof PlacementError || e instanceof ConfigError) throw new UsageError(`--adapters: ${e.message}`, args.command);
    throw e;
  }
  pre.store.sync(graph, seed);
  const adapterKeys = [...graph.params.values()].filter((p) => p.owner.startsWith('adapter:')).map((p) => p.key);
  const before = pre.store.snapshot(adapterKeys);
  const params = parameterSummary(graph, ownersPolicy([`fusion:${fusionName}`, `head:${head}`]));
  const fusionParams = params.owners.find((o) => o.owner === `fusion:${fusionName}`)?.params ?? 0;
  const settings = settingsOf(args, 5e-5, tokenizer.padId, evalSet.length > 0, checkpointLayers);
  info(ctx, `model: ${model.name} (${model.dir}), tokenizer: ${tokenizer.kind}`);
  info(ctx, `data: ${trainSet.length} training examples${evalSet.length > 0 ? `, ${evalSet.length} eval examples` : ''}; labels: ${labels.labels.join(', ')}`);
  info(ctx, `stage 2: fusion '${fusionName}' of ${names.join(', ')}; base and adapters frozen; training fusion (${fusionParams} parameters) + head '${head}' (${params.trainable} trainable in all)`);

  const metrics = MetricsWriter.open(path.join(outDir, 'metrics.jsonl'), { fresh: true });
  const progress = new ProgressReporter({ stream: ctx.stderr, every: 10 });
  const output = `${head}.logits`;
  let result;
  try {
    result = trainFusion({
      ...settings, graph, store: pre.store, name: fusionName, output, train: trainSet, ...(evalSet.length > 0 ? { eval: evalSet } : {}),
      onRecord: (r: TrainRecord) => {
        metrics.write(r);
        progress.onRecord(r);
      },
    });
  } finally {
    progress.finish();
  }
  if (result.checkpointedFrom !== undefined) info(ctx, checkpointedLine(result.checkpointedFrom));
  const final = evalSet.length > 0 ? (result.best?.eval ?? evaluate(new Executor(graph, pre.store), output, evalSet, { batchSize: 32, padId: tokenizer.padId })) : undefined;
  if (final) metrics.write({ type: 'final', step: result.best?.step ?? result.steps, ...final });
  const after = pre.store.snapshot(adapterKeys);
  const adaptersUnchanged = [...before].every(([k, v]) => {
    const now = after.get(k);
    return now !== undefined && v.every((x, i) => Object.is(x, now[i]));
  });

  await saveRun(outDir, graph, pre.store, fusionName, adapterGraphs, registry, { model: modelRecord(modelSpec, model, ctx.cwd), head, labels: labels.labels, maxLength, columns: trainColumns });
  try {
    await writeTrainingCurves(result.history, outDir, { title: `fusion '${fusionName}' → ${head} on ${model.name}` });
  } catch (e) {
    info(ctx, `adapters: warning: could not draw curves.png (${(e as Error).message.split('\n')[0]}); metrics.jsonl has the numbers`);
  }
  await writeJsonAtomic(path.join(outDir, 'summary.json'), {
    fusion: fusionName, adapters: names, head, model: model.name, backend, fusionConfig, trainExamples: trainSet.length, evalExamples: evalSet.length, steps: result.steps,
    learningRate: settings.learningRate, batchSize: settings.batchSize, seed, maxLength,
    accuracy: final?.accuracy ?? null, f1: final?.f1 ?? null, mcc: final?.mcc ?? null, evalLoss: final?.loss ?? null, majorityBaseline: evalSet.length > 0 ? majorityShare(evalSet) : null,
    bestStep: result.best?.step ?? null, trainableParams: params.trainable, fusionParams, baseParams: params.base, trainedTensors: result.trainableKeys.length, adaptersUnchanged,
    trainSeconds: result.seconds, seconds: (Date.now() - started) / 1000,
  });
  pre.store.dispose();
  out(ctx, final ? `accuracy: ${final.accuracy.toFixed(4)}  F1: ${final.f1.toFixed(4)}  (${final.count} eval examples; majority-class baseline ${majorityShare(evalSet).toFixed(4)})` : 'accuracy: n/a (no --eval file given)');
  out(ctx, `trained: fusion '${fusionName}' (${fusionParams} parameters) + head '${head}'; adapters unchanged: ${adaptersUnchanged}`);
  out(ctx, `wall time: ${formatDuration((Date.now() - started) / 1000)} (training ${formatDuration(result.seconds)}, ${result.steps} steps) on ${backend}`);
  await staged.commit();
  out(ctx, `saved: ${shortPath(ctx.cwd, target)} (${FUSION_CONFIG_FILE}, ${FUSION_WEIGHTS_FILE}, ${HEAD_CONFIG_FILE}, adapters/, ${RUN_FILE}, metrics.jsonl, curves.png, summary.json)`);
}

// ---------------------------------------------------------------------------------------------
// fusion-inspect / fusion-prune

export async function inspectCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  args.requireString('fusion', 'the directory fusion-stage2 wrote');
  args.requireString('data', 'a .tsv, .csv or .jsonl file');
  await backendBanner(args, ctx);
  const r = await loadRun(args, ctx);
  const { file, examples } = await examplesFor(args, ctx, r.run, r.tokenizer, false);
  const name = r.spec.name as string;
  const attention: FusionAttention = fusionAttention(r.graph, r.store, name, examples, { batchSize: args.number('batch-size') ?? 32, padId: r.tokenizer.padId });
  const outDir = path.resolve(ctx.cwd, args.string('out') ?? r.dir);
  await mkdir(outDir, { recursive: true });
  const files = await writeFusionReport(attention, outDir, { title: `AdapterFusion '${name}' on ${path.basename(file)}: mean attention` });
  await writeJsonAtomic(path.join(outDir, 'fusion-attention.json'), { ...attention, data: file, examples: examples.length });
  r.store.dispose();
  out(ctx, `fusion '${name}': mean attention per layer over ${attention.tokens} tokens of ${examples.length} examples`);
  ctx.stdout.write(fusionAttentionTable(attention));
  out(ctx, `saved: ${[files.table, files.svg, files.png].map((f) => shortPath(ctx.cwd, f)).join(', ')}, ${shortPath(ctx.cwd, path.join(outDir, 'fusion-attention.json'))}`);
}

export async function pruneCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  args.requireString('fusion', 'the directory fusion-stage2 wrote');
  args.requireString('data', 'a .tsv, .csv or .jsonl file');
  const target = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const topK = args.number('top-k');
  const dropFirst = args.number('drop-first') ?? 0;
  if (topK === undefined && dropFirst === 0) throw new UsageError('give --top-k K and/or --drop-first N', args.command);
  await backendBanner(args, ctx);
  const r = await loadRun(args, ctx);
  if (target === path.resolve(r.dir)) throw new UsageError('--out must differ from --fusion (the pruned fusion is written beside the original)', args.command);
  const { examples, labelled } = await examplesFor(args, ctx, r.run, r.tokenizer, false);
  const name = r.spec.name as string;
  const batchSize = args.number('batch-size') ?? 32;
  const attention = fusionAttention(r.graph, r.store, name, examples, { batchSize, padId: r.tokenizer.padId });
  let pruned: FusionSpec;
  try {
    pruned = pruneFusion(r.spec, attention, { ...(topK !== undefined ? { topK } : {}), dropFirst });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${e.message.includes('dropFirst') ? '--drop-first' : '--top-k'}: ${e.message}`, args.command);
    throw e;
  }
  const graph = applyFusion(r.headed, pruned, r.registry).graph;
  r.store.sync(graph, 0);
  const evalOf = (g: Graph) => (labelled ? evaluate(new Executor(g, r.store), r.output, examples, { batchSize, padId: r.tokenizer.padId }) : undefined);
  const before = evalOf(r.graph);
  const afterEval = evalOf(graph);
  const count = (g: Graph) => parameterSummary(g, (p) => p.owner === `fusion:${name}`).trainable;
  const adaptersCount = (g: Graph) => parameterSummary(g, (p) => p.owner.startsWith('adapter:')).trainable;
  // Written into a staging directory and swapped in as a whole (io/run-dir).
  const staged = await stageRunDir(target);
  const outDir = staged.dir;
  await saveRun(outDir, graph, r.store, name, r.adapterGraphs, r.registry, {
    model: r.run.model, head: r.run.head, labels: r.run.labels, maxLength: r.run.maxLength, columns: r.run.columns, pruned: { topK: topK ?? null, dropFirst, from: r.dir },
  });
  const layers = pruned.layers ?? {};
  await writeJsonAtomic(path.join(outDir, 'prune.json'), {
    fusion: name, from: r.dir, topK: topK ?? null, dropFirst, layers, attention: attention.layers, tokens: attention.tokens,
    fusionParamsBefore: count(r.graph), fusionParamsAfter: count(graph), adapterParamsBefore: adaptersCount(r.graph), adapterParamsAfter: adaptersCount(graph),
    accuracyBefore: before?.accuracy ?? null, accuracyAfter: afterEval?.accuracy ?? null, examples: examples.length,
  });
  r.store.dispose();
  out(ctx, `fusion '${name}' pruned (${topK !== undefined ? `top-${topK} per layer` : 'all adapters'}${dropFirst > 0 ? `, no fusion in layers 0..${dropFirst - 1}` : ''}):`);
  for (const l of attention.layers) out(ctx, `  ${l.site}: ${layers[l.site] ? layers[l.site]?.join(', ') : '(dropped)'}`);
  out(ctx, labelled ? `accuracy: ${fmt(before?.accuracy)} before, ${fmt(afterEval?.accuracy)} after (${examples.length} examples, no retraining)` : 'accuracy: n/a (--data has no labels)');
  await staged.commit();
  out(ctx, `saved: ${shortPath(ctx.cwd, target)} (usable with fusion-inspect / fusion-prune --fusion)`);
}

/** The subcommands this package adds to the `adapters` CLI. */
export const commands: CliCommand[] = [
  { spec: STAGE1_SPEC, run: stage1Command },
  { spec: STAGE2_SPEC, run: stage2Command },
  { spec: INSPECT_SPEC, run: inspectCommand },
  { spec: PRUNE_SPEC, run: pruneCommand },
];

// The report renderers (vega-lite → SVG, resvg → PNG) ship on this entry with the commands that use them.
export { fusionHeatmapSvg, writeFusionReport } from './report';

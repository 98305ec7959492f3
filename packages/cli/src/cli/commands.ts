// The `adapters` subcommands: train, eval, predict, inspect, list and demo.
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, selectBackend } from '@adapters/core-graph';
import { loadAdapter, saveAdapter } from '@adapters/core-graph';
import { exportToCheckpoint } from '@adapters/core-graph';
import { loadPretrained, readHfConfig } from '@adapters/core-graph';
import type { Pretrained } from '@adapters/core-graph';
import { loadRunHead, readRunManifest, RUN_FILE, singleAdapterRun } from '@adapters/core-graph';
import type { RunExtraHandler, RunManifest } from '@adapters/core-graph';
import { demoSentimentFiles } from '../data/assets';
import { LabelVocab } from '@adapters/core-graph';
import { loadTokenizer } from '@adapters/core-graph';
import type { TextTokenizer } from '@adapters/core-graph';
import { ConfigError, DataError, PlacementError } from '@adapters/core-graph';
import { Executor } from '@adapters/core-graph';
import type { TrainPolicy } from '@adapters/core-graph';
import { adaptersOnlyPolicy, fullFineTunePolicy } from '@adapters/core-graph';
import type { WeightStore } from '@adapters/core-graph';
import { describeGraph, parameterSummary } from '@adapters/core-graph';
import type { Graph } from '@adapters/core-graph';
import { writeJsonAtomic } from '@adapters/core-graph';
import { stageRunDir } from '@adapters/core-graph';
import { writeSafetensorsFile } from '@adapters/core-graph';
import { maxSequenceLength } from '@adapters/core-graph';
import type { HeadSpec } from '@adapters/core-graph';
import type { SpliceMode } from '@adapters/core-graph';
import { SPLICE_MODES } from '@adapters/core-graph';
import type { AdapterRegistry, Runtime } from '@adapters/core-graph';
import { resolveConfig } from '@adapters/core-graph';
import { writeTrainingCurves } from '../report/plot';
import { checkpointedLine, formatDuration, MetricsWriter, ProgressReporter } from '../report/progress';
import type { PlacementEntry, PlacementRule } from '@adapters/core-graph';
import { applyPlacements, isUnionPlugin } from '@adapters/core-graph';
import { adapter } from '@adapters/core-graph';
import type { SiteSelector } from '@adapters/core-graph';
import { disposeBatch, makeBatch } from '@adapters/core-graph';
import type { TrainExample } from '@adapters/core-graph';
import type { EvalResult } from '@adapters/core-graph';
import { evaluate } from '@adapters/core-graph';
import type { TrainRecord } from '@adapters/core-graph';
import { train } from '@adapters/core-graph';
import type { AdapterSpec, ParsedArgs } from './args';
import { parseAdapterSpec, UsageError } from './args';
import type { LabelsFile } from './data';
import { detectColumns, encodeExamples, majorityShare, readColumns, readLabelsFile, resolveAdapterDir, resolveModel, sample, shortPath } from './data';
import type { PluginChoice, PluginPackage } from './plugins';
import { choosePlugin, discoverPlugins, runtimeOf } from './plugins';
import type { GradientCheckpointing } from './task-args';
import { checkpointingArg, poolingArg, trainingLabels } from './task-args';
import { MULTITASK_EXTRAS } from './tasks';

/** A stream the CLI writes to; process.stdout / process.stderr fit. */

/** ", base: N MiB mapped …" when loadPretrained mapped the base's matrices instead of copying them into the heap. */
const mappedNote = (pre: Pretrained): string =>
  pre.mapped !== undefined ? `, base: ${Math.round(pre.mapped.bytes / 2 ** 20)} MiB of ${pre.mapped.tensors} matrices mapped from model.safetensors (outside the wasm heap)` : '';

export interface OutStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliContext {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where to look for `node_modules/@adapters/adapter-*` (each directory and its parents). */
  readonly pluginSearchPaths: readonly string[];
}

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
const fmtInt = (n: number) => n.toLocaleString('en-US');
const pct = (x: number) => `${x < 1 ? x.toFixed(2) : x.toFixed(1)}%`;

/** Selects the backend and prints the one-line banner (the first thing every model command prints). */
export async function backendBanner(args: ParsedArgs, ctx: CliContext): Promise<string> {
  const prefer = args.string('backend');
  await selectBackend({ ...(prefer !== undefined ? { prefer } : {}), env: ctx.env, log: (line) => info(ctx, line) });
  return describeBackend();
}

/**
 * The discovered plugin packages and the runtime built from their package descriptors (nothing relies on what a
 * package registers at import); `registry` is that runtime's plugins.
 */
function plugins(ctx: CliContext): { packages: PluginPackage[]; registry: AdapterRegistry; runtime: Runtime } {
  const packages = discoverPlugins(ctx.pluginSearchPaths);
  const { runtime } = runtimeOf(packages);
  return { packages, registry: runtime.plugins, runtime };
}
export { plugins as cliPlugins };

// ---------------------------------------------------------------------------------------------
// Placement files

const SELECTOR_KEYS = ['names', 'suffix', 'glob', 'regex', 'kinds', 'layers', 'exclude'];

function checkSelector(value: unknown, where: string): SiteSelector {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${where} must be an object like { "kinds": ["ffn"], "layers": [3, 4, 5] }`);
  const sel = value as Record<string, unknown>;
  for (const key of Object.keys(sel)) {
    if (!SELECTOR_KEYS.includes(key)) throw new UsageError(`${where}.${key} is not a selector field (fields: ${SELECTOR_KEYS.join(', ')})`);
  }
  const strings = (k: string) => {
    const v = sel[k];
    if (v !== undefined && typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) throw new UsageError(`${where}.${k} must be a string or a list of strings`);
  };
  strings('names');
  strings('kinds');
  if (sel['glob'] !== undefined && typeof sel['glob'] !== 'string') throw new UsageError(`${where}.glob must be a string`);
  if (sel['regex'] !== undefined && typeof sel['regex'] !== 'string') throw new UsageError(`${where}.regex must be a string`);
  if (sel['suffix'] !== undefined && typeof sel['suffix'] !== 'boolean') throw new UsageError(`${where}.suffix must be true or false`);
  if (sel['layers'] !== undefined && !(Array.isArray(sel['layers']) && sel['layers'].every((x) => Number.isInteger(x)))) throw new UsageError(`${where}.layers must be a list of integers`);
  if (typeof sel['kinds'] === 'string') sel['kinds'] = [sel['kinds']];
  if (sel['exclude'] !== undefined) sel['exclude'] = checkSelector(sel['exclude'], `${where}.exclude`);
  return sel as SiteSelector;
}

/** Reads a placement file: `[{ "select": {...}, "mode": "wrap" }, ...]` (a single object is accepted too). */
export async function readPlacementFile(file: string): Promise<Array<{ select?: SiteSelector; mode?: SpliceMode }>> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--placement ${file}: ${code === 'ENOENT' ? 'no such file' : `not valid JSON (${(e as Error).message})`}`);
  }
  const list = Array.isArray(json) ? json : [json];
  if (list.length === 0) throw new UsageError(`--placement ${file}: no rules (expected e.g. [{ "select": { "kinds": ["ffn"] }, "mode": "wrap" }])`);
  return list.map((rule: unknown, i) => {
    const where = `--placement ${file}: rules[${i}]`;
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) throw new UsageError(`${where} must be an object with "select" and/or "mode"`);
    const r = rule as Record<string, unknown>;
    for (const key of Object.keys(r)) if (key !== 'select' && key !== 'mode') throw new UsageError(`${where}.${key} is not allowed (a rule has "select" and "mode"; the adapter comes from --adapter)`);
    const mode = r['mode'];
    if (mode !== undefined && !SPLICE_MODES.includes(mode as SpliceMode)) throw new UsageError(`${where}.mode must be one of ${SPLICE_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
    return { ...(r['select'] !== undefined ? { select: checkSelector(r['select'], `${where}.select`) } : {}), ...(mode !== undefined ? { mode: mode as SpliceMode } : {}) };
  });
}

// ---------------------------------------------------------------------------------------------
// train / demo

export interface TrainJob {
  readonly model: string;
  readonly data: string;
  readonly eval?: string;
  readonly adapterSpec: string;
  readonly name: string;
  readonly placementFile?: string;
  readonly fullFinetune: boolean;
  readonly epochs: number;
  readonly maxSteps?: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly maxLength: number;
  /** false: maxLength is the default and shrinks to the model's positions; true/absent: as given, checked. */
  readonly maxLengthGiven?: boolean;
  readonly columns: { text?: string; pair?: string; label?: string };
  readonly pooling: 'mean' | 'cls' | 'pooler';
  /** `--gradient-checkpointing`: the loop's checkpointLayers (default 'auto'). */
  readonly gradientCheckpointing?: GradientCheckpointing;
  readonly seed: number;
  readonly out: string;
  /** Use this many training examples (a seeded sample). */
  readonly trainLimit?: number;
  /** Evaluate every N steps during training; default: about 4 times per run. */
  readonly evalEvery?: number;
  /** Evaluations during training use this many eval examples; the final evaluation uses all of them. */
  readonly evalSubset?: number;
  readonly patience?: number;
  readonly title?: string;
  /** Printed right after the backend banner. */
  readonly intro?: string;
}

export interface TrainSummary {
  readonly adapter: string;
  readonly plugin: string;
  readonly adapterSpec: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly model: string;
  readonly backend: string;
  readonly trainExamples: number;
  readonly evalExamples: number;
  readonly steps: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly maxLength: number;
  readonly seed: number;
  readonly fullFinetune: boolean;
  readonly accuracy: number | null;
  readonly f1: number | null;
  readonly mcc: number | null;
  readonly evalLoss: number | null;
  readonly majorityBaseline: number | null;
  readonly bestStep: number | null;
  readonly trainableParams: number;
  readonly adapterParams: number;
  readonly baseParams: number;
  readonly trainablePercentOfBase: number;
  readonly adapterPercentOfBase: number;
  readonly sites: number;
  readonly trainSeconds: number;
  readonly seconds: number;
}

export function jobFromArgs(args: ParsedArgs, cwd: string): TrainJob {
  const fullFinetune = args.flag('full-finetune');
  const spec = args.requireString('adapter', 'e.g. --adapter seq_bn');
  const pooling = poolingArg(args);
  const name = args.string('name') ?? 'task';
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new UsageError(`--name '${name}' may use only letters, digits, _ and -`, 'train');
  const opt = <K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [key]: v } as { [P in K]?: V }));
  const evalFile = args.string('eval');
  return {
    model: args.requireString('model', 'a model directory or all-MiniLM-L6-v2'),
    data: path.resolve(cwd, args.requireString('data', 'the training file: .tsv, .csv or .jsonl')),
    ...(evalFile !== undefined ? { eval: path.resolve(cwd, evalFile) } : {}),
    adapterSpec: spec,
    name,
    ...opt('placementFile', args.string('placement') !== undefined ? path.resolve(cwd, args.string('placement') as string) : undefined),
    fullFinetune,
    epochs: args.number('epochs') ?? 3,
    ...opt('maxSteps', args.number('max-steps')),
    batchSize: args.number('batch-size') ?? 16,
    learningRate: args.number('lr') ?? (fullFinetune ? 2e-5 : 1e-3),
    maxLength: args.number('max-length') ?? 128,
    maxLengthGiven: args.has('max-length'),
    columns: { ...opt('text', args.string('text-column')), ...opt('pair', args.string('pair-column')), ...opt('label', args.string('label-column')) },
    pooling,
    gradientCheckpointing: checkpointingArg(args),
    seed: args.number('seed') ?? 42,
    out: path.resolve(cwd, args.requireString('out', 'the output directory')),
    ...opt('trainLimit', args.number('train-limit')),
    ...opt('evalEvery', args.number('eval-every')),
    ...opt('evalSubset', args.number('eval-subset')),
    ...opt('patience', args.number('patience')),
  };
}

export function placedSummary(report: readonly PlacementEntry[]): { sites: string[]; modes: SpliceMode[] } {
  return { sites: [...new Set(report.map((r) => r.site))], modes: [...new Set(report.map((r) => r.mode))] };
}

/** One line listing sites compactly: `layer.{0..5}.ffn` when the pattern allows. */
function sitesText(sites: readonly string[]): string {
  const groups = new Map<string, number[]>();
  const rest: string[] = [];
  for (const s of sites) {
    const m = /^(.*?)\.(\d+)\.(.*)$/.exec(s);
    if (!m) {
      rest.push(s);
      continue;
    }
    const key = `${m[1]}.*.${m[3]}`;
    groups.set(key, [...(groups.get(key) ?? []), Number(m[2])]);
  }
  const parts = [...groups].map(([k, layers]) => k.replace('*', layers.length === 1 ? String(layers[0]) : `{${layers.join(',')}}`));
  return [...parts, ...rest].join(', ');
}


async function copyIfPresent(from: string, to: string): Promise<void> {
  await fs.copyFile(from, to).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

/** Full fine-tuning changes the base model too: write it as a model directory usable with --model. */
async function saveFullModel(dir: string, modelDir: string, graph: Graph, store: WeightStore): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) await copyIfPresent(path.join(modelDir, f), path.join(dir, f));
  const baseKeys = [...graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
  for (const [k, t] of exportToCheckpoint(graph, store, baseKeys)) tensors[k] = { dtype: 'F32', shape: t.shape, values: t.values };
  await writeSafetensorsFile(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}

/** Trains an adapter and head as the job says and writes everything to job.out. */
export async function runTrainJob(given: TrainJob, args: ParsedArgs, ctx: CliContext): Promise<TrainSummary> {
  let job = given;
  const wallStart = Date.now();
  const spec: AdapterSpec = parseAdapterSpec(job.adapterSpec);
  const backend = await backendBanner(args, ctx);
  if (job.intro !== undefined) info(ctx, job.intro);

  // Everything that can be checked without the model is checked next.
  const { packages, registry, runtime } = plugins(ctx);
  const choice: PluginChoice = choosePlugin(packages, spec.name, spec.config);
  let config: Record<string, unknown>;
  try {
    config = resolveConfig(choice.plugin, choice.input, 'config');
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--adapter ${job.adapterSpec}: ${e.message}`, 'train');
    throw e;
  }
  const placements = job.placementFile !== undefined ? await readPlacementFile(job.placementFile) : [{}];
  const trainColumns = await detectColumns(job.data, job.columns, true);
  const evalColumns = job.eval !== undefined ? await detectColumns(job.eval, { ...job.columns, ...trainColumns }, true) : undefined;

  const model = await resolveModel(job.model, ctx.cwd, (line) => info(ctx, line));
  if (job.maxLengthGiven === false) job = { ...job, maxLength: Math.min(job.maxLength, maxSequenceLength(await readHfConfig(model.dir))) };
  await checkMaxLength(model.dir, job.maxLength);
  const tokenizer = await loadTokenizer(model.dir);
  const trainRaw = sample(await readColumns(job.data, trainColumns), job.trainLimit, job.seed);
  const evalRaw = job.eval !== undefined && evalColumns ? await readColumns(job.eval, evalColumns) : [];
  if (trainRaw.length === 0) throw new DataError(job.data, undefined, 'has no examples (a header row only?)');
  const labels = trainingLabels(trainRaw, job.data);
  const trainSet = encodeExamples(trainRaw, tokenizer, labels, job.maxLength, job.data);
  const evalSet = encodeExamples(evalRaw, tokenizer, labels, job.maxLength, job.eval ?? '');
  const evalDuring = sample(evalSet, job.evalSubset, job.seed + 1);

  const head: HeadSpec = { type: 'classification', name: job.name, numLabels: labels.size, pooling: job.pooling };
  let pre: Pretrained;
  try {
    pre = await loadPretrained(model.dir, { heads: [head], seed: job.seed });
  } catch (e) {
    if (e instanceof ConfigError && job.pooling === 'pooler') throw new UsageError(`${e.message}; this checkpoint may lack a pooler: use --pooling mean`);
    throw e;
  }
  const rules: PlacementRule[] = placements.map((p) => ({ ...p, adapter: adapter(choice.plugin, job.name, config) }));
  let placedGraph;
  try {
    placedGraph = applyPlacements(pre.graph, rules, runtime);
  } catch (e) {
    if (e instanceof PlacementError || e instanceof ConfigError) throw new UsageError(`${job.placementFile !== undefined ? `--placement ${job.placementFile}` : `--adapter ${job.adapterSpec}`}: ${e.message}`, 'train');
    throw e;
  }
  const { graph, report } = placedGraph;
  const placed = placedSummary(report);
  // A union (MAM, UniPELT) places each component at its own plugin's default sites and mode, re-derived from its
  // config when loaded: it records no placement and may use several modes.
  const union = isUnionPlugin(choice.plugin);
  if (placed.modes.length > 1 && !union) {
    throw new UsageError(`--placement: the rules use different modes (${placed.modes.join(', ')}) for one adapter; the saved adapter can be re-applied with one mode only: train one adapter per mode`);
  }
  pre.store.sync(graph, job.seed);
  // Only what saveAdapter writes may train (adapter + head, as AdapterHub's train_adapter): a trained base
  // LayerNorm would be lost on saving and the reloaded adapter would score differently.
  const policy: TrainPolicy = job.fullFinetune ? fullFineTunePolicy : adaptersOnlyPolicy;
  const params = parameterSummary(graph, policy);
  const adapterParams = params.owners.find((o) => o.owner === `adapter:${job.name}`)?.params ?? 0;
  const stepsPerEpoch = Math.ceil(trainSet.length / job.batchSize);
  const totalSteps = Math.min(job.maxSteps ?? Infinity, job.epochs * stepsPerEpoch);
  const evalEvery = job.evalEvery ?? Math.max(1, Math.ceil(totalSteps / 4));

  info(ctx, `model: ${model.name} (${model.dir}), tokenizer: ${tokenizer.kind}${mappedNote(pre)}`);
  info(ctx, `data: ${trainSet.length} training examples from ${path.basename(job.data)}${evalSet.length > 0 ? `, ${evalSet.length} eval examples from ${path.basename(job.eval ?? '')}${evalDuring.length < evalSet.length ? ` (${evalDuring.length} during training)` : ''}` : ''}; labels: ${labels.labels.join(', ')}`);
  info(ctx, `adapter: '${job.name}' = ${choice.plugin.name}${choice.via === 'preset' ? ` preset ${spec.name}` : ''} at ${placed.sites.length} sites (${placed.modes.join(', ')}): ${sitesText(placed.sites)}`);
  info(ctx, `trainable: ${fmtInt(params.trainable)} parameters (${pct(params.trainablePercentOfBase)} of the base's ${fmtInt(params.base)}; adapter ${fmtInt(adapterParams)})${job.fullFinetune ? ' [full fine-tuning]' : ''}`);
  info(ctx, `training: ${totalSteps} steps (batch ${job.batchSize}, lr ${job.learningRate}, max length ${job.maxLength})${evalDuring.length > 0 ? `, evaluating every ${evalEvery} steps` : ''}`);

  // Everything below is written into a staging directory and swapped in as a whole at the end: a rerun killed
  // midway leaves the previous run intact, never its adapter beside this run's metrics.
  const staged = await stageRunDir(job.out);
  try {
    const summary = await trainAndSave();
    await staged.commit();
    return summary;
  } catch (e) {
    await staged.abandon();
    throw e;
  }

  async function trainAndSave(): Promise<TrainSummary> {
    const runDir = staged.dir;
    const metrics = MetricsWriter.open(path.join(runDir, 'metrics.jsonl'), { fresh: true });
    const progress = new ProgressReporter({ stream: ctx.stderr, every: Math.max(1, Math.min(10, Math.ceil(totalSteps / 20))) });
    const output = `${job.name}.logits`;
    let result;
    try {
      result = train({
        graph,
        store: pre.store,
        output,
        train: trainSet,
        ...(evalDuring.length > 0 ? { eval: evalDuring, evalEvery } : {}),
        policy,
        epochs: job.epochs,
        ...(job.maxSteps !== undefined ? { maxSteps: job.maxSteps } : {}),
        ...(job.patience !== undefined ? { patience: job.patience } : {}),
        batchSize: job.batchSize,
        learningRate: job.learningRate,
        seed: job.seed,
        padId: tokenizer.padId,
        ...(job.gradientCheckpointing !== undefined ? { checkpointLayers: job.gradientCheckpointing } : {}),
        onRecord: (r: TrainRecord) => {
          metrics.write(r);
          progress.onRecord(r);
        },
      });
    } finally {
      progress.finish();
    }
    if (result.checkpointedFrom !== undefined) {
      info(ctx, checkpointedLine(result.checkpointedFrom));
    }

    let final: EvalResult | undefined;
    if (evalSet.length > 0) {
      if (evalDuring.length === evalSet.length && result.best) final = result.best.eval;
      else {
        info(ctx, `evaluating on all ${evalSet.length} eval examples...`);
        final = evaluate(new Executor(graph, pre.store), output, evalSet, { batchSize: Math.max(job.batchSize, 32), padId: tokenizer.padId });
      }
      metrics.write({ type: 'final', step: result.best?.step ?? result.steps, seconds: (Date.now() - wallStart) / 1000, ...final });
    }

    const adapterDir = path.join(job.out, 'adapter');
    await saveAdapter(path.join(runDir, 'adapter'), graph, pre.store, job.name, { head: job.name, registry, labels: labels.labels });
    await writeJsonAtomic(path.join(runDir, RUN_FILE), singleAdapterRun({
      model: model.dir === path.resolve(ctx.cwd, job.model) ? model.dir : model.name, adapter: job.name, head: job.name, dir: 'adapter', labels: labels.labels,
      ...(union ? {} : { placement: { sites: placed.sites, mode: placed.modes[0] as SpliceMode } }), maxLength: job.maxLength, columns: trainColumns,
    }));
    if (job.fullFinetune) await saveFullModel(path.join(runDir, 'model'), model.dir, graph, pre.store);

    try {
      await writeTrainingCurves(result.history, runDir, { title: job.title ?? `${job.name}: ${job.adapterSpec} on ${model.name}` });
    } catch (e) {
      info(ctx, `adapters: warning: could not draw curves.png (${(e as Error).message.split('\n')[0]}); metrics.jsonl has the numbers`);
    }

    const summary: TrainSummary = {
      adapter: job.name,
      plugin: choice.plugin.name,
      adapterSpec: job.adapterSpec,
      config,
      model: model.name,
      backend,
      trainExamples: trainSet.length,
      evalExamples: evalSet.length,
      steps: result.steps,
      epochs: job.epochs,
      batchSize: job.batchSize,
      learningRate: job.learningRate,
      maxLength: job.maxLength,
      seed: job.seed,
      fullFinetune: job.fullFinetune,
      accuracy: final?.accuracy ?? null,
      f1: final?.f1 ?? null,
      mcc: final?.mcc ?? null,
      evalLoss: final?.loss ?? null,
      majorityBaseline: evalSet.length > 0 ? majorityShare(evalSet) : null,
      bestStep: result.best?.step ?? null,
      trainableParams: params.trainable,
      adapterParams,
      baseParams: params.base,
      trainablePercentOfBase: params.trainablePercentOfBase,
      adapterPercentOfBase: params.base === 0 ? 0 : (100 * adapterParams) / params.base,
      sites: placed.sites.length,
      trainSeconds: result.seconds,
      seconds: (Date.now() - wallStart) / 1000,
    };
    await writeJsonAtomic(path.join(runDir, 'summary.json'), summary);
    pre.store.dispose();

    if (final) {
      out(ctx, `accuracy: ${final.accuracy.toFixed(4)}  F1: ${final.f1.toFixed(4)}  (${final.count} eval examples; majority-class baseline ${(summary.majorityBaseline ?? 0).toFixed(4)})`);
    } else {
      out(ctx, 'accuracy: n/a (no --eval file given)');
    }
    out(ctx, `trainable parameters: ${fmtInt(summary.trainableParams)} (${pct(summary.trainablePercentOfBase)} of base ${fmtInt(summary.baseParams)}); adapter alone: ${fmtInt(adapterParams)} (${pct(summary.adapterPercentOfBase)})`);
    out(ctx, `wall time: ${formatDuration(summary.seconds)} (training ${formatDuration(summary.trainSeconds)}, ${summary.steps} steps) on ${backend}`);
    out(ctx, `saved: ${shortPath(ctx.cwd, adapterDir)} (AdapterHub layout); metrics.jsonl, curves.png, summary.json in ${shortPath(ctx.cwd, job.out)}`);
    return summary;
  }
}

/** Refuses a --max-length the model's position table cannot hold, before any data is tokenised. */
export async function checkMaxLength(modelDir: string, maxLength: number, option = '--max-length'): Promise<void> {
  const limit = maxSequenceLength(await readHfConfig(modelDir));
  if (maxLength > limit) throw new UsageError(`${option} ${maxLength} is longer than the model's ${limit} positions (max_position_embeddings in ${path.join(modelDir, 'config.json')})`);
}

export async function trainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  await runTrainJob(jobFromArgs(args, ctx.cwd), args, ctx);
}

/** The demo's settings: sized to finish in a few minutes on 2 CPU cores with the wasm backend. */
export const DEMO_DEFAULTS = {
  model: 'all-MiniLM-L6-v2',
  adapter: 'seq_bn',
  name: 'sentiment',
  trainLimit: 1024,
  batchSize: 16,
  epochs: 1,
  learningRate: 2e-3,
  maxLength: 64,
  evalEvery: 16,
  evalSubset: 200,
  seed: 42,
  out: 'adapters-demo-out',
} as const;

export async function demoCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const files = demoSentimentFiles();
  const d = DEMO_DEFAULTS;
  const trainLimit = args.number('train-limit') ?? d.trainLimit;
  const model = args.string('model') ?? d.model;
  const adapterSpec = args.string('adapter') ?? d.adapter;
  const job: TrainJob = {
    model,
    data: files.train,
    eval: files.dev,
    adapterSpec,
    name: d.name,
    fullFinetune: false,
    epochs: args.number('epochs') ?? d.epochs,
    ...(args.number('max-steps') !== undefined ? { maxSteps: args.number('max-steps') as number } : {}),
    batchSize: args.number('batch-size') ?? d.batchSize,
    learningRate: args.number('lr') ?? d.learningRate,
    maxLength: d.maxLength,
    columns: { text: 'sentence', label: 'label' },
    pooling: 'mean',
    seed: args.number('seed') ?? d.seed,
    out: path.resolve(ctx.cwd, args.string('out') ?? d.out),
    trainLimit,
    evalEvery: d.evalEvery,
    evalSubset: d.evalSubset,
    title: `demo: ${adapterSpec} adapter on ${model}, sentiment`,
    intro: `adapters demo: train a ${adapterSpec} adapter + classification head on ${trainLimit} shipped sentiment sentences, evaluate on the shipped dev set`,
  };
  await runTrainJob(job, args, ctx);
}

// ---------------------------------------------------------------------------------------------
// eval / predict / inspect with a saved adapter

interface Trained {
  readonly graph: Graph;
  readonly store: WeightStore;
  readonly output: string;
  readonly labels: readonly string[];
  readonly tokenizer: TextTokenizer;
  readonly meta: Pick<LabelsFile, 'columns'> | undefined;
  readonly adapter: string;
  readonly modelName: string;
  /** --max-length, else the length trained with, else 128 (capped at the model's positions). */
  readonly maxLength: number;
}

/**
 * `--run DIR [--task NAME]`: with --task, the task's own run in DIR/NAME (a multi-task run of `train --task` or
 * pals-train: one adapter + head per task folder); without, DIR itself, unless it is a multi-task run.
 */
async function runOrTaskRun(runDir: string, args: ParsedArgs): Promise<{ dir: string; manifest: RunManifest }> {
  const manifest = await readRunManifest(runDir);
  const tasks = args.strings('task');
  const multi = manifest.extras?.[MULTITASK_EXTRAS] !== undefined;
  const names = manifest.adapters.map((a) => a.name);
  if (tasks.length === 0) {
    if (multi) throw new UsageError(`${path.join(runDir, RUN_FILE)} is a multi-task run: give --task NAME (tasks: ${names.join(', ')})`, args.command);
    return { dir: runDir, manifest };
  }
  if (tasks.length > 1) throw new UsageError('give --task once (one task of the run)', args.command);
  const name = tasks[0] as string;
  const entry = manifest.adapters.find((a) => a.name === name);
  if (!entry || !manifest.heads.some((h) => h.name === name && h.dir === entry.dir)) {
    throw new UsageError(`--task ${name}: ${path.join(runDir, RUN_FILE)} has no task '${name}' with its own adapter and head (adapters: ${names.join(', ') || 'none'})`, args.command);
  }
  const dir = path.resolve(runDir, entry.dir);
  const own = await fs.stat(path.join(dir, RUN_FILE)).then(() => true, () => false);
  if (!own) throw new UsageError(`--task ${name}: ${dir} has no ${RUN_FILE} of its own; this run is not a multi-task run with one folder per task`, args.command);
  return { dir, manifest: await readRunManifest(dir) };
}

/** `--run DIR`: any run.json (core's loadRunHead rebuilds the model). */
async function loadTrainedRun(args: ParsedArgs, ctx: CliContext): Promise<Trained> {
  const { dir, manifest } = await runOrTaskRun(path.resolve(ctx.cwd, args.requireString('run', 'a run directory with run.json')), args);
  const { packages, runtime } = plugins(ctx);
  const extras = Object.assign({}, ...packages.map((p) => p.runExtras ?? {})) as Record<string, RunExtraHandler>;
  // A run core's eval cannot rebuild (a tagger, a model per task): name the plugin command that evaluates it.
  const elsewhere = Object.assign({}, ...packages.map((p) => p.runExtrasCommands ?? {})) as Record<string, string>;
  const other = Object.keys(manifest.extras ?? {}).find((k) => !extras[k] && elsewhere[k] !== undefined);
  if (other !== undefined) {
    throw new UsageError(`${path.join(dir, RUN_FILE)}: extras.${other}: this run is not one adapter + classification head that '${args.command}' can rebuild; use ${(elsewhere[other] as string).replace(/\bDIR\b/g, args.string('run') as string)}`, args.command);
  }
  const model = await resolveModel(args.string('model') ?? manifest.model, ctx.cwd, (line) => info(ctx, line));
  const maxLength = args.number('max-length') ?? manifest.maxLength;
  await checkMaxLength(model.dir, maxLength, args.has('max-length') ? '--max-length' : 'the trained max length (run.json)');
  const pre = await loadPretrained(model.dir);
  const run = await loadRunHead(dir, pre.graph, pre.store, { registry: runtime, extras });
  info(ctx, `loaded run ${shortPath(ctx.cwd, run.dir)}: adapters ${manifest.adapters.map((a) => a.name).join(', ') || 'none'}, head '${run.head}' (${run.headLabels.join(', ')}) on ${model.name}`);
  const meta = { columns: manifest.columns as LabelsFile['columns'] };
  return { graph: run.graph, store: pre.store, output: run.output, labels: run.headLabels, tokenizer: await loadTokenizer(model.dir), meta, adapter: manifest.adapters.map((a) => a.name).join('+'), modelName: model.name, maxLength };
}

async function loadTrained(args: ParsedArgs, ctx: CliContext): Promise<Trained> {
  if (args.has('run')) {
    if (args.has('adapter-dir')) throw new UsageError('give --run DIR or --adapter-dir DIR, not both', args.command);
    return loadTrainedRun(args, ctx);
  }
  if (args.has('task')) throw new UsageError('--task picks one task of a multi-task run: give it with --run DIR', args.command);
  const adapterDir = await resolveAdapterDir(args.requireString('adapter-dir', 'the adapter directory written by adapters train'), ctx.cwd);
  const meta = await readLabelsFile(adapterDir);
  const modelSpec = args.string('model') ?? meta?.model;
  if (modelSpec === undefined) throw new UsageError(`missing required option --model (${adapterDir} has no run.json naming it)`, args.command);
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const given = args.has('max-length') ? args.number('max-length') : meta?.maxLength;
  const maxLength = given ?? Math.min(128, maxSequenceLength(await readHfConfig(model.dir)));
  await checkMaxLength(model.dir, maxLength, given === undefined || args.has('max-length') ? '--max-length' : `the trained max length (run.json)`);
  const { registry } = plugins(ctx);
  const pre = await loadPretrained(model.dir);
  const rule = meta?.placement ? { select: { names: [...meta.placement.sites] }, mode: meta.placement.mode } : undefined;
  const loaded = await loadAdapter(adapterDir, pre.graph, pre.store, registry, rule ? { rule } : {});
  if (loaded.head === undefined) throw new UsageError(`${adapterDir} has no prediction head (head_config.json); save the adapter with its head (adapters train does)`);
  const output = `${loaded.head}.logits`;
  const numLabels = (loaded.graph.meta['heads'] as HeadSpec[] | undefined)?.find((h) => h.name === loaded.head);
  const n = numLabels && numLabels.type !== 'maskedLM' ? numLabels.numLabels : 0;
  if (meta?.labels && meta.labels.length !== n) {
    throw new ConfigError(`${meta.source ?? adapterDir}: labels`, `lists ${meta.labels.length} labels but the head '${loaded.head}' has ${n} outputs; the files come from different runs`, 'E_CHECKPOINT_MISMATCH');
  }
  const labels = meta?.labels ? meta.labels : Array.from({ length: n }, (_v, i) => String(i));
  info(ctx, `loaded adapter '${loaded.name}' with head '${loaded.head}' (${labels.join(', ')}) on ${model.name}`);
  return { graph: loaded.graph, store: pre.store, output, labels, tokenizer: await loadTokenizer(model.dir), meta, adapter: loaded.name, modelName: model.name, maxLength };
}

export async function evalCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  await backendBanner(args, ctx);
  const t = await loadTrained(args, ctx);
  const file = path.resolve(ctx.cwd, args.requireString('data', 'a labelled .tsv, .csv or .jsonl file'));
  const given = { ...(t.meta?.columns ?? {}) } as { text?: string; pair?: string; label?: string };
  for (const [k, opt] of [['text', 'text-column'], ['pair', 'pair-column'], ['label', 'label-column']] as const) {
    const v = args.string(opt);
    if (v !== undefined) given[k] = v;
  }
  const columns = await detectColumns(file, given, true);
  const examples = encodeExamples(await readColumns(file, columns), t.tokenizer, new LabelVocab(t.labels), t.maxLength, file);
  if (examples.length === 0) throw new UsageError(`${file}: no examples`);
  const started = Date.now();
  const r = evaluate(new Executor(t.graph, t.store), t.output, examples, { batchSize: args.number('batch-size') ?? 32, padId: t.tokenizer.padId });
  out(ctx, `accuracy: ${r.accuracy.toFixed(4)}  F1: ${r.f1.toFixed(4)}  MCC: ${r.mcc.toFixed(4)}  loss: ${r.loss.toFixed(4)}  (${r.count} examples; majority-class baseline ${majorityShare(examples).toFixed(4)}; ${formatDuration((Date.now() - started) / 1000)})`);
  t.store.dispose();
}

/** Softmax probabilities of a batch of texts, in batches. */
function predictBatch(t: Trained, inputs: ReadonlyArray<{ text: string; textPair?: string }>, maxLength: number, batchSize: number): number[][] {
  const executor = new Executor(t.graph, t.store);
  const probs: number[][] = [];
  for (let i = 0; i < inputs.length; i += batchSize) {
    const chunk = inputs.slice(i, i + batchSize).map((x): TrainExample => {
      const enc = t.tokenizer.encode(x.text, x.textPair, { maxLength });
      return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label: 0 };
    });
    const batch = makeBatch(chunk, t.tokenizer.padId);
    const values = tf.tidy(() => tf.softmax(executor.run(batch.feeds, { outputs: [t.output] })[t.output] as tf.Tensor).arraySync() as number[][]);
    disposeBatch(batch);
    probs.push(...values);
  }
  return probs;
}

export async function predictCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const texts = args.strings('text');
  const dataFile = args.string('data');
  if (texts.length === 0 && dataFile === undefined) throw new UsageError('give --text "..." (repeatable) or --data FILE', 'predict');
  if (texts.length > 0 && dataFile !== undefined) throw new UsageError('give either --text or --data, not both', 'predict');
  await backendBanner(args, ctx);
  const t = await loadTrained(args, ctx);
  let inputs: Array<{ text: string; textPair?: string }> = texts.map((text) => ({ text }));
  if (dataFile !== undefined) {
    const file = path.resolve(ctx.cwd, dataFile);
    const textColumn = args.string('text-column') ?? t.meta?.columns.text;
    const pairColumn = args.string('pair-column') ?? t.meta?.columns.pair;
    const columns = await detectColumns(file, { ...(textColumn !== undefined ? { text: textColumn } : {}), ...(pairColumn !== undefined ? { pair: pairColumn } : {}) }, false);
    inputs = (await readColumns(file, { text: columns.text, ...(columns.pair !== undefined ? { pair: columns.pair } : {}) })).map((e) => ({ text: e.text, ...(e.textPair !== undefined ? { textPair: e.textPair } : {}) }));
  }
  const probs = predictBatch(t, inputs, t.maxLength, args.number('batch-size') ?? 32);
  const json = args.flag('json');
  inputs.forEach((input, i) => {
    const p = probs[i] ?? [];
    const best = p.reduce((b, v, j) => (v > (p[b] ?? -Infinity) ? j : b), 0);
    const label = t.labels[best] ?? String(best);
    if (json) out(ctx, JSON.stringify({ text: input.text, ...(input.textPair !== undefined ? { textPair: input.textPair } : {}), label, probability: p[best], probabilities: Object.fromEntries(t.labels.map((l, j) => [l, p[j]])) }));
    else out(ctx, `${label}\t${(p[best] ?? 0).toFixed(4)}\t${input.text}`);
  });
  t.store.dispose();
}

export async function inspectCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  if (args.has('adapter') && args.has('adapter-dir')) throw new UsageError('give --adapter or --adapter-dir, not both', 'inspect');
  const backend = await backendBanner(args, ctx);
  let graph: Graph;
  let store: WeightStore;
  let title: string;
  let policy: TrainPolicy = args.flag('full-finetune') ? fullFineTunePolicy : adaptersOnlyPolicy;
  if (args.has('adapter-dir')) {
    const t = await loadTrained(args, ctx);
    ({ graph, store } = t);
    title = `${t.modelName} + adapter '${t.adapter}'`;
  } else {
    const model = await resolveModel(args.requireString('model', 'a model directory or all-MiniLM-L6-v2'), ctx.cwd, (line) => info(ctx, line));
    const pre = await loadPretrained(model.dir);
    ({ graph, store } = pre);
    title = model.name;
    const specText = args.string('adapter');
    if (specText !== undefined) {
      const spec = parseAdapterSpec(specText);
      const { packages, runtime } = plugins(ctx);
      const choice = choosePlugin(packages, spec.name, spec.config);
      const name = args.string('name') ?? spec.name.replace(/[^A-Za-z0-9_-]/g, '_');
      const placementFile = args.string('placement');
      const placements = placementFile !== undefined ? await readPlacementFile(path.resolve(ctx.cwd, placementFile)) : [{}];
      let placed;
      try {
        placed = applyPlacements(graph, placements.map((p) => ({ ...p, adapter: adapter(choice.plugin, name, choice.input) })), runtime);
      } catch (e) {
        if (e instanceof ConfigError) throw new UsageError(`--adapter ${specText}: ${e.message}`, 'inspect');
        if (e instanceof PlacementError) throw new UsageError(e.message, 'inspect');
        throw e;
      }
      graph = placed.graph;
      title = `${model.name} + ${choice.plugin.name}${choice.via === 'preset' ? ` ${spec.name}` : ''} as '${name}'`;
    } else {
      policy = args.flag('full-finetune') ? fullFineTunePolicy : () => false;
    }
  }
  const summary = parameterSummary(graph, policy);
  out(ctx, `${title} on ${backend}`);
  out(ctx, describeGraph(graph, { nodes: args.flag('nodes'), trainable: policy }));
  out(ctx);
  out(ctx, `trainable: ${fmtInt(summary.trainable)} of ${fmtInt(summary.total)} parameters (${pct(summary.trainablePercentOfBase)} of base ${fmtInt(summary.base)})`);
  store.dispose();
}

// ---------------------------------------------------------------------------------------------
// list

export function listCommand(_args: ParsedArgs, ctx: CliContext): void {
  const packages = discoverPlugins(ctx.pluginSearchPaths);
  if (packages.length === 0) {
    out(ctx, 'no adapter plugins installed (packages named @adapters/adapter-*); install one, e.g. npm install @adapters/adapter-bottleneck');
    return;
  }
  for (const p of packages) {
    out(ctx, `${p.name}${p.version !== undefined ? `@${p.version}` : ''}  (${p.dir})`);
    if (p.error !== undefined) {
      out(ctx, `  unusable: ${p.error}`);
      continue;
    }
    if (p.plugins.length === 0) out(ctx, '  (exports no adapter plugins)');
    for (const plugin of p.plugins) {
      out(ctx, `  ${plugin.name}: ${plugin.description}`);
      out(ctx, `    presets: ${plugin.presets && plugin.presets.length > 0 ? plugin.presets.join(', ') : '(none; use --adapter ' + plugin.name + ')'}`);
      out(ctx, `    modes:   ${plugin.modes.join(', ')}`);
    }
    for (const c of p.commands) out(ctx, `  command: adapters ${c.spec.name} — ${c.spec.brief}`);
  }
}

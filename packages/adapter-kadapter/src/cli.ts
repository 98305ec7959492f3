// `adapters kadapter-*` subcommands: the two K-Adapter pre-training recipes (factual on FewRel, linguistic on
// UD) and downstream classification with pre-trained knowledge adapters, base frozen. Exported as `commands`;
// core-graph's CLI finds them by plugin discovery.
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { EvalResult, JsonSchema, RunManifest, TrainRecord } from '@adapters/core-graph';
import { assignFromCheckpoint, checkpointTensor, ConfigError, encodeSafetensors, evaluate, Executor, HEAD_CONFIG_FILE, LabelVocab, loadTokenizer, parameterSummary, readSafetensorsFile, resolveConfig, RUN_FILE, RUN_FORMAT, stageRunDir, train, validateRunManifest, validateSchema, writeFileAtomic, writeJsonAtomic } from '@adapters/core-graph';
import type { CliCommand, CliContext, Columns, CommandSpec, OptionSpec, ParsedArgs } from '@adapters/cli';
import { backendBanner, COLUMN_OPTIONS, detectColumns, encodeExamples, formatDuration, givenColumns, majorityShare, MetricsWriter, option, parseAdapterSpec, ProgressReporter, readColumns, readRunArg, resolveModel, shortPath, UsageError } from '@adapters/cli';
import type { CombineMode } from './combine';
import { KADAPTER_PRESETS } from './config';
import type { KnowledgeHeadSpec } from './heads';
import { KADAPTER_CONFIG_FILE, saveKAdapter } from './hub';
import { kadapter } from './plugin';
import { loadPretrainedEncoder } from './pretrained';
import type { RecipeResult } from './recipes';
import { attachKnowledgeAdapters, pretrainFactualAdapter, pretrainLinguisticAdapter } from './recipes';
import { frozenFeatureHooks } from './frozen-cache';

/** kadapter-train's key in run.json's extras: the combination, the knowledge head spec and its labels, the task weights file. */
export const KADAPTER_EXTRAS = 'kadapter';
export const KADAPTER_TASK_WEIGHTS_FILE = 'task.safetensors';

/**
 * A kadapter-train run is knowledge adapters beside the model, a combination and a head kept in task.safetensors
 * (not an adapter + head core's loadRun rebuilds): core's eval names kadapter-eval instead.
 */
export const runExtrasCommands: Readonly<Record<string, string>> = {
  [KADAPTER_EXTRAS]: 'adapters kadapter-eval --task DIR --data FILE',
};

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const NAME_RE = /^[A-Za-z0-9_-]+$/;

const MODEL: OptionSpec = option('model');
const TRAINING = (lr: string): readonly OptionSpec[] => [
  option('epochs'),
  { name: 'max-steps', type: 'int', min: 1, metavar: 'N', help: 'stop after N steps' },
  option('batchSize'),
  option('lr', { defaultText: lr }),
  { name: 'eval-every', type: 'int', min: 1, metavar: 'N', help: 'evaluate every N steps (the best weights are kept)', defaultText: 'at the end' },
  option('seed', { defaultText: '0' }),
];

export const PRETRAIN_SPEC: CommandSpec = {
  name: 'kadapter-pretrain',
  brief: 'pre-train a K-Adapter: factual (FewRel relations) or linguistic (UD dependency heads)',
  summary:
    'Pre-trains a knowledge adapter beside the frozen model. factual: relation classification on a FewRel JSON file ({relation: [{tokens, h, t}]}), ' +
    'with a seeded train/eval split inside each relation; linguistic: dependency-head prediction on a CoNLL-U file (first sentences train, the next evaluate). ' +
    'Writes the adapter and its pre-training head in AdapterHub layout (adapter_config.json, adapter.safetensors, head_config.json, model_head.safetensors), ' +
    'metrics.jsonl and summary.json to --out.',
  usage: '--model DIR|NAME --knowledge factual|linguistic --data FILE --out DIR [options]',
  options: [
    MODEL,
    { name: 'knowledge', type: 'string', metavar: 'factual|linguistic', help: 'which knowledge adapter to pre-train' },
    { name: 'data', type: 'string', metavar: 'FILE', help: 'factual: FewRel JSON (e.g. val_wiki.json); linguistic: a CoNLL-U file (e.g. en_ewt-ud-dev.conllu)' },
    { name: 'name', type: 'string', metavar: 'NAME', help: 'adapter name', defaultText: 'factual / linguistic' },
    { name: 'adapter-config', type: 'string', metavar: 'SPEC', help: 'K-Adapter preset with overrides, e.g. kadapter_small:adapter_transformer_layers=1 or kadapter (the paper\'s sizes)', defaultText: 'kadapter_small' },
    { name: 'relations', type: 'int', min: 2, metavar: 'N', help: 'factual: use the first N relations of the file', defaultText: '5' },
    { name: 'relation', type: 'string', repeat: true, metavar: 'ID', help: 'factual: use this relation (instead of --relations)' },
    { name: 'per-relation', type: 'int', min: 1, metavar: 'N', help: 'factual: training instances per relation', defaultText: '60' },
    { name: 'eval-per-relation', type: 'int', min: 1, metavar: 'N', help: 'factual: evaluation instances per relation', defaultText: '20' },
    { name: 'markers', type: 'string', metavar: 'S1,S2,O1,O2', help: 'factual: entity marker tokens (subject start/end, object start/end)', defaultText: '[unused0],[unused1],[unused2],[unused3]' },
    { name: 'train-sentences', type: 'int', min: 1, metavar: 'N', help: 'linguistic: training sentences (from the start of the file)', defaultText: '1000' },
    { name: 'eval-sentences', type: 'int', min: 1, metavar: 'N', help: 'linguistic: evaluation sentences (the next ones)', defaultText: '200' },
    { name: 'projection-size', type: 'int', min: 1, metavar: 'N', help: 'linguistic: width of the dependency head\'s projections', defaultText: 'min(hidden, 256)' },
    { name: 'max-length', type: 'int', min: 4, metavar: 'N', help: 'tokens per example', defaultText: '96 factual, 64 linguistic' },
    ...TRAINING('1e-3'),
    { name: 'out', type: 'string', metavar: 'DIR', help: 'output directory' },
  ],
  examples: [
    'adapters kadapter-pretrain --model minilm --knowledge factual --data fewrel/val_wiki.json --relations 5 --per-relation 60 --epochs 6 --out runs/factual',
    'adapters kadapter-pretrain --model minilm --knowledge linguistic --data ud/en_ewt-ud-dev.conllu --train-sentences 1000 --out runs/linguistic',
  ],
};

export const TRAIN_SPEC: CommandSpec = {
  name: 'kadapter-train',
  brief: 'downstream classification with pre-trained K-Adapters, base frozen',
  summary:
    'Loads pre-trained knowledge adapters (kadapter-pretrain outputs, without their pre-training heads), combines them with the model\'s last hidden state ' +
    '(concat: per-adapter projections then a joint one; sum: h + Σ adapter outputs) and trains a classification head with the base frozen. By default the adapters ' +
    'fine-tune too (the paper\'s setting); --freeze-adapters trains only the combination and the head. Writes the adapters (kadapters/NAME), run.json + task.safetensors ' +
    '(combination and head), metrics.jsonl and summary.json to --out; evaluate it again with kadapter-eval.',
  usage: '--model DIR|NAME --kadapter DIR[,DIR2] [--combine concat|sum] --data FILE [--eval FILE] --out DIR [options]',
  options: [
    MODEL,
    { name: 'kadapter', type: 'string', repeat: true, metavar: 'DIR[,DIR]', help: 'K-Adapter directories written by kadapter-pretrain (comma-separated or repeated)' },
    { name: 'combine', type: 'string', metavar: 'concat|sum', help: 'how the adapters combine with the last hidden state', defaultText: 'concat' },
    { name: 'data', type: 'string', metavar: 'FILE', help: 'training examples (.tsv, .csv or .jsonl)' },
    { name: 'eval', type: 'string', metavar: 'FILE', help: 'evaluation examples, same columns' },
    { name: 'name', type: 'string', metavar: 'NAME', help: 'name of the task head', defaultText: 'task' },
    { name: 'pooling', type: 'string', metavar: 'cls|mean', help: 'how the head reads the combined sequence', defaultText: 'cls' },
    { name: 'freeze-adapters', type: 'boolean', help: 'keep the pre-trained adapters fixed (train only the combination and the head)' },
    { name: 'max-length', type: 'int', min: 4, metavar: 'N', help: 'tokens per example, including special tokens', defaultText: '128' },
    ...TRAINING('1e-4'),
    ...COLUMN_OPTIONS,
    { name: 'out', type: 'string', metavar: 'DIR', help: 'output directory' },
  ],
  examples: ['adapters kadapter-train --model minilm --kadapter runs/factual,runs/linguistic --combine concat --data sst2/train.tsv --eval sst2/dev.tsv --out runs/sst2-kadapter'],
};

export const EVAL_SPEC: CommandSpec = {
  name: 'kadapter-eval',
  brief: 'evaluate a kadapter-train output on a labelled file',
  summary: 'Rebuilds a kadapter-train output (base, K-Adapters, combination, head) and reports accuracy and loss on a labelled file.',
  usage: '--task DIR --data FILE [--model DIR|NAME] [options]',
  options: [
    { name: 'task', type: 'string', metavar: 'DIR', help: 'directory written by kadapter-train' },
    { name: 'data', type: 'string', metavar: 'FILE', help: 'labelled examples (.tsv, .csv or .jsonl)' },
    { ...MODEL, defaultText: 'the model recorded in run.json' },
    ...COLUMN_OPTIONS,
    { name: 'max-length', type: 'int', min: 4, metavar: 'N', help: 'tokens per example', defaultText: 'as trained' },
    { name: 'batch-size', type: 'int', min: 1, metavar: 'N', help: 'examples per batch', defaultText: '32' },
  ],
  examples: ['adapters kadapter-eval --task runs/sst2-kadapter --data glue-sst2/dev.tsv'],
};

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** `--adapter-config PRESET[:key=value,...]` → the plugin's config input, validated. */
function adapterConfigOf(args: ParsedArgs): { text: string; input: Record<string, unknown> } {
  const text = args.string('adapter-config') ?? 'kadapter_small';
  const spec = parseAdapterSpec(text);
  if (!(spec.name in KADAPTER_PRESETS)) throw new UsageError(`--adapter-config ${text}: '${spec.name}' is not a K-Adapter preset (presets: ${Object.keys(KADAPTER_PRESETS).join(', ')})`, args.command);
  const input = { config: spec.name, ...spec.config };
  try {
    resolveConfig(kadapter, input, 'adapter-config');
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--adapter-config ${text}: ${e.message}`, args.command);
    throw e;
  }
  return { text, input };
}

async function requireFile(given: string, cwd: string, option: string): Promise<string> {
  const file = path.resolve(cwd, given);
  const s = await stat(file).catch(() => undefined);
  if (!s?.isFile()) throw new UsageError(`${option} ${given}: no such file`);
  return file;
}

/** The recipes' and trainer's ConfigErrors about the data and sizes name recipe fields; say which option to change. */
const OPTION_OF: Readonly<Record<string, string>> = {
  relations: '--relations / --relation', trainPerRelation: '--per-relation / --eval-per-relation', trainSentences: '--train-sentences / --eval-sentences', markers: '--markers',
};
function asUsage(e: unknown, command: string): unknown {
  if (e instanceof ConfigError) {
    const option = OPTION_OF[e.path] ?? (e.path.includes('adapter_list') || e.path.includes('config') ? '--adapter-config' : undefined);
    if (option !== undefined) return new UsageError(`${option}: ${e.message}`, command);
  }
  return e;
}

function progressOf(ctx: CliContext, file: string): { onRecord: (r: TrainRecord) => void; finish: () => void } {
  const metrics = MetricsWriter.open(file, { fresh: true });
  const progress = new ProgressReporter({ stream: ctx.stderr, every: 10 });
  const started = Date.now();
  return {
    onRecord: (r) => {
      metrics.write(r);
      const seconds = (Date.now() - started) / 1000;
      if (r.type === 'step') progress.onRecord({ ...r, seconds });
      else {
        // K-Adapter evaluations have no F1 (per-token accuracy for the linguistic head): not the reporter's eval line.
        progress.finish();
        info(ctx, `eval @ step ${r.step}: accuracy ${r.accuracy.toFixed(4)}  loss ${r.loss.toFixed(4)}  (${r.count} labelled positions)`);
      }
    },
    finish: () => progress.finish(),
  };
}

// ---------------------------------------------------------------------------------------------
// kadapter-pretrain

export async function pretrainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const knowledge = args.requireString('knowledge', 'factual or linguistic');
  if (knowledge !== 'factual' && knowledge !== 'linguistic') throw new UsageError(`--knowledge must be factual or linguistic, got '${knowledge}'`, args.command);
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const dataGiven = args.requireString('data', knowledge === 'factual' ? 'a FewRel JSON file' : 'a CoNLL-U file');
  const target = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const wrong = (knowledge === 'factual' ? ['train-sentences', 'eval-sentences', 'projection-size'] : ['relations', 'relation', 'per-relation', 'eval-per-relation', 'markers']).filter((o) => args.has(o));
  if (wrong.length > 0) throw new UsageError(`--${wrong[0]} does not apply to --knowledge ${knowledge}`, args.command);
  if (args.has('relations') && args.has('relation')) throw new UsageError('give --relations N or --relation ID (repeatable), not both', args.command);
  let markers: [string, string, string, string] | undefined;
  if (args.has('markers')) {
    const m = (args.string('markers') as string).split(',').map((s) => s.trim());
    if (m.length !== 4 || m.some((s) => s === '')) throw new UsageError(`--markers must be four comma-separated tokens (subject start, subject end, object start, object end), got '${args.string('markers')}'`, args.command);
    markers = m as [string, string, string, string];
  }
  const name = args.string('name') ?? knowledge;
  if (!NAME_RE.test(name)) throw new UsageError(`--name '${name}' may use only letters, digits, _ and -`, args.command);
  const adapterConfig = adapterConfigOf(args);
  const data = await requireFile(dataGiven, ctx.cwd, '--data');
  const backend = await backendBanner(args, ctx);
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  // Written into a staging directory and swapped in as a whole (io/run-dir): a reader sees the old run or the new one.
  const staged = await stageRunDir(target);
  const outDir = staged.dir;
  const opt = <K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [key]: v } as { [P in K]?: V }));
  const progress = progressOf(ctx, path.join(outDir, 'metrics.jsonl'));
  const common = {
    modelDir: model.dir, name, config: adapterConfig.input, outDir,
    ...opt('maxLength', args.number('max-length')), epochs: args.number('epochs') ?? 3, ...opt('maxSteps', args.number('max-steps')),
    batchSize: args.number('batch-size') ?? 16, learningRate: args.number('lr') ?? 1e-3, seed: args.number('seed') ?? 0, ...opt('evalEvery', args.number('eval-every')),
    onRecord: progress.onRecord,
  };
  info(ctx, `kadapter-pretrain: ${knowledge} adapter '${name}' (${adapterConfig.text}) on ${model.name}, base frozen; data ${path.basename(data)}`);
  let result: RecipeResult & { readonly labels?: readonly string[] };
  try {
    result = knowledge === 'factual'
      ? await pretrainFactualAdapter({
        ...common, fewrelFile: data, relations: args.has('relation') ? args.strings('relation') : (args.number('relations') ?? 5),
        trainPerRelation: args.number('per-relation') ?? 60, evalPerRelation: args.number('eval-per-relation') ?? 20, ...opt('markers', markers),
      })
      : await pretrainLinguisticAdapter({
        ...common, conlluFile: data, trainSentences: args.number('train-sentences') ?? 1000, evalSentences: args.number('eval-sentences') ?? 200, ...opt('projectionSize', args.number('projection-size')),
      });
  } catch (e) {
    throw asUsage(e, args.command);
  } finally {
    progress.finish();
  }
  const params = parameterSummary(result.graph, (p) => p.owner === `adapter:${name}`);
  await writeJsonAtomic(path.join(outDir, 'summary.json'), {
    knowledge, adapter: name, head: result.head, model: model.name, backend, adapterConfig: adapterConfig.text, ...(result.labels ? { labels: result.labels } : {}),
    trainExamples: result.trainCount, evalExamples: result.evalCount, steps: result.train.steps, accuracy: result.eval.accuracy, evalLoss: result.eval.loss,
    evalCount: result.eval.count, chance: result.chance, bestStep: result.train.best?.step ?? null, adapterParams: params.trainable, baseParams: params.base, seconds: (Date.now() - started) / 1000,
  });
  result.store.dispose();
  const what = knowledge === 'factual' ? `relation accuracy over ${result.labels?.length ?? '?'} relations` : 'dependency-head accuracy (UAS over word pieces)';
  out(ctx, `${what}: ${pct(result.eval.accuracy)} (chance ${pct(result.chance)}; ${result.evalCount} eval examples, ${result.train.steps} steps)`);
  out(ctx, `adapter '${name}': ${params.trainable.toLocaleString('en-US')} parameters; wall time ${formatDuration((Date.now() - started) / 1000)} on ${backend}`);
  await staged.commit();
  out(ctx, `saved: ${shortPath(ctx.cwd, target)} (${KADAPTER_CONFIG_FILE}, adapter.safetensors, ${HEAD_CONFIG_FILE}, metrics.jsonl, summary.json)`);
}

// ---------------------------------------------------------------------------------------------
// kadapter-train

export async function trainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const dirsGiven = args.strings('kadapter').flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (dirsGiven.length === 0) throw new UsageError('missing required option --kadapter (directories written by kadapter-pretrain)', args.command);
  const mode = args.string('combine') ?? 'concat';
  if (mode !== 'concat' && mode !== 'sum') throw new UsageError(`--combine must be concat or sum, got '${mode}'`, args.command);
  const pooling = args.string('pooling') ?? 'cls';
  if (pooling !== 'cls' && pooling !== 'mean') throw new UsageError(`--pooling must be cls or mean, got '${pooling}'`, args.command);
  const head = args.string('name') ?? 'task';
  if (!NAME_RE.test(head)) throw new UsageError(`--name '${head}' may use only letters, digits, _ and -`, args.command);
  const data = path.resolve(ctx.cwd, args.requireString('data', 'the training file: .tsv, .csv or .jsonl'));
  const evalGiven = args.string('eval');
  const evalFile = evalGiven !== undefined ? path.resolve(ctx.cwd, evalGiven) : undefined;
  const target = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const maxLength = args.number('max-length') ?? 128;
  const dirs: string[] = [];
  const names: string[] = [];
  for (const given of dirsGiven) {
    const dir = path.resolve(ctx.cwd, given);
    let saved: { name?: unknown; config?: { architecture?: unknown } };
    try {
      saved = JSON.parse(await readFile(path.join(dir, KADAPTER_CONFIG_FILE), 'utf8')) as typeof saved;
    } catch {
      throw new UsageError(`--kadapter ${given}: no readable ${KADAPTER_CONFIG_FILE} there; pass a directory written by kadapter-pretrain`, args.command);
    }
    if (saved.config?.architecture !== 'kadapter') throw new UsageError(`--kadapter ${given}: ${KADAPTER_CONFIG_FILE} is not a K-Adapter's (architecture ${JSON.stringify(saved.config?.architecture ?? null)})`, args.command);
    const name = String(saved.name);
    if (names.includes(name)) throw new UsageError(`--kadapter: two adapters are named '${name}'; combine adapters with distinct names`, args.command);
    dirs.push(dir);
    names.push(name);
  }
  const backend = await backendBanner(args, ctx);
  const trainColumns: Columns = await detectColumns(data, givenColumns(args), true);
  const evalColumns = evalFile !== undefined ? await detectColumns(evalFile, givenColumns(args, { ...trainColumns }), true) : undefined;
  // Written into a staging directory and swapped in as a whole (io/run-dir): a reader sees the old run or the new one.
  const staged = await stageRunDir(target);
  const outDir = staged.dir;
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const trainRaw = await readColumns(data, trainColumns);
  let labels: LabelVocab;
  try {
    labels = LabelVocab.fromExamples(trainRaw);
  } catch (e) {
    throw new UsageError(`${data}: ${(e as Error).message}`);
  }
  if (labels.size < 2) throw new UsageError(`${data}: the training data has only one label ('${labels.labels[0]}'); a classifier needs at least two`);
  const trainSet = encodeExamples(trainRaw, tokenizer, labels, maxLength, data);
  const evalSet = evalFile !== undefined && evalColumns ? encodeExamples(await readColumns(evalFile, evalColumns), tokenizer, labels, maxLength, evalFile) : [];
  const seed = args.number('seed') ?? 0;
  const pre = await loadPretrainedEncoder(model.dir, { seed });
  const headSpec: KnowledgeHeadSpec = { type: 'classification', name: head, numLabels: labels.size, pooling };
  let task;
  try {
    task = await attachKnowledgeAdapters({ graph: pre.graph, store: pre.store, adapters: dirs, mode: mode as CombineMode, head: headSpec, seed });
  } catch (e) {
    throw asUsage(e, args.command);
  }
  const freeze = args.flag('freeze-adapters');
  const policy = freeze ? task.headOnlyPolicy : task.policy;
  const params = parameterSummary(task.graph, policy);
  info(ctx, `model: ${model.name} (${model.dir}), tokenizer: ${tokenizer.kind}`);
  info(ctx, `data: ${trainSet.length} training examples${evalSet.length > 0 ? `, ${evalSet.length} eval examples` : ''}; labels: ${labels.labels.join(', ')}`);
  info(ctx, `K-Adapters: ${task.adapters.join(', ')} (${mode}); base frozen; training ${freeze ? 'combination + head' : 'adapters + combination + head'} (${params.trainable.toLocaleString('en-US')} parameters)`);

  const progress = progressOf(ctx, path.join(outDir, 'metrics.jsonl'));
  const evalEvery = args.number('eval-every');
  const maxSteps = args.number('max-steps');
  // The frozen base runs once per example (its features are cached and fed to every step and evaluation).
  const cached = frozenFeatureHooks({ graph: task.graph, store: pre.store, output: task.output, policy, examples: [...trainSet, ...evalSet], padId: tokenizer.padId });
  let result;
  try {
    result = train({
      graph: task.graph, store: pre.store, output: task.output, train: trainSet, ...(evalSet.length > 0 ? { eval: evalSet } : {}), policy,
      epochs: args.number('epochs') ?? 3, ...(maxSteps !== undefined ? { maxSteps } : {}), batchSize: args.number('batch-size') ?? 16, learningRate: args.number('lr') ?? 1e-4,
      seed, padId: tokenizer.padId, ...(evalEvery !== undefined ? { evalEvery } : {}), onRecord: progress.onRecord, constants: cached.constants, evalConstants: cached.evalConstants,
    });
  } finally {
    progress.finish();
  }
  const final: EvalResult | undefined = evalSet.length > 0
    ? (result.best?.eval ?? evaluate(new Executor(task.graph, pre.store), task.output, evalSet, { padId: tokenizer.padId, constants: cached.evalConstants }))
    : undefined;

  const adapters: Array<{ name: string; dir: string }> = [];
  for (const name of task.adapters) {
    const rel = path.join('kadapters', name);
    await saveKAdapter(path.join(outDir, rel), task.graph, pre.store, name);
    adapters.push({ name, dir: rel });
  }
  const combineOwner = 'combine:kadapter';
  const taskKeys = [...task.graph.params.values()].filter((p) => p.owner === combineOwner || p.owner === `head:${head}`).map((p) => p.key);
  const tensors: Record<string, ReturnType<typeof checkpointTensor>> = {};
  for (const key of taskKeys) tensors[key] = checkpointTensor(task.graph, pre.store, key);
  await writeFileAtomic(path.join(outDir, KADAPTER_TASK_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt' }));
  // The run manifest: the knowledge adapters here; the combination and the knowledge head (weights in task.safetensors) are K-Adapter's extras.
  await writeJsonAtomic(path.join(outDir, RUN_FILE), validateRunManifest({
    format: RUN_FORMAT, model: model.dir === path.resolve(ctx.cwd, modelSpec) ? model.dir : model.name, adapters: adapters.map((a) => ({ ...a, dir: a.dir.split(path.sep).join('/') })),
    heads: [], maxLength, columns: trainColumns,
    extras: { [KADAPTER_EXTRAS]: { combine: { name: 'kadapter', mode }, head: headSpec, labels: labels.labels, weights: KADAPTER_TASK_WEIGHTS_FILE, trained: freeze ? 'combination+head' : 'adapters+combination+head' } },
  }, path.join(outDir, RUN_FILE)));
  await writeJsonAtomic(path.join(outDir, 'summary.json'), {
    adapters: task.adapters, combine: mode, head, model: model.name, backend, freezeAdapters: freeze, trainExamples: trainSet.length, evalExamples: evalSet.length, steps: result.steps,
    accuracy: final?.accuracy ?? null, evalLoss: final?.loss ?? null, majorityBaseline: evalSet.length > 0 ? majorityShare(evalSet) : null, bestStep: result.best?.step ?? null,
    trainableParams: params.trainable, baseParams: params.base, trainablePercentOfBase: params.trainablePercentOfBase, seconds: (Date.now() - started) / 1000,
  });
  pre.store.dispose();
  out(ctx, final ? `accuracy: ${final.accuracy.toFixed(4)}  (${final.count} eval examples; majority-class baseline ${majorityShare(evalSet).toFixed(4)})` : 'accuracy: n/a (no --eval file given)');
  out(ctx, `trainable parameters: ${params.trainable.toLocaleString('en-US')} (${params.trainablePercentOfBase.toFixed(2)}% of base ${params.base.toLocaleString('en-US')}); wall time ${formatDuration((Date.now() - started) / 1000)} (${result.steps} steps) on ${backend}`);
  await staged.commit();
  out(ctx, `saved: ${shortPath(ctx.cwd, target)} (kadapters/, ${RUN_FILE}, ${KADAPTER_TASK_WEIGHTS_FILE}, metrics.jsonl, summary.json)`);
}

// ---------------------------------------------------------------------------------------------
// kadapter-eval

/** A kadapter-train run as kadapter-eval reads it: run.json's fields with K-Adapter's extras. */
export interface KAdapterTaskFile {
  readonly model: string;
  readonly adapters: ReadonlyArray<{ readonly name: string; readonly dir: string }>;
  readonly combine: { readonly name: string; readonly mode: CombineMode };
  readonly head: KnowledgeHeadSpec;
  readonly labels: readonly string[];
  readonly maxLength: number;
  readonly columns: Columns;
}

const KADAPTER_EXTRAS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['combine', 'head', 'labels'],
  additionalProperties: false,
  properties: {
    combine: { type: 'object', required: ['name', 'mode'], additionalProperties: false, properties: { name: { type: 'string' }, mode: { type: 'string', enum: ['concat', 'sum'] } } },
    head: { type: 'object' },
    labels: { type: 'array', minItems: 1, items: { type: 'string' } },
    weights: { type: 'string', enum: [KADAPTER_TASK_WEIGHTS_FILE] },
    trained: { type: 'string' },
  },
};

/** K-Adapter's view of a run.json (its extras checked, errors naming `run.json: extras.kadapter...`). */
function kadapterTaskOf(m: RunManifest, file: string): KAdapterTaskFile {
  const x = m.extras?.[KADAPTER_EXTRAS];
  validateSchema(KADAPTER_EXTRAS_SCHEMA, x, `${file}: extras.${KADAPTER_EXTRAS}`);
  const e = x as { combine: KAdapterTaskFile['combine']; head: KnowledgeHeadSpec; labels: string[] };
  return { model: m.model, adapters: m.adapters.map((a) => ({ name: a.name, dir: a.dir })), combine: e.combine, head: e.head, labels: e.labels, maxLength: m.maxLength, columns: m.columns as Columns };
}

export async function evalCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const given = args.requireString('task', 'the directory kadapter-train wrote');
  const dataGiven = args.requireString('data', 'a labelled .tsv, .csv or .jsonl file');
  const dir = path.resolve(ctx.cwd, given);
  const manifest = await readRunArg(dir, { option: '--task', given, hint: "pass the directory 'adapters kadapter-train --out' wrote", command: args.command });
  const task = kadapterTaskOf(manifest, path.join(dir, RUN_FILE));
  await backendBanner(args, ctx);
  const model = await resolveModel(args.string('model') ?? task.model, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const file = path.resolve(ctx.cwd, dataGiven);
  const columns = await detectColumns(file, givenColumns(args, { ...task.columns }), true);
  const examples = encodeExamples(await readColumns(file, columns), tokenizer, new LabelVocab(task.labels), args.number('max-length') ?? task.maxLength, file);
  if (examples.length === 0) throw new UsageError(`${file}: no examples`, args.command);
  const pre = await loadPretrainedEncoder(model.dir);
  const attached = await attachKnowledgeAdapters({ graph: pre.graph, store: pre.store, adapters: task.adapters.map((a) => path.join(dir, a.dir)), mode: task.combine.mode, head: task.head, combineName: task.combine.name });
  const weightsFile = path.join(dir, KADAPTER_TASK_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(weightsFile);
  const keys = [...attached.graph.params.values()].filter((p) => p.owner === `combine:${task.combine.name}` || p.owner === `head:${task.head.name}`).map((p) => p.key);
  assignFromCheckpoint(attached.graph, pre.store, (k) => tensors.get(k), { keys, source: weightsFile, keyOf: (k) => k });
  info(ctx, `loaded K-Adapters ${attached.adapters.join(', ')} (${task.combine.mode}) with head '${task.head.name}' (${task.labels.join(', ')}) on ${model.name}`);
  const r = evaluate(new Executor(attached.graph, pre.store), attached.output, examples, { batchSize: args.number('batch-size') ?? 32, padId: tokenizer.padId });
  pre.store.dispose();
  out(ctx, `accuracy: ${r.accuracy.toFixed(4)}  loss: ${r.loss.toFixed(4)}  (${r.count} examples; majority-class baseline ${majorityShare(examples).toFixed(4)})`);
}

/** The subcommands this package adds to the `adapters` CLI. */
export const commands: CliCommand[] = [
  { spec: PRETRAIN_SPEC, run: pretrainCommand },
  { spec: TRAIN_SPEC, run: trainCommand },
  { spec: EVAL_SPEC, run: evalCommand },
];

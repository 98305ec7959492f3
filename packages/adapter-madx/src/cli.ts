// `adapters madx-*` subcommands: MAD-X's recipe (Pfeiffer et al. 2020) on core-graph's CLI, exported as `commands`
// (found by plugin discovery):
//   madx-lang  step 1: masked-LM training of a language adapter + invertible adapter on text of one language;
//   madx-task  step 2: a UPOS tagging task adapter stacked on a frozen language adapter (base frozen);
//   madx-eval  step 3: zero-shot evaluation with whichever language adapter is given (or the task adapter alone).
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { EvalResult, Graph, HeadSpec, Sentence, TextTokenizer, TrainExample, TrainRecord } from '@adapters/core-graph';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, addHead, checkpointLookup, ConfigError, evaluate, Executor, GraphError, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE, hfKeyOf, IGNORE_LABEL, loadAdapter, loadPretrained, loadTokenizer, ownersPolicy, parameterSummary, parseConllu, readSafetensorsFile, RUN_FILE, saveAdapter, singleAdapterRun, writeJsonAtomic, writeRunDir } from '@adapters/core-graph';
import type { CliCommand, CliContext, CommandSpec, OptionSpec, ParsedArgs } from '@adapters/cli';
import { backendBanner, checkpointedLine, checkpointingArg, formatDuration, MetricsWriter, option, ProgressReporter, readRunArg, resolveModel, shortPath, UsageError, writeTrainingCurves } from '@adapters/cli';
import { sentenceIds, UPOS_TAGS, uposExamples } from './data';
import { loadLanguageAdapter, readLanguageAdapter, saveLanguageAdapter } from './hub';
import type { MadxModel } from './madx';
import { buildMadx, madxRegistry } from './madx';
import { evaluateTask, languagePolicy, taskPolicy, trainLanguageAdapter, trainTaskAdapter } from './recipe';

/** madx-task's extras in run.json: the language adapter the task adapter was trained on (its name and the directory given). */
export const MADX_EXTRAS = 'madx';

/** A madx-task run is a UPOS tagger over a language adapter: core's eval (sentence classification) names madx-eval instead. */
export const runExtrasCommands: Readonly<Record<string, string>> = {
  [MADX_EXTRAS]: 'adapters madx-eval --task-adapter DIR (--lang-adapter LANG_DIR | --no-lang) --data FILE.conllu (UPOS tagging, scored per word)',
};

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
const NAME_RE = /^[A-Za-z0-9_-]+$/;
const MLM_HEAD = 'mlm';
const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0] ?? '';

const MODEL: OptionSpec = option('model');
const TRAINING = (steps: string): readonly OptionSpec[] => [
  option('steps', { defaultText: steps }),
  option('maxLength', { help: 'tokens per sentence, including [CLS] and [SEP]', defaultText: '64' }),
  option('batchSize', { help: 'sentences per step' }),
  option('lr', { help: 'peak learning rate (10% linear warm-up, then linear decay)' }),
  option('seed', { help: 'random seed (initialisation, masking, batch order)' }),
  option('gradientCheckpointing'),
];

export const LANG_SPEC: CommandSpec = {
  name: 'madx-lang',
  brief: 'MAD-X step 1: train a language adapter (+ invertible adapter) with masked-LM on text',
  summary:
    'MAD-X step 1: places a language adapter (seq_bn_inv, reduction factor 2) in every layer with its NICE invertible adapter on the embeddings ' +
    "and the inverse before the masked-LM decoder, and trains only the adapter with BERT's masked-LM objective (15%, 80/10/10, fresh masks every pass) on " +
    'unlabelled text of one language; the base model and a pre-trained MLM head stay frozen (a checkpoint without an MLM head gets a fresh one, trained ' +
    'with the adapter). Writes the adapter in AdapterHub layout (adapter_config.json, adapter.safetensors with the invertible tensors), metrics.jsonl, ' +
    'curves.svg/png and summary.json to --out.',
  usage: '--model DIR|NAME --text FILE --lang NAME --out DIR [options]',
  options: [
    MODEL,
    { name: 'text', type: 'string', metavar: 'FILE', help: "unlabelled text: plain text, one sentence per line, or a CoNLL-U file (its '# text' lines, else the words)" },
    { name: 'lang', type: 'string', metavar: 'NAME', help: 'name of the language adapter (letters, digits, _ -), e.g. en' },
    ...TRAINING('1000'),
    option('out'),
  ],
  examples: [
    'adapters madx-lang --model minilm --text ud/en_ewt-ud-dev.conllu --lang en --steps 300 --out runs/lang-en',
    'adapters madx-lang --model minilm --text wiki-de.txt --lang de --steps 300 --out runs/lang-de',
  ],
};

export const TASK_SPEC: CommandSpec = {
  name: 'madx-task',
  brief: 'MAD-X step 2: train a UPOS tagging task adapter stacked on a frozen language adapter',
  summary:
    'MAD-X step 2: loads a language adapter (madx-lang output) and stacks a task adapter (seq_bn, reduction factor 16) on it in every layer, ' +
    'Stack(lang, task), with a token-classification head over the 17 UD tags; trains only the task adapter and the head on the UPOS tags of a ' +
    'CoNLL-U file (the first sub-word of each word carries its tag), base and language adapter frozen. Writes the task adapter and head in AdapterHub ' +
    `layout (adapter_config.json, adapter.safetensors, head_config.json, model_head.safetensors), ${RUN_FILE}, metrics.jsonl, curves.svg/png and summary.json to --out.`,
  usage: '--model DIR|NAME --lang-adapter DIR --data FILE.conllu --task NAME --out DIR [options]',
  options: [
    MODEL,
    { name: 'lang-adapter', type: 'string', metavar: 'DIR', help: 'the source language adapter (a madx-lang output)' },
    option('data', { help: 'training sentences with UPOS tags (CoNLL-U)' }),
    option('eval', { help: 'evaluation sentences (CoNLL-U), scored at the end with the same language adapter' }),
    { name: 'task', type: 'string', metavar: 'NAME', help: "name of the task adapter (letters, digits, _ -), e.g. pos; not the language adapter's" },
    { name: 'head', type: 'string', metavar: 'NAME', help: 'name of the tagging head', defaultText: 'upos' },
    ...TRAINING('500'),
    option('out'),
  ],
  examples: ['adapters madx-task --model minilm --lang-adapter runs/lang-en --data ud/en_ewt-ud-dev.conllu --eval ud/en_ewt-ud-test.conllu --task pos --steps 400 --out runs/pos'],
};

export const EVAL_SPEC: CommandSpec = {
  name: 'madx-eval',
  brief: 'MAD-X step 3: zero-shot UPOS accuracy with any language adapter under a task adapter',
  summary:
    'MAD-X step 3: stacks the task adapter (madx-task output) on the language adapter given, Stack(lang, task): the source language\'s for in-language ' +
    "accuracy, the target language's for zero-shot transfer; with --no-lang, the task adapter alone. Prints the UPOS accuracy over the words of a " +
    'CoNLL-U file (first sub-word of each word) and the loss.',
  usage: '--task-adapter DIR (--lang-adapter DIR | --no-lang) --data FILE.conllu [--model DIR|NAME] [options]',
  options: [
    { ...MODEL, defaultText: `the model recorded in ${RUN_FILE}` },
    { name: 'lang-adapter', type: 'string', metavar: 'DIR', help: 'the language adapter to stack under the task adapter (a madx-lang output)' },
    { name: 'no-lang', type: 'boolean', help: 'evaluate the task adapter alone, without a language adapter' },
    { name: 'task-adapter', type: 'string', metavar: 'DIR', help: 'the task adapter (a madx-task output)' },
    option('data', { help: 'sentences with UPOS tags (CoNLL-U)' }),
    option('maxLength', { help: 'tokens per sentence (words past it are not scored)', defaultText: 'as trained' }),
    option('batchSize', { help: 'sentences per batch', defaultText: '32' }),
  ],
  examples: [
    'adapters madx-eval --task-adapter runs/pos --lang-adapter runs/lang-de --data ud/de_gsd-ud-test.conllu',
    'adapters madx-eval --task-adapter runs/pos --no-lang --data ud/de_gsd-ud-test.conllu',
  ],
};

// ---------------------------------------------------------------------------------------------
// Shared pieces

function nameOf(args: ParsedArgs, option: string, what: string): string {
  const name = args.requireString(option, what);
  if (!NAME_RE.test(name)) throw new UsageError(`--${option} '${name}' may use only letters, digits, _ and -`, args.command);
  return name;
}

async function requireFile(given: string, cwd: string, option: string): Promise<string> {
  const file = path.resolve(cwd, given);
  const s = await stat(file).catch(() => undefined);
  if (!s?.isFile()) throw new UsageError(`${option} ${given}: no such file`);
  return file;
}

/** A CoNLL-U file: `.conllu`, or a first word line (not a comment) with 10 tab-separated columns. */
function looksConllu(file: string, content: string): boolean {
  if (file.toLowerCase().endsWith('.conllu')) return true;
  const first = content.split('\n').map((l) => l.replace(/\r$/, '')).find((l) => l.trim() !== '' && !l.startsWith('#'));
  return first !== undefined && first.split('\t').length === 10;
}

async function readSentences(file: string, given: string, option: string, conllu: 'auto' | 'required'): Promise<Sentence[]> {
  const content = await readFile(file, 'utf8');
  let sentences: Sentence[];
  if (conllu === 'required' || looksConllu(file, content)) {
    try {
      sentences = parseConllu(content, given);
    } catch (e) {
      throw new UsageError(`${option} ${firstLine(e)}`);
    }
  } else {
    sentences = content.replace(/^\uFEFF/, '').split('\n').map((l) => l.trim()).filter((l) => l !== '').map((text) => ({ text, tokens: [] }));
  }
  if (sentences.length === 0) throw new UsageError(`${option} ${given}: no sentences`);
  return sentences;
}

function taggingExamples(sentences: readonly Sentence[], tokenizer: TextTokenizer, maxLength: number, given: string, option: string): TrainExample[] {
  try {
    return uposExamples(sentences, tokenizer, maxLength);
  } catch (e) {
    throw new UsageError(`${option} ${given}: ${firstLine(e)}`);
  }
}

/** The language adapter in `given` (a madx-lang output), checked without touching a model. */
async function languageAdapterAt(given: string, cwd: string, option: string) {
  const dir = path.resolve(cwd, given);
  const has = await stat(path.join(dir, ADAPTER_CONFIG_FILE)).then((s) => s.isFile(), () => false);
  if (!has) throw new UsageError(`${option} ${given}: no ${ADAPTER_CONFIG_FILE} there; pass a directory written by madx-lang`);
  try {
    return { dir, saved: await readLanguageAdapter(dir) };
  } catch (e) {
    if (e instanceof ConfigError || e instanceof GraphError) throw new UsageError(`${option} ${given}: not a language adapter (${firstLine(e)})`);
    throw e;
  }
}

/** Labelled positions (words) and the share of the most frequent tag among them. */
function tagStats(examples: readonly TrainExample[]): { words: number; majority: number } {
  const counts = new Map<number, number>();
  let words = 0;
  for (const e of examples) {
    for (const l of Array.isArray(e.label) ? e.label : []) {
      if (l === IGNORE_LABEL) continue;
      counts.set(l, (counts.get(l) ?? 0) + 1);
      words += 1;
    }
  }
  return { words, majority: words === 0 ? 0 : Math.max(0, ...counts.values()) / words };
}

function recorder(ctx: CliContext, file: string): { onRecord: (r: TrainRecord) => void; metrics: MetricsWriter; finish: () => void } {
  const metrics = MetricsWriter.open(file, { fresh: true });
  const progress = new ProgressReporter({ stream: ctx.stderr, every: 10 });
  return {
    onRecord: (r) => {
      metrics.write(r);
      progress.onRecord(r);
    },
    metrics,
    finish: () => progress.finish(),
  };
}

async function curves(ctx: CliContext, history: readonly TrainRecord[], outDir: string, title: string): Promise<void> {
  try {
    await writeTrainingCurves(history, outDir, { title });
  } catch (e) {
    info(ctx, `adapters: warning: could not draw curves.png (${firstLine(e)}); metrics.jsonl has the numbers`);
  }
}

/** True when the checkpoint holds every tensor of the graph's head `head`. */
async function checkpointHasHead(modelDir: string, prefix: string, graph: Graph, head: string): Promise<boolean> {
  const { tensors } = await readSafetensorsFile(path.join(modelDir, 'model.safetensors'));
  const lookup = checkpointLookup(tensors, prefix);
  const keys = [...graph.params.values()].filter((p) => p.owner === `head:${head}`).map((p) => p.key);
  return keys.length > 0 && keys.every((k) => lookup(hfKeyOf(graph, k)) !== undefined);
}

const modelRecord = (given: string, model: { dir: string; name: string }, cwd: string) => (model.dir === path.resolve(cwd, given) ? model.dir : model.name);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

// ---------------------------------------------------------------------------------------------
// madx-lang

export async function langCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const textGiven = args.requireString('text', 'plain text, one sentence per line, or a CoNLL-U file');
  const lang = nameOf(args, 'lang', 'the language adapter\'s name, e.g. en');
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const textFile = await requireFile(textGiven, ctx.cwd, '--text');
  const steps = args.number('steps') ?? 1000;
  const maxLength = args.number('max-length') ?? 64;
  const batchSize = args.number('batch-size') ?? 16;
  const learningRate = args.number('lr') ?? 1e-3;
  const seed = args.number('seed') ?? 42;
  const checkpointLayers = checkpointingArg(args);
  const sentences = await readSentences(textFile, textGiven, '--text', 'auto');
  const backend = await backendBanner(args, ctx);
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const texts = sentenceIds(sentences, tokenizer, maxLength);
  const pre = await loadPretrained(model.dir, { heads: [{ type: 'maskedLM', name: MLM_HEAD }], seed });
  const trainHead = !(await checkpointHasHead(model.dir, pre.config.architecture, pre.graph, MLM_HEAD));
  const madx = buildMadx(pre.graph, { language: lang });
  pre.store.sync(madx.graph, seed);
  const adapterParams = parameterSummary(madx.graph, ownersPolicy([`adapter:${lang}`]));
  const trainable = parameterSummary(madx.graph, languagePolicy(madx, trainHead ? MLM_HEAD : undefined)).trainable;
  info(ctx, `model: ${model.name} (${model.dir}), tokenizer: ${tokenizer.kind}`);
  info(ctx, `text: ${texts.length} sentences, ${texts.reduce((n, t) => n + t.length, 0)} tokens (max length ${maxLength}) from ${shortPath(ctx.cwd, textFile)}`);
  info(ctx, `madx-lang: language adapter '${lang}' (seq_bn_inv, reduction factor 2, NICE invertible adapter), base frozen; ` +
    (trainHead ? 'the checkpoint has no masked-LM head: a fresh one trains with the adapter' : 'the pre-trained masked-LM head stays frozen'));

  // Written into a staging directory and swapped in as a whole (io/run-dir): a reader sees the old run or the new one.
  const { result, firstLoss, lastLoss, k } = await writeRunDir(outDir, async (runDir) => {
    const rec = recorder(ctx, path.join(runDir, 'metrics.jsonl'));
    let trained;
    try {
      trained = trainLanguageAdapter({
        model: madx, store: pre.store, head: MLM_HEAD, texts, trainHead,
        masking: { maskId: tokenizer.maskId, vocabSize: tokenizer.vocabSize, specialIds: [tokenizer.clsId, tokenizer.sepId, tokenizer.padId] },
        maxSteps: steps, batchSize, learningRate, seed, padId: tokenizer.padId, warmupRatio: 0.1, clipNorm: 1.0, onRecord: rec.onRecord, checkpointLayers,
      });
    } finally {
      rec.finish();
    }
    if (trained.checkpointedFrom !== undefined) info(ctx, checkpointedLine(trained.checkpointedFrom));
    const losses = trained.history.flatMap((r) => (r.type === 'step' ? [r.loss] : []));
    // Loss windows: up to 20 steps each, at most half the run so that first and last do not overlap.
    const window = Math.max(1, Math.min(20, Math.floor(losses.length / 2)));
    const first = mean(losses.slice(0, window));
    const last = mean(losses.slice(-window));
    await saveLanguageAdapter(runDir, madx.graph, pre.store, lang);
    await curves(ctx, trained.history, runDir, `language adapter '${lang}' (masked-LM) on ${model.name}`);
    await writeJsonAtomic(path.join(runDir, 'summary.json'), {
      language: lang, model: modelRecord(modelSpec, model, ctx.cwd), backend, text: textFile, sentences: texts.length, steps: trained.steps, batchSize, learningRate, maxLength, seed,
      mlmHead: trainHead ? 'fresh, trained with the adapter' : 'pre-trained, frozen', firstLoss: first, lastLoss: last, lossWindow: window,
      adapterParams: adapterParams.trainable, trainableParams: trainable, baseParams: adapterParams.base, trainSeconds: trained.seconds, seconds: (Date.now() - started) / 1000,
    });
    return { result: trained, firstLoss: first, lastLoss: last, k: window };
  }).finally(() => pre.store.dispose());
  out(ctx, `masked-LM loss: ${firstLoss.toFixed(4)} → ${lastLoss.toFixed(4)} (mean of the first / last ${k} step${k === 1 ? '' : 's'}; ${result.steps} steps over ${texts.length} sentences)`);
  out(ctx, `language adapter '${lang}': ${adapterParams.trainable.toLocaleString('en-US')} parameters (bottleneck + invertible); wall time ${formatDuration((Date.now() - started) / 1000)} on ${backend}`);
  out(ctx, `saved: ${shortPath(ctx.cwd, outDir)} (${ADAPTER_CONFIG_FILE}, ${ADAPTER_WEIGHTS_FILE}, metrics.jsonl, curves.png, summary.json)`);
}

// ---------------------------------------------------------------------------------------------
// madx-task

export async function taskCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const langGiven = args.requireString('lang-adapter', 'a directory written by madx-lang');
  const dataGiven = args.requireString('data', 'a CoNLL-U file with UPOS tags');
  const task = nameOf(args, 'task', 'the task adapter\'s name, e.g. pos');
  const head = args.string('head') ?? 'upos';
  if (!NAME_RE.test(head)) throw new UsageError(`--head '${head}' may use only letters, digits, _ and -`, args.command);
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const { dir: langDir, saved } = await languageAdapterAt(langGiven, ctx.cwd, '--lang-adapter');
  if (saved.name === task) throw new UsageError(`--task ${task}: the language adapter in ${langGiven} has that name; give the task adapter another`, args.command);
  const dataFile = await requireFile(dataGiven, ctx.cwd, '--data');
  const evalGiven = args.string('eval');
  const evalFile = evalGiven === undefined ? undefined : await requireFile(evalGiven, ctx.cwd, '--eval');
  const steps = args.number('steps') ?? 500;
  const maxLength = args.number('max-length') ?? 64;
  const batchSize = args.number('batch-size') ?? 16;
  const learningRate = args.number('lr') ?? 1e-3;
  const seed = args.number('seed') ?? 42;
  const checkpointLayers = checkpointingArg(args);
  const trainSentences = await readSentences(dataFile, dataGiven, '--data', 'required');
  const evalSentences = evalFile !== undefined && evalGiven !== undefined ? await readSentences(evalFile, evalGiven, '--eval', 'required') : [];
  const backend = await backendBanner(args, ctx);
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const trainSet = taggingExamples(trainSentences, tokenizer, maxLength, dataGiven, '--data');
  const evalSet = evalGiven !== undefined ? taggingExamples(evalSentences, tokenizer, maxLength, evalGiven, '--eval') : [];
  const pre = await loadPretrained(model.dir, { heads: [{ type: 'tokenClassification', name: head, numLabels: UPOS_TAGS.length }], seed });
  // Build Stack(lang, task) with fresh adapters (seeded), then load the saved language adapter over its fresh weights.
  let madx: MadxModel;
  try {
    const fresh = buildMadx(pre.graph, { language: saved.name, task, languageConfig: saved.config });
    pre.store.sync(fresh.graph, seed);
    madx = await loadLanguageAdapter(langDir, fresh, pre.store);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof GraphError) throw new UsageError(`--lang-adapter ${langGiven}: ${firstLine(e)}`, args.command);
    throw e;
  }
  const langKeys = [...madx.graph.params.values()].filter((p) => p.owner === `adapter:${saved.name}`).map((p) => p.key);
  const before = pre.store.snapshot(langKeys);
  const params = parameterSummary(madx.graph, taskPolicy(madx, head));
  const taskParams = parameterSummary(madx.graph, ownersPolicy([`adapter:${task}`])).trainable;
  const trainStats = tagStats(trainSet);
  info(ctx, `model: ${model.name} (${model.dir}), tokenizer: ${tokenizer.kind}`);
  info(ctx, `data: ${trainSet.length} training sentences (${trainStats.words} words)${evalSet.length > 0 ? `, ${evalSet.length} eval sentences` : ''}; ${UPOS_TAGS.length} UPOS tags`);
  info(ctx, `madx-task: Stack(${saved.name}, ${task}); base and language adapter '${saved.name}' frozen; training task adapter '${task}' + head '${head}' (${params.trainable.toLocaleString('en-US')} parameters)`);

  // Written into a staging directory and swapped in as a whole (io/run-dir): a reader sees the old run or the new one.
  const { result, final, languageUnchanged, evalStats } = await writeRunDir(outDir, async (runDir) => {
    const rec = recorder(ctx, path.join(runDir, 'metrics.jsonl'));
    let trained;
    try {
      trained = trainTaskAdapter({
        model: madx, store: pre.store, head, train: trainSet, ...(evalSet.length > 0 ? { eval: evalSet } : {}),
        maxSteps: steps, batchSize, learningRate, seed, padId: tokenizer.padId, warmupRatio: 0.1, clipNorm: 1.0, onRecord: rec.onRecord, checkpointLayers,
      });
    } finally {
      rec.finish();
    }
    if (trained.checkpointedFrom !== undefined) info(ctx, checkpointedLine(trained.checkpointedFrom));
    const scored: EvalResult | undefined = evalSet.length > 0 ? (trained.best?.eval ?? evaluateTask(madx, pre.store, head, evalSet, { batchSize: 32, padId: tokenizer.padId })) : undefined;
    if (scored) rec.metrics.write({ type: 'final', step: trained.best?.step ?? trained.steps, ...scored });
    const after = pre.store.snapshot(langKeys);
    const unchanged = [...before].every(([key, v]) => {
      const now = after.get(key);
      return now !== undefined && v.every((x, i) => Object.is(x, now[i]));
    });
    await saveAdapter(runDir, madx.graph, pre.store, task, { head, registry: madxRegistry() });
    // The run manifest: the task adapter and its head here; the language adapter it was trained on is MAD-X's extra.
    const modelName = modelRecord(modelSpec, model, ctx.cwd);
    await writeJsonAtomic(path.join(runDir, RUN_FILE), singleAdapterRun({
      model: modelName, adapter: task, head, dir: '.', labels: [...UPOS_TAGS], maxLength, columns: {}, extras: { [MADX_EXTRAS]: { language: saved.name, languageAdapter: langDir } },
    }));
    await curves(ctx, trained.history, runDir, `task adapter '${task}' on '${saved.name}' → ${head} (${model.name})`);
    const stats = tagStats(evalSet);
    await writeJsonAtomic(path.join(runDir, 'summary.json'), {
      task, head, language: saved.name, languageAdapter: langDir, model: modelName, backend, trainSentences: trainSet.length, trainWords: trainStats.words,
      evalSentences: evalSet.length, evalWords: scored?.count ?? 0, steps: trained.steps, batchSize, learningRate, maxLength, seed,
      accuracy: scored?.accuracy ?? null, evalLoss: scored?.loss ?? null, majorityBaseline: evalSet.length > 0 ? stats.majority : null, bestStep: trained.best?.step ?? null,
      languageAdapterUnchanged: unchanged, taskAdapterParams: taskParams, trainableParams: params.trainable, baseParams: params.base,
      trainSeconds: trained.seconds, seconds: (Date.now() - started) / 1000,
    });
    return { result: trained, final: scored, languageUnchanged: unchanged, evalStats: stats };
  }).finally(() => pre.store.dispose());
  out(ctx, final
    ? `accuracy: ${final.accuracy.toFixed(4)}  loss: ${final.loss.toFixed(4)}  (${final.count} eval words with Stack(${saved.name}, ${task}); majority-tag baseline ${evalStats.majority.toFixed(4)})`
    : 'accuracy: n/a (no --eval file given)');
  out(ctx, `trained: task adapter '${task}' (${taskParams.toLocaleString('en-US')} parameters) + head '${head}'; language adapter '${saved.name}' unchanged: ${languageUnchanged}`);
  out(ctx, `wall time: ${formatDuration((Date.now() - started) / 1000)} (training ${formatDuration(result.seconds)}, ${result.steps} steps) on ${backend}`);
  out(ctx, `saved: ${shortPath(ctx.cwd, outDir)} (${ADAPTER_CONFIG_FILE}, ${ADAPTER_WEIGHTS_FILE}, ${HEAD_CONFIG_FILE}, ${HEAD_WEIGHTS_FILE}, ${RUN_FILE}, metrics.jsonl, curves.png, summary.json)`);
}

// ---------------------------------------------------------------------------------------------
// madx-eval

export async function evalCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const taskGiven = args.requireString('task-adapter', 'a directory written by madx-task');
  const dataGiven = args.requireString('data', 'a CoNLL-U file with UPOS tags');
  const noLang = args.flag('no-lang');
  const langGiven = args.string('lang-adapter');
  if (noLang && langGiven !== undefined) throw new UsageError('give --lang-adapter DIR or --no-lang, not both', args.command);
  if (!noLang && langGiven === undefined) throw new UsageError('missing --lang-adapter DIR (the language adapter to stack under the task adapter), or --no-lang for the task adapter alone', args.command);
  const taskDir = path.resolve(ctx.cwd, taskGiven);
  const manifest = await readRunArg(taskDir, { option: '--task-adapter', given: taskGiven, hint: 'pass a directory written by madx-task', command: args.command });
  const run = { model: manifest.model, task: manifest.adapters[0]?.name ?? '', head: manifest.heads[0]?.name ?? '', maxLength: manifest.maxLength };
  const lang = langGiven === undefined ? undefined : await languageAdapterAt(langGiven, ctx.cwd, '--lang-adapter');
  if (lang && lang.saved.name === run.task) throw new UsageError(`--lang-adapter ${langGiven}: the language adapter is named '${run.task}', like the task adapter`, args.command);
  const dataFile = await requireFile(dataGiven, ctx.cwd, '--data');
  const maxLength = args.number('max-length') ?? run.maxLength;
  const sentences = await readSentences(dataFile, dataGiven, '--data', 'required');
  await backendBanner(args, ctx);
  const model = await resolveModel(args.string('model') ?? run.model, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const examples = taggingExamples(sentences, tokenizer, maxLength, dataGiven, '--data');
  const pre = await loadPretrained(model.dir);
  // The task adapter on its own (placed alone, with its head): the keys are those it has in Stack(lang, task).
  const registry = madxRegistry();
  const alone = await loadAdapter(taskDir, pre.graph, pre.store, registry);
  const head = alone.head ?? run.head;
  let graph: Graph = alone.graph;
  let setup = `${alone.name} alone`;
  if (lang) {
    const headSpec = ((alone.graph.meta['heads'] as HeadSpec[] | undefined) ?? []).find((h) => h.name === head);
    if (!headSpec) throw new UsageError(`--task-adapter ${taskGiven}: no head '${head}' saved there`, args.command);
    const taskConfig = (alone.graph.meta['adapters'] as Record<string, { config: Record<string, unknown> }> | undefined)?.[alone.name]?.config;
    let madx: MadxModel;
    try {
      madx = await loadLanguageAdapter(lang.dir, addHead(pre.graph, headSpec), pre.store, { task: alone.name, ...(taskConfig ? { taskConfig } : {}) });
    } catch (e) {
      if (e instanceof ConfigError || e instanceof GraphError) throw new UsageError(`--lang-adapter ${langGiven}: ${firstLine(e)}`, args.command);
      throw e;
    }
    graph = madx.graph;
    setup = `Stack(${lang.saved.name}, ${alone.name})`;
  }
  info(ctx, `madx-eval: ${setup} → ${head} on ${model.name}; ${examples.length} sentences from ${shortPath(ctx.cwd, dataFile)}`);
  const r = evaluate(new Executor(graph, pre.store), `${head}.logits`, examples, { batchSize: args.number('batch-size') ?? 32, padId: tokenizer.padId });
  pre.store.dispose();
  out(ctx, `accuracy: ${r.accuracy.toFixed(4)}  loss: ${r.loss.toFixed(4)}  (${r.count} words with ${setup}; majority-tag baseline ${tagStats(examples).majority.toFixed(4)})`);
}

/** The subcommands this package adds to the `adapters` CLI. */
export const commands: CliCommand[] = [
  { spec: LANG_SPEC, run: langCommand },
  { spec: TASK_SPEC, run: taskCommand },
  { spec: EVAL_SPEC, run: evalCommand },
];

// `adapters udapter-*` subcommands (found by plugin discovery):
//   udapter-train   UDapter on several treebanks at once (mixed batches), or the generator-free baseline; resumable
//   udapter-eval    UAS/LAS on a CoNLL-U file for a language code (any language URIEL knows: zero-shot if unseen)
//   udapter-export  one language's generated adapter as a plain bottleneck adapter in AdapterHub's layout
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Graph, Sentence, TextTokenizer, WeightStore } from '@adapters/core-graph';
import { ConfigError, loadPretrained, loadTokenizer, readConllu } from '@adapters/core-graph';
import type { CliCommand, CliContext, CommandSpec, OptionSpec, ParsedArgs } from '@adapters/cli';
import { backendBanner, formatDuration, option, resolveModel, UsageError } from '@adapters/cli';
import type { UdapterConfig } from './config';
import { UDAPTER_DEFAULTS } from './config';
import type { ParseExample } from './data';
import { encodeTreebank } from './data';
import { exportLanguageAdapter } from './export';
import { loadUdapter, readUdapterMeta, saveUdapter, UDAPTER_CONFIG_FILE } from './io';
import { buildUdapterGraph, trainParser, UdapterParser } from './parser';
import type { TypologyTable } from './typology';
import { iso3 } from './typology';
import { ensureTypology } from './typology-fetch';
import type { TreebankSplit } from './treebank-fetch';
import { fetchTreebank, KNOWN_TREEBANKS } from './treebank-fetch';

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
/** Reserved as unseen-language tests (project rule): never trained or tuned on. */
const RESERVED = new Set(['es', 'spa', 'pt', 'por']);

const MODEL: OptionSpec = option('model', { help: 'model directory or a known name: multilingual-e5-small (alias me5), all-MiniLM-L6-v2 (alias minilm)' });

export const TRAIN_SPEC: CommandSpec = {
  name: 'udapter-train',
  brief: 'train UDapter (biaffine parser + typology-generated adapters) on several treebanks at once',
  summary:
    'Places a udapter adapter after every layer, its weights generated from each sentence\'s language embedding (an MLP over the URIEL typology vector ' +
    'of lang2vec, fetched once from PyPI), and trains it with a biaffine dependency parser head on the treebanks together (mixed batches); the base ' +
    'model stays frozen. --no-generator trains one plain adapter shared by all languages instead (the baseline). Saves the generator and head ' +
    '(udapter_config.json, udapter.safetensors) to --out every --save-every steps; rerunning with the same --out resumes.',
  usage: '--model DIR|NAME --treebank CODE=FILE[,CODE=FILE...] --out DIR [options]',
  options: [
    MODEL,
    { name: 'treebank', type: 'string', metavar: 'CODE=FILE,...', help: 'CoNLL-U files by language code (ISO 639-1 or 639-3), e.g. en=en_ewt-ud-dev.conllu,de=de_gsd-ud-dev.conllu' },
    option('steps', { defaultText: '500' }),
    option('batchSize', { help: 'sentences per step (mixed languages)' }),
    option('lr', { help: 'Adam learning rate' }),
    option('maxLength', { help: 'subword tokens per sentence (longer sentences are skipped)', defaultText: '64' }),
    { name: 'max-sentences', type: 'int', min: 1, metavar: 'N', help: 'first N sentences of each treebank', defaultText: 'all' },
    { name: 'per-language', type: 'int', min: 1, metavar: 'N', help: 'first N sentences of each treebank that fit --max-length (the same count for every language)', defaultText: 'all' },
    { name: 'reduction-factor', type: 'number', min: 0, metavar: 'X', help: 'hidden / adapter width', defaultText: String(UDAPTER_DEFAULTS.reduction_factor) },
    { name: 'language-dim', type: 'int', min: 1, metavar: 'N', help: 'language embedding width k (the generator\'s rank: k times a plain adapter\'s parameters)', defaultText: String(UDAPTER_DEFAULTS.language_dim) },
    { name: 'language-hidden', type: 'int', min: 1, metavar: 'N', help: 'hidden width of the language MLP', defaultText: String(UDAPTER_DEFAULTS.language_hidden) },
    { name: 'no-generator', type: 'boolean', help: 'one plain adapter for all languages (no typology, no generator)' },
    { name: 'save-every', type: 'int', min: 1, metavar: 'N', help: 'checkpoint interval in steps', defaultText: '50' },
    option('seed'),
    option('out'),
  ],
  examples: ['adapters udapter-train --model me5 --treebank en=ud/en_ewt-ud-dev.conllu,de=ud/de_gsd-ud-dev.conllu,fr=ud/fr_gsd-ud-dev.conllu --steps 300 --out runs/udapter'],
};

export const EVAL_SPEC: CommandSpec = {
  name: 'udapter-eval',
  brief: 'UAS/LAS of a trained UDapter on a CoNLL-U file, for any language with a typology vector',
  summary: 'Loads --run (generator + head) on its base model, generates the adapters for --lang from its URIEL vector alone, parses --data (Eisner, single root) and prints UAS and LAS (universal relations, punctuation included) as a JSON line.',
  usage: '--run DIR --lang CODE --data FILE [--model DIR|NAME] [--max-sentences N]',
  options: [
    option('run', { help: 'a udapter-train output directory' }),
    { name: 'lang', type: 'string', metavar: 'CODE', help: 'language code of --data (its typology vector is used)' },
    option('data', { help: 'CoNLL-U file' }),
    { ...MODEL, help: 'base model (default: the one the run was trained on)' },
    option('maxLength', { help: 'subword tokens per sentence (longer sentences are skipped and counted)', defaultText: 'as trained' }),
    { name: 'max-sentences', type: 'int', min: 1, metavar: 'N', help: 'first N sentences', defaultText: 'all' },
  ],
  examples: ['adapters udapter-eval --run runs/udapter --lang nl --data ud/nl_alpino-ud-test.conllu'],
};

export const EXPORT_SPEC: CommandSpec = {
  name: 'udapter-export',
  brief: "write one language's generated adapter as a plain bottleneck adapter (AdapterHub layout)",
  summary: 'Generates the adapters of --lang from its typology vector and saves them as one bottleneck adapter (layer-output adapter, ReLU, no LayerNorms) in AdapterHub layout to --out.',
  usage: '--run DIR --lang CODE --out DIR [--model DIR|NAME]',
  options: [
    option('run', { help: 'a udapter-train output directory' }),
    { name: 'lang', type: 'string', metavar: 'CODE', help: 'language code' },
    { ...MODEL, help: 'base model (default: the one the run was trained on)' },
    option('out'),
  ],
  examples: ['adapters udapter-export --run runs/udapter --lang de --out runs/udapter-de'],
};

/** `en=a.conllu,de=b.conllu` → [[en, a], [de, b]]; refuses reserved languages and duplicates. */
export function parseTreebanks(spec: string): Array<[string, string]> {
  const pairs = spec.split(',').map((p) => p.trim()).filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0 || eq === p.length - 1) throw new UsageError(`--treebank: '${p}' is not CODE=FILE`);
    return [p.slice(0, eq).toLowerCase(), p.slice(eq + 1)] as [string, string];
  });
  if (pairs.length === 0) throw new UsageError('--treebank: give at least one CODE=FILE');
  const seen = new Set<string>();
  for (const [code] of pairs) {
    if (RESERVED.has(code) || RESERVED.has(iso3(code))) throw new UsageError(`--treebank: ${code} is reserved as an unseen-language test set and must not be trained on`);
    if (seen.has(iso3(code))) throw new UsageError(`--treebank: language ${code} is given twice`);
    seen.add(iso3(code));
  }
  return pairs;
}

async function sentencesOf(file: string, max: number | undefined): Promise<Sentence[]> {
  let s: Sentence[];
  try {
    s = await readConllu(file);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
  return max === undefined ? s : s.slice(0, max);
}

function typologyOf(table: TypologyTable | undefined, code: string, dim: number): Float32Array {
  return table === undefined ? new Float32Array(dim) : table.vector(code);
}

interface Loaded {
  readonly base: Graph;
  readonly tokenizer: TextTokenizer;
  readonly store: WeightStore;
  readonly model: string;
}

async function loadBase(spec: string, ctx: CliContext): Promise<Loaded> {
  const model = await resolveModel(spec, ctx.cwd, (l) => info(ctx, l));
  const pre = await loadPretrained(model.dir);
  return { base: pre.graph, tokenizer: await loadTokenizer(model.dir), store: pre.store, model: model.dir };
}

export async function trainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const modelSpec = args.requireString('model', 'a model directory or name (e.g. me5)');
  const treebanks = parseTreebanks(args.requireString('treebank', 'CODE=FILE pairs'));
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const steps = args.number('steps') ?? 500;
  const batchSize = args.number('batch-size') ?? 16;
  const learningRate = args.number('lr') ?? 1e-3;
  const maxLength = args.number('max-length') ?? 64;
  const maxSentences = args.number('max-sentences');
  const perLanguage = args.number('per-language');
  const seed = args.number('seed') ?? 42;
  const every = args.number('save-every') ?? 50;
  const generate = !args.flag('no-generator');
  const backend = await backendBanner(args, ctx);

  const resumed = await readUdapterMeta(outDir).catch(() => undefined);
  const config: UdapterConfig = resumed?.spec.config ?? {
    ...UDAPTER_DEFAULTS, generate,
    reduction_factor: args.number('reduction-factor') ?? UDAPTER_DEFAULTS.reduction_factor,
    language_dim: args.number('language-dim') ?? UDAPTER_DEFAULTS.language_dim,
    language_hidden: args.number('language-hidden') ?? UDAPTER_DEFAULTS.language_hidden,
  };
  const table = config.generate ? await ensureTypology({ log: (l) => info(ctx, l) }) : undefined;
  const { base, tokenizer, store, model } = await loadBase(modelSpec, ctx);

  const labels = new Map<string, number>((resumed?.spec.labels ?? []).map((l, i) => [l, i]));
  const examples: ParseExample[] = [];
  for (const [code, file] of treebanks) {
    const sentences = await sentencesOf(path.resolve(ctx.cwd, file), maxSentences);
    const { examples: ex, dropped } = encodeTreebank(sentences, tokenizer, code, typologyOf(table, code, config.typology_dim), labels, { maxLength, growLabels: resumed === undefined });
    const kept = perLanguage === undefined ? ex : ex.slice(0, perLanguage);
    if (perLanguage !== undefined && kept.length < perLanguage) throw new UsageError(`--per-language ${perLanguage}: ${file} has only ${kept.length} sentences of ≤ ${maxLength} pieces`);
    info(ctx, `${code}: ${kept.length} sentences (${dropped} longer than ${maxLength} pieces skipped) from ${file}`);
    examples.push(...kept);
  }
  const spec = { config, labels: [...labels.keys()], arc: 256, label: 64, padId: tokenizer.padId };
  let parser: UdapterParser;
  if (resumed !== undefined) {
    parser = (await loadUdapter(outDir, base, store)).parser;
    info(ctx, `resuming ${outDir} at step ${resumed.steps}`);
  } else parser = new UdapterParser(buildUdapterGraph(base, config), store, spec, seed);
  const trainedOn = Object.fromEntries(treebanks.map(([c]) => [c, iso3(c)]));
  const started = Date.now();
  const save = (step: number) => saveUdapter(outDir, parser, { trainedOn, steps: step, model, seed });
  await trainParser(parser, examples, {
    steps, batchSize, learningRate, seed, every, startStep: resumed?.steps ?? 0,
    log: (l) => info(ctx, `${l} (${formatDuration((Date.now() - started) / 1000)})`),
    onCheckpoint: (step) => save(step),
  });
  await save(steps);
  out(ctx, `UDapter (${config.generate ? 'generated adapters' : 'one shared adapter, no generator'}) on ${treebanks.map(([c]) => c).join(', ')}: ${parser.adapterKeys().length} adapter tensors; ${steps} steps in ${formatDuration((Date.now() - started) / 1000)} on ${backend}; saved to ${outDir}`);
  parser.dispose();
}

export async function evalCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const runDir = path.resolve(ctx.cwd, args.requireString('run', 'a udapter-train output directory'));
  const lang = args.requireString('lang', 'a language code').toLowerCase();
  const dataFile = path.resolve(ctx.cwd, args.requireString('data', 'a CoNLL-U file'));
  await fs.stat(path.join(runDir, UDAPTER_CONFIG_FILE)).catch(() => {
    throw new UsageError(`--run ${runDir}: no ${UDAPTER_CONFIG_FILE} (not a udapter-train output)`);
  });
  await backendBanner(args, ctx);
  const meta = await readUdapterMeta(runDir);
  const modelSpec = args.string('model') ?? meta.model;
  if (modelSpec === undefined) throw new UsageError('--model: the run does not record its base model; give --model');
  const { base, tokenizer, store } = await loadBase(modelSpec, ctx);
  const config = meta.spec.config;
  const table = config.generate ? await ensureTypology({ log: (l) => info(ctx, l) }) : undefined;
  const { parser } = await loadUdapter(runDir, base, store);
  const labels = new Map(meta.spec.labels.map((l, i) => [l, i]));
  const sentences = await sentencesOf(dataFile, args.number('max-sentences'));
  const maxLength = args.number('max-length') ?? 128;
  const { examples, dropped } = encodeTreebank(sentences, tokenizer, lang, typologyOf(table, lang, config.typology_dim), labels, { maxLength, growLabels: false });
  if (examples.length === 0) throw new ConfigError('data', `no sentence of ${dataFile} fits ${maxLength} pieces`);
  const r = parser.evaluate(examples);
  const seen = Object.keys(meta.trainedOn).map(iso3).includes(iso3(lang));
  out(ctx, JSON.stringify({ lang, zeroShot: !seen, sentences: examples.length, skipped: dropped, words: r.words, uas: Number(r.uas.toFixed(4)), las: Number(r.las.toFixed(4)), run: runDir, data: dataFile, generator: config.generate }));
  parser.dispose();
}

export async function exportCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const runDir = path.resolve(ctx.cwd, args.requireString('run', 'a udapter-train output directory'));
  const lang = args.requireString('lang', 'a language code').toLowerCase();
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  await backendBanner(args, ctx);
  const meta = await readUdapterMeta(runDir);
  const modelSpec = args.string('model') ?? meta.model;
  if (modelSpec === undefined) throw new UsageError('--model: the run does not record its base model; give --model');
  const { base, store } = await loadBase(modelSpec, ctx);
  const { parser } = await loadUdapter(runDir, base, store);
  const table = await ensureTypology({ log: (l) => info(ctx, l) });
  await exportLanguageAdapter(outDir, parser, base, table.vector(lang), `udapter_${lang}`);
  out(ctx, `adapter udapter_${lang} (generated for ${iso3(lang)}) written to ${outDir} (AdapterHub layout, bottleneck)`);
  parser.dispose();
}

export const FETCH_SPEC: CommandSpec = {
  name: 'udapter-fetch',
  brief: 'get Universal Dependencies treebanks (pinned commits) into a data folder, with their licences noted',
  summary:
    `Downloads the CoNLL-U splits and LICENSE.txt of known UD treebanks (${Object.keys(KNOWN_TREEBANKS).join(', ')}) from raw.githubusercontent.com at a pinned commit, ` +
    'or reads them from a local clone or bare mirror of the treebank\'s repository (--from), checks their sha256, and writes OUT/ud-NAME/ plus OUT/README.md ' +
    '(source and licence of each treebank). The data is not part of the project: keep it out of the repository.',
  usage: '--treebank NAME[,NAME...] --out DIR [--from DIR] [--splits dev,test]',
  options: [
    { name: 'treebank', type: 'string', metavar: 'NAME,...', help: `treebanks: ${Object.keys(KNOWN_TREEBANKS).join(', ')}` },
    { name: 'out', type: 'string', metavar: 'DIR', help: 'data folder' },
    { name: 'from', type: 'string', metavar: 'DIR', help: 'a local clone or bare git mirror of the (single) treebank repository instead of downloading' },
    { name: 'splits', type: 'string', metavar: 'LIST', help: 'splits to get (train, dev, test)', defaultText: 'dev,test' },
  ],
  examples: ['adapters udapter-fetch --treebank it-isdt,en-ewt --out data/ud', 'adapters udapter-fetch --treebank it-isdt --from mirrors/UD_Italian-ISDT.git --out data/ud'],
};

export async function fetchCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const names = args.requireString('treebank', 'treebank names').split(',').map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the data folder'));
  const fromArg = args.string('from');
  const from = fromArg === undefined ? undefined : path.resolve(ctx.cwd, fromArg);
  if (from !== undefined && names.length !== 1) throw new UsageError('--from: give exactly one --treebank (a clone holds one treebank)');
  const splits = (args.string('splits') ?? 'dev,test').split(',').map((s) => s.trim());
  for (const s of splits) if (s !== 'train' && s !== 'dev' && s !== 'test') throw new UsageError(`--splits: '${s}' is not train, dev or test`);
  for (const n of names) if (KNOWN_TREEBANKS[n] === undefined) throw new UsageError(`--treebank: unknown '${n}'; known: ${Object.keys(KNOWN_TREEBANKS).join(', ')}`);
  for (const n of names) {
    const r = await fetchTreebank(n, { outDir, splits: splits as TreebankSplit[], ...(from === undefined ? {} : { from }), log: (l) => info(ctx, l) });
    out(ctx, r.dir);
  }
}

export const commands: CliCommand[] = [
  { spec: TRAIN_SPEC, run: trainCommand },
  { spec: EVAL_SPEC, run: evalCommand },
  { spec: EXPORT_SPEC, run: exportCommand },
  { spec: FETCH_SPEC, run: fetchCommand },
];

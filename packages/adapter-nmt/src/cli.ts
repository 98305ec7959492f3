// `adapters nmt-train` / `nmt-eval` / `translate` (exported as `commands`, found by the CLI's plugin discovery).
// nmt-train writes a run directory (run.json with the recipe under extras.nmt; base/full: the model under model/;
// adapter recipes: adapters/NAME in AdapterHub's layout); nmt-eval and translate rebuild a direction's model from it.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Graph } from '@adapters/core-graph';
import { ConfigError, Executor, WeightStore, writeRunDir, writeJsonAtomic } from '@adapters/core-graph';
import type { CliCommand, CliContext, CommandSpec, ParsedArgs } from '@adapters/cli';
import { backendBanner, checkpointedLine, checkpointingArg, formatDuration, MetricsWriter, option, shortPath, UsageError } from '@adapters/cli';
import { BpeTokenizer, DEFAULT_SPECIALS } from './bpe';
import { loadSeq2Seq } from './load';
import { buildSeq2Seq } from './model';
import type { NmtExtras } from './nmt-run';
import { isRunDir, loadNmtModel, loadTokenizerFile, readNmtRun, writeNmtRun } from './nmt-run';
import type { LanguagePair, NmtRecipe } from './recipes';
import { NMT_RECIPES, pairName, parsePair, recipeGraph, recipePolicy, targetTag } from './recipes';
import { trainTranslation } from './loop';
import type { CheckpointSettings } from './checkpoint';
import { checkpointFile, readTranslationCheckpoint, removeTranslationCheckpoint, writeTranslationCheckpoint } from './checkpoint';
import { scoreTranslations, sourceIds, targetIds, translate } from './translate';

const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);
/** Lines of a pair file at most (a run is bounded; a bigger corpus is subsampled by the caller). */
export const MAX_PAIR_LINES = 1_000_000;

export const NMT_TRAIN_SPEC: CommandSpec = {
  name: 'nmt-train',
  brief: 'train a small translation base, full fine-tuning, or per-pair / per-language / per-domain adapters on a frozen base',
  summary:
    'Recipes: base (a Marian-style encoder-decoder from scratch, with a BPE vocabulary trained on the data and a <2xx> target tag on each source), ' +
    'full (fine-tune every weight of a base), pair (Bapna & Firat: one adapter after every layer per direction, with its own fresh LayerNorm), ' +
    'language (Philip et al.: a source-language adapter in the encoder and a target-language adapter in the decoder, trained over the given directions ' +
    'and composed for any direction at evaluation), domain (one Bapna & Firat adapter for a domain). Adapter recipes freeze the base. ' +
    'Writes OUT/run.json (recipe and results under extras.nmt), metrics.jsonl and the model (base, full) or the adapters.',
  usage: '--recipe base|full|pair|language|domain --pair SRC-TGT=TRAIN.tsv [--pair ...] --out DIR [--model DIR] [options]',
  options: [
    { name: 'recipe', type: 'string', metavar: NMT_RECIPES.join('|'), help: 'what to train' },
    { name: 'pair', type: 'string', repeat: true, metavar: 'SRC-TGT=FILE', help: 'a direction and its training file (source<TAB>target per line)' },
    option('model', { metavar: 'DIR', help: 'the base: a model folder or a base/full run directory (not for --recipe base)' }),
    { name: 'domain', type: 'string', metavar: 'NAME', help: 'the domain recipe: its name (letters, digits, _)' },
    option('steps', { help: 'optimizer steps (round-robin over the directions)', defaultText: '1000' }),
    option('batchSize', { help: 'sentence pairs per step', defaultText: '32' }),
    option('lr', { help: 'peak learning rate (warm-up 5%, linear decay)', defaultText: '1e-3 (adapters), 5e-4 (base), 1e-4 (full)' }),
    option('gradientCheckpointing'),
    { name: 'reduction-factor', type: 'int', min: 1, metavar: 'R', help: 'adapter bottleneck = d_model / R', defaultText: '4' },
    { name: 'vocab-size', type: 'int', min: 16, metavar: 'N', help: 'base: BPE vocabulary size', defaultText: '4000' },
    { name: 'd-model', type: 'int', min: 8, metavar: 'N', help: 'base: model width', defaultText: '128' },
    { name: 'layers', type: 'int', min: 1, metavar: 'N', help: 'base: encoder and decoder layers each', defaultText: '3' },
    { name: 'heads', type: 'int', min: 1, metavar: 'N', help: 'base: attention heads', defaultText: '4' },
    { name: 'ffn', type: 'int', min: 1, metavar: 'N', help: 'base: feed-forward width', defaultText: '4 × d-model' },
    option('maxLength', { help: 'base: positions (tokens per side, EOS included; longer text is cut)', defaultText: '64' }),
    option('limit', { help: 'use the first N lines of each training file', defaultText: 'all' }),
    { name: 'dropout', type: 'number', min: 0, max: 0.9, metavar: 'P', help: 'base: dropout probability', defaultText: '0.1' },
    { name: 'warmup', type: 'int', min: 1, metavar: 'N', help: 'learning-rate warm-up steps', defaultText: '5% of steps' },
    option('seed'),
    { name: 'checkpoint-every', type: 'int', min: 1, metavar: 'N', help: 'save OUT.checkpoint.safetensors (weights, optimizer state) every N steps; a rerun with the same options resumes from it', defaultText: '100' },
    option('out', { help: 'output directory (replaced as a whole when the run succeeds)' }),
  ],
  examples: [
    'adapters nmt-train --recipe base --pair en-fr=train.en-fr.tsv --pair fr-en=train.fr-en.tsv --steps 3000 --out runs/base',
    'adapters nmt-train --recipe language --model runs/base --pair en-fr=train.en-fr.tsv --pair en-de=train.en-de.tsv --pair fr-en=train.fr-en.tsv --out runs/lang',
    'adapters nmt-train --recipe domain --domain poetry --model runs/base --pair en-fr=train.poetry.en-fr.tsv --out runs/poetry',
  ],
};

export const NMT_EVAL_SPEC: CommandSpec = {
  name: 'nmt-eval',
  brief: 'BLEU and chrF (as sacreBLEU) of an nmt-train run on test files, per direction',
  summary: "Rebuilds each direction's model from the run (language runs compose the source's encoder adapter with the target's decoder adapter, so directions never trained together work) and scores greedy or beam translations.",
  usage: '--run DIR --pair SRC-TGT=TEST.tsv [--pair ...] [options]',
  options: [
    option('run', { help: 'the directory nmt-train wrote' }),
    { name: 'pair', type: 'string', repeat: true, metavar: 'SRC-TGT=FILE', help: 'a direction and its test file (source<TAB>reference)' },
    { name: 'beams', type: 'int', min: 1, metavar: 'N', help: 'beam size (1 = greedy)', defaultText: '1' },
    option('batchSize', { help: 'sentences per batch', defaultText: '32' }),
    option('limit', { help: 'the first N lines of each file', defaultText: 'all' }),
    option('out', { metavar: 'FILE', help: 'write scores and translations as JSON', defaultText: 'RUN/nmt_eval.json' }),
  ],
  examples: ['adapters nmt-eval --run runs/lang --pair fr-de=test.fr-de.tsv --pair en-fr=test.en-fr.tsv'],
};

export const TRANSLATE_SPEC: CommandSpec = {
  name: 'translate',
  brief: 'translate lines with an nmt-train run (one sentence per line, from a file or stdin)',
  summary: "Builds the direction's model from the run (as nmt-eval does) and prints one translation per input line.",
  usage: '--run DIR --src LANG --tgt LANG [--input FILE] [options]',
  options: [
    option('run', { help: 'the directory nmt-train wrote' }),
    { name: 'src', type: 'string', metavar: 'LANG', help: 'source language code' },
    { name: 'tgt', type: 'string', metavar: 'LANG', help: 'target language code' },
    { name: 'input', type: 'string', metavar: 'FILE', help: 'sentences, one per line', defaultText: 'stdin' },
    { name: 'beams', type: 'int', min: 1, metavar: 'N', help: 'beam size (1 = greedy)', defaultText: '4' },
    option('batchSize', { help: 'sentences per batch', defaultText: '16' }),
  ],
  examples: ['echo "In the beginning God created the heavens and the earth." | adapters translate --run runs/lang --src en --tgt de'],
};

interface PairFile {
  readonly pair: LanguagePair;
  readonly file: string;
}

function parsePairArgs(args: ParsedArgs, cwd: string): PairFile[] {
  const given = args.strings('pair').map((t) => {
    const eq = t.indexOf('=');
    if (eq <= 0 || eq === t.length - 1) throw new UsageError(`--pair ${t}: expected SRC-TGT=FILE, e.g. --pair en-fr=train.en-fr.tsv`, args.command);
    try {
      return { pair: parsePair(t.slice(0, eq), `--pair ${t}`), file: path.resolve(cwd, t.slice(eq + 1)) };
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message, args.command);
      throw e;
    }
  });
  if (given.length === 0) throw new UsageError('give at least one --pair SRC-TGT=FILE', args.command);
  const seen = new Set<string>();
  for (const g of given) {
    if (seen.has(pairName(g.pair))) throw new UsageError(`--pair ${pairName(g.pair)} is given twice`, args.command);
    seen.add(pairName(g.pair));
  }
  return given;
}

/** Reads source<TAB>target lines (blank lines skipped); a line without exactly one tab is an error naming it. */
export async function readPairFile(file: string, limit = MAX_PAIR_LINES): Promise<{ sources: string[]; targets: string[] }> {
  const text = await readFile(file, 'utf8').catch((e: Error) => {
    throw new UsageError(`${file}: cannot read (${e.message})`);
  });
  const sources: string[] = [];
  const targets: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length && sources.length < limit; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const cols = line.split('\t');
    if (cols.length !== 2) throw new UsageError(`${file}:${i + 1}: expected source<TAB>target, found ${cols.length} column(s)`);
    sources.push(cols[0] as string);
    targets.push(cols[1] as string);
  }
  if (sources.length === 0) throw new UsageError(`${file}: no sentence pairs`);
  return { sources, targets };
}

function recipeOf(args: ParsedArgs): NmtRecipe {
  const r = args.requireString('recipe', NMT_RECIPES.join(', '));
  if (!(NMT_RECIPES as readonly string[]).includes(r)) throw new UsageError(`--recipe must be one of ${NMT_RECIPES.join(', ')}, got '${r}'`, args.command);
  return r as NmtRecipe;
}

async function modelDirOf(spec: string, cwd: string): Promise<string> {
  const dir = path.resolve(cwd, spec);
  return (await isRunDir(dir)) ? (await readNmtRun(dir)).modelDir : dir;
}

export async function nmtTrainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const recipe = recipeOf(args);
  const pairs = parsePairArgs(args, ctx.cwd);
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const domain = args.string('domain');
  if (recipe === 'domain' && domain === undefined) throw new UsageError('--recipe domain needs --domain NAME', args.command);
  if (recipe === 'base' && args.has('model')) throw new UsageError('--recipe base trains a new model: drop --model', args.command);
  const steps = args.number('steps') ?? 1000;
  const batchSize = args.number('batch-size') ?? 32;
  const seed = args.number('seed') ?? 42;
  const reductionFactor = args.number('reduction-factor') ?? 4;
  const lr = args.number('lr') ?? (recipe === 'base' ? 5e-4 : recipe === 'full' ? 1e-4 : 1e-3);
  const checkpointLayers = checkpointingArg(args);
  const backend = await backendBanner(args, ctx);
  const data = await Promise.all(pairs.map(async (p) => ({ ...p, ...(await readPairFile(p.file, args.number('limit'))) })));

  let graph: Graph;
  let store: WeightStore;
  let tokenizer: BpeTokenizer;
  let modelDir = '';
  if (recipe === 'base') {
    const tags = [...new Set(pairs.map((p) => targetTag(p.pair.tgt)))].sort();
    tokenizer = BpeTokenizer.train(data.flatMap((d) => [...d.sources, ...d.targets]), { vocabSize: args.number('vocab-size') ?? 4000, specials: [...DEFAULT_SPECIALS, ...tags] });
    const d = args.number('d-model') ?? 128;
    const layers = args.number('layers') ?? 3;
    const heads = args.number('heads') ?? 4;
    try {
      graph = buildSeq2Seq({
        family: 'marian', vocabSize: tokenizer.size, dModel: d, encoderLayers: layers, decoderLayers: layers, encoderHeads: heads, decoderHeads: heads,
        encoderFfn: args.number('ffn') ?? 4 * d, decoderFfn: args.number('ffn') ?? 4 * d, maxPositions: args.number('max-length') ?? 64, activation: 'swish',
        dropout: args.number('dropout') ?? 0.1, padTokenId: tokenizer.padId, eosTokenId: tokenizer.eosId, decoderStartTokenId: tokenizer.padId,
      });
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message, args.command);
      throw e;
    }
    store = WeightStore.create(graph, seed);
    info(ctx, `BPE vocabulary: ${tokenizer.size} pieces (${tokenizer.merges.length} merges) trained on ${data.reduce((n, x) => n + 2 * x.sources.length, 0)} sentences`);
  } else {
    modelDir = await modelDirOf(args.requireString('model', 'the base model folder or a base run directory'), ctx.cwd);
    const pre = await loadSeq2Seq(modelDir, { seed });
    graph = pre.graph;
    store = pre.store;
    tokenizer = await loadTokenizerFile(modelDir);
  }
  try {
    const config = graph.meta.seq2seq as NonNullable<Graph['meta']['seq2seq']>;
    const tasks = data.map((d) => {
      let g: Graph;
      try {
        g = recipeGraph(graph, recipe, d.pair, reductionFactor, domain);
      } catch (e) {
        if (e instanceof ConfigError) throw new UsageError(e.message, args.command);
        throw e;
      }
      return {
        name: pairName(d.pair), graph: g,
        sources: d.sources.map((s) => sourceIds(tokenizer, s, config.maxPositions, d.pair.tgt)),
        targets: d.targets.map((t) => targetIds(tokenizer, t, config.maxPositions)),
      };
    });
    // Adapters placed by several tasks (language adapters) must start from the same weights: one sync per graph, seeded.
    for (const t of tasks) store.sync(t.graph, seed);
    info(ctx, `${recipe}: ${tasks.map((t) => `${t.name} (${t.sources.length} pairs)`).join(', ')}; ${steps} steps of ${batchSize}, lr ${lr}, on ${backend}`);
    const warmup = args.number('warmup');
    const ckptFile = checkpointFile(outDir);
    const settings = checkpointSettings(args, { recipe, pairs, modelDir, steps, batchSize, lr, seed, reductionFactor, warmup });
    const resumeFrom = await readTranslationCheckpoint(ckptFile, settings).catch((e: unknown) => {
      throw e instanceof ConfigError ? new UsageError(e.message, args.command) : e;
    });
    if (resumeFrom) info(ctx, `resuming from ${shortPath(ctx.cwd, ckptFile)} at step ${resumeFrom.snapshot.step}/${steps}`);
    const result = await writeRunDir(outDir, async (runDir) => {
      const metrics = MetricsWriter.open(path.join(runDir, 'metrics.jsonl'), { fresh: true });
      for (const r of resumeFrom?.records ?? []) metrics.write({ type: 'step', step: r.step, totalSteps: steps, task: r.task, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr });
      const t0 = Date.now();
      const { losses, trainableKeys, checkpointedFrom } = trainTranslation({
        store, tasks, policy: recipePolicy(recipe), steps, batchSize, learningRate: lr, seed, ...(warmup !== undefined ? { warmup } : {}),
        ...(resumeFrom ? { resumeFrom } : {}), checkpointEvery: args.number('checkpoint-every') ?? 100, checkpointLayers,
        onCheckpoint: (c) => writeTranslationCheckpoint(ckptFile, c, settings),
        onStep: (r) => {
          metrics.write({ type: 'step', step: r.step, totalSteps: steps, task: r.task, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr });
          if (r.step % 50 === 0 || r.step === steps) info(ctx, `step ${r.step}/${steps} ${r.task} loss ${r.loss.toFixed(4)} (${formatDuration((Date.now() - t0) / 1000)})`);
        },
      });
      if (checkpointedFrom !== undefined) info(ctx, checkpointedLine(checkpointedFrom));
      const trainable = trainableKeys.reduce((n, k) => n + store.get(k).size, 0);
      const extras: NmtExtras = {
        recipe, pairs: pairs.map((p) => pairName(p.pair)), ...(domain !== undefined ? { domain } : {}), ...(recipe === 'base' || recipe === 'full' ? {} : { reductionFactor }),
        steps, batchSize, lr, seed, ...(warmup !== undefined ? { warmup } : {}), ...(resumeFrom ? { resumedAtStep: resumeFrom.snapshot.step } : {}), backend, trainableParams: trainable, firstLoss: losses[0] ?? null, lastLoss: losses.at(-1) ?? null,
        trainSeconds: (Date.now() - t0) / 1000, files: Object.fromEntries(pairs.map((p) => [pairName(p.pair), p.file])),
      };
      await writeNmtRun(runDir, { model: modelDir, extras, maxLength: config.maxPositions, store, graphs: tasks.map((t) => t.graph), tokenizer });
      return { trainable, losses };
    });
    removeTranslationCheckpoint(ckptFile);
    out(ctx, `${recipe}: ${result.trainable} trainable parameters; loss ${result.losses[0]?.toFixed(4)} → ${result.losses.at(-1)?.toFixed(4)}`);
    out(ctx, `wall time: ${formatDuration((Date.now() - started) / 1000)} on ${backend}; saved: ${shortPath(ctx.cwd, outDir)}`);
  } finally {
    store.dispose();
  }
}

/** What a checkpoint must have been written with to be resumed by this run (every option that changes the result). */
function checkpointSettings(args: ParsedArgs, run: { recipe: NmtRecipe; pairs: readonly PairFile[]; modelDir: string; steps: number; batchSize: number; lr: number; seed: number; reductionFactor: number; warmup: number | undefined }): CheckpointSettings {
  const base = ['vocab-size', 'd-model', 'layers', 'heads', 'ffn', 'max-length', 'dropout'];
  return {
    recipe: run.recipe, pairs: run.pairs.map((p) => `${pairName(p.pair)}=${p.file}`), model: run.modelDir, domain: args.string('domain') ?? null,
    steps: run.steps, batchSize: run.batchSize, lr: run.lr, seed: run.seed, warmup: run.warmup ?? null, limit: args.number('limit') ?? null,
    reductionFactor: run.recipe === 'base' || run.recipe === 'full' ? null : run.reductionFactor,
    ...Object.fromEntries(base.map((k) => [k, args.has(k) ? (args.number(k) ?? null) : null])),
  };
}

export async function nmtEvalCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const run = await readNmtRun(path.resolve(ctx.cwd, args.requireString('run', 'the directory nmt-train wrote')));
  const pairs = parsePairArgs(args, ctx.cwd);
  const beams = args.number('beams') ?? 1;
  const batchSize = args.number('batch-size') ?? 32;
  const backend = await backendBanner(args, ctx);
  const results: Record<string, unknown> = {};
  for (const p of pairs) {
    const data = await readPairFile(p.file, args.number('limit'));
    const model = await loadNmtModel(run, p.pair).catch((e: unknown) => {
      throw e instanceof ConfigError ? new UsageError(e.message, args.command) : e;
    });
    try {
      const t0 = Date.now();
      const hyps = translate(new Executor(model.graph, model.store), model.tokenizer, data.sources, { tgt: p.pair.tgt, numBeams: beams, batchSize });
      const score = scoreTranslations(hyps, data.targets);
      const trained = run.extras.pairs.includes(pairName(p.pair));
      results[pairName(p.pair)] = { ...score, file: p.file, adapters: model.adapters, pairParams: model.pairParams, trainedPair: trained, seconds: (Date.now() - t0) / 1000, hypotheses: hyps };
      out(ctx, `${pairName(p.pair)}: BLEU ${score.bleu.toFixed(2)}  chrF ${score.chrf.toFixed(2)}  (${score.sentences} sentences; ${model.adapters.join(' + ') || run.extras.recipe}; ${model.pairParams} parameters for this direction${trained ? '' : '; zero-shot'})`);
    } finally {
      model.store.dispose();
    }
  }
  const file = path.resolve(ctx.cwd, args.string('out') ?? path.join(run.dir, 'nmt_eval.json'));
  await writeJsonAtomic(file, { run: run.dir, recipe: run.extras.recipe, beams, backend, results });
  info(ctx, `saved: ${shortPath(ctx.cwd, file)}`);
}

export async function translateCommand(args: ParsedArgs, ctx: CliContext & { readonly stdin?: NodeJS.ReadableStream }): Promise<void> {
  const run = await readNmtRun(path.resolve(ctx.cwd, args.requireString('run', 'the directory nmt-train wrote')));
  const pair = (() => {
    try {
      return parsePair(`${args.requireString('src', 'the source language')}-${args.requireString('tgt', 'the target language')}`, '--src/--tgt');
    } catch (e) {
      throw e instanceof ConfigError ? new UsageError(e.message, args.command) : e;
    }
  })();
  const input = args.string('input');
  const text = input !== undefined ? await readFile(path.resolve(ctx.cwd, input), 'utf8') : await readAll(ctx.stdin ?? process.stdin);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length > MAX_PAIR_LINES) throw new UsageError(`at most ${MAX_PAIR_LINES} lines`, args.command);
  const model = await loadNmtModel(run, pair).catch((e: unknown) => {
    throw e instanceof ConfigError ? new UsageError(e.message, args.command) : e;
  });
  try {
    const hyps = translate(new Executor(model.graph, model.store), model.tokenizer, lines, { tgt: pair.tgt, numBeams: args.number('beams') ?? 4, batchSize: args.number('batch-size') ?? 16 });
    for (const h of hyps) out(ctx, h);
  } finally {
    model.store.dispose();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The subcommands this package adds to the `adapters` CLI. */
export const commands: CliCommand[] = [
  { spec: NMT_TRAIN_SPEC, run: nmtTrainCommand },
  { spec: NMT_EVAL_SPEC, run: nmtEvalCommand },
  { spec: TRANSLATE_SPEC, run: translateCommand },
];

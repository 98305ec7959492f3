// `adapters knowledge-train` / `knowledge-probe`: a knowledge adapter (Lauscher et al. 2020: a bottleneck adapter in a
// frozen model trained with masked LM on a verbalised knowledge graph) through MAD-X's masked-LM recipe — the knowledge
// adapter is MAD-X's language adapter without the invertible block — and a cloze probe of base vs adapter.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Graph, TrainRecord, WeightStore } from '@adapters/core-graph';
import { AdapterGraphError, assignStaged, checkpointLookup, ConfigError, graphHeads, HEAD_CONFIG_FILE, hasHead, readHead, Executor, hfKeyOf, loadAdapter, loadPretrained, loadTokenizer, parameterSummary, readSafetensorsFile, saveAdapter, writeJsonAtomic, writeRunDir } from '@adapters/core-graph';
import type { CliContext, CommandSpec, ParsedArgs } from '@adapters/cli';
import { backendBanner, formatDuration, MetricsWriter, option, ProgressReporter, resolveModel, shortPath, UsageError } from '@adapters/cli';
import { buildMadx, madxRegistry } from '@adapters/adapter-madx';
import { trainLanguageAdapter } from '@adapters/adapter-madx/recipes';
import type { ClozeItem } from './knowledge/corpus';
import { encodeCloze, runClozeProbe } from './knowledge/probe';

const MLM_HEAD = 'mlm';
const NAME_RE = /^[A-Za-z0-9_-]+$/;
const out = (ctx: CliContext, line = '') => ctx.stdout.write(`${line}\n`);
const info = (ctx: CliContext, line = '') => ctx.stderr.write(`${line}\n`);

export const KNOWLEDGE_TRAIN_SPEC: CommandSpec = {
  name: 'knowledge-train',
  brief: 'train a knowledge adapter with masked LM on a knowledge corpus (base frozen; MAD-X\'s masked-LM recipe)',
  summary:
    'Trains a bottleneck adapter (seq_bn, reduction factor 2: MAD-X\'s language adapter without the invertible block) with masked LM on a corpus ' +
    '(one sentence per line, e.g. knowledge-corpus\'s corpus.txt); the base stays frozen. A checkpoint without a masked-LM head (sentence-transformers ' +
    'models) gets a fresh head trained with the adapter. --no-adapter trains only that head for the same steps: the base model\'s line for the probe. ' +
    '--head-from DIR loads a head trained that way (e.g. on generic text) and keeps it frozen, so base and adapter are probed through the same head. ' +
    'Writes the adapter and the head (adapter_config.json, adapter.safetensors, head_config.json, model_head.safetensors), metrics.jsonl and summary.json.',
  usage: '--model DIR|NAME --corpus FILE --out DIR [options]',
  options: [
    option('model', { help: 'model directory or all-MiniLM-L6-v2 (alias minilm)' }),
    { name: 'corpus', type: 'string', metavar: 'FILE', help: 'training text, one sentence per line' },
    { name: 'name', type: 'string', metavar: 'NAME', help: 'adapter name', defaultText: 'wordnet' },
    { name: 'no-adapter', type: 'boolean', help: 'train the masked-LM head alone (the baseline)' },
    { name: 'head-from', type: 'string', metavar: 'DIR', help: 'load the masked-LM head a --no-adapter run saved and keep it frozen (only the adapter trains)' },
    { name: 'reduction-factor', type: 'int', min: 1, metavar: 'N', help: 'bottleneck reduction factor', defaultText: '2' },
    option('steps', { defaultText: '500' }),
    option('batchSize', { help: 'sentences per step' }),
    option('lr', { help: 'peak learning rate' }),
    option('maxLength', { help: 'tokens per sentence', defaultText: '48' }),
    option('seed', { help: 'random seed (masks, order, init)', defaultText: '0' }),
    option('out'),
  ],
  examples: [
    'adapters knowledge-train --model minilm --corpus glue-text.txt --no-adapter --steps 300 --out runs/mlm-head',
    'adapters knowledge-train --model minilm --corpus data/wordnet/corpus.txt --head-from runs/mlm-head --steps 500 --out runs/wordnet',
  ],
};

export const KNOWLEDGE_PROBE_SPEC: CommandSpec = {
  name: 'knowledge-probe',
  brief: 'LAMA-style cloze probe (P@1, P@10) of a knowledge-train output',
  summary: 'Ranks the vocabulary at [MASK] for each cloze item (knowledge-corpus\'s probe-*.jsonl) with the run\'s masked-LM head (and adapter) and reports precision at 1 and 10, the mean reciprocal rank and the median rank of the best answer over items with a single-word-piece answer.',
  usage: '--run DIR --probe FILE [--model DIR|NAME]',
  options: [
    option('run', { help: 'directory written by knowledge-train' }),
    { name: 'probe', type: 'string', metavar: 'FILE', help: 'cloze items, JSON lines {relation, text, answers}' },
    option('model', { help: 'the base model', defaultText: 'the one recorded in summary.json' }),
    option('maxLength', { help: 'tokens per item', defaultText: '64' }),
  ],
  examples: ['adapters knowledge-probe --run runs/wordnet --probe data/wordnet/probe-heldout.jsonl'],
};

async function checkpointHasHead(modelDir: string, prefix: string, graph: Graph, head: string): Promise<boolean> {
  const { tensors } = await readSafetensorsFile(path.join(modelDir, 'model.safetensors'));
  const lookup = checkpointLookup(tensors, prefix);
  const keys = [...graph.params.values()].filter((p) => p.owner === `head:${head}`).map((p) => p.key);
  return keys.length > 0 && keys.every((k) => lookup(hfKeyOf(graph, k)) !== undefined);
}

/** The masked-LM head a knowledge-train run saved (head_config.json + model_head.safetensors), loaded for freezing. */
async function loadFrozenHead(dir: string, graph: Graph, store: WeightStore, args: ParsedArgs): Promise<{ graph: Graph; name: string }> {
  const given = `--head-from ${args.string('head-from')}`;
  if (!(await hasHead(dir))) throw new UsageError(`${given}: no ${HEAD_CONFIG_FILE} there; pass a directory written by knowledge-train`, args.command);
  const { graph: next, name, staged } = await readHeadChecked(dir, graph, given, args);
  const spec = graphHeads(next).find((h) => h.name === name);
  if (spec?.type !== 'maskedLM') throw new UsageError(`${given}: head '${name}' is a ${spec?.type ?? 'unknown'} head, not a masked-LM head`, args.command);
  assignStaged(next, store, staged);
  return { graph: next, name };
}

async function readHeadChecked(dir: string, graph: Graph, given: string, args: ParsedArgs): Promise<Awaited<ReturnType<typeof readHead>>> {
  try {
    return await readHead(dir, graph);
  } catch (e) {
    if (e instanceof AdapterGraphError) throw new UsageError(`${given}: ${e.message.split('\n')[0]}`, args.command);
    throw e;
  }
}

async function readLines(file: string, option: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l !== '');
  } catch {
    throw new UsageError(`${option} ${file}: cannot read it`);
  }
}

export async function knowledgeTrainCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const started = Date.now();
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const corpusFile = path.resolve(ctx.cwd, args.requireString('corpus', 'the corpus, one sentence per line'));
  const outDir = path.resolve(ctx.cwd, args.requireString('out', 'the output directory'));
  const name = args.string('name') ?? 'wordnet';
  if (!NAME_RE.test(name)) throw new UsageError(`--name '${name}' may use only letters, digits, _ and -`, args.command);
  const noAdapter = args.flag('no-adapter');
  if (noAdapter && args.has('reduction-factor')) throw new UsageError('--reduction-factor does not apply with --no-adapter', args.command);
  const steps = args.number('steps') ?? 500;
  const batchSize = args.number('batch-size') ?? 16;
  const learningRate = args.number('lr') ?? 1e-3;
  const maxLength = args.number('max-length') ?? 48;
  const seed = args.number('seed') ?? 0;
  const lines = await readLines(corpusFile, '--corpus');
  if (lines.length === 0) throw new UsageError(`--corpus ${corpusFile}: no sentences`, args.command);
  const backend = await backendBanner(args, ctx);
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const texts = lines.map((l) => tokenizer.encode(l, undefined, { maxLength }).inputIds);
  const headFrom = args.string('head-from');
  if (noAdapter && headFrom !== undefined) throw new UsageError('--head-from keeps the head frozen: with --no-adapter nothing would train', args.command);
  const headDir = headFrom === undefined ? undefined : path.resolve(ctx.cwd, headFrom);
  const pre = await loadPretrained(model.dir, headDir === undefined ? { heads: [{ type: 'maskedLM', name: MLM_HEAD }], seed } : { seed });
  let base = pre.graph;
  let head = MLM_HEAD;
  if (headDir !== undefined) ({ graph: base, name: head } = await loadFrozenHead(headDir, base, pre.store, args));
  const trainHead = headDir === undefined && !(await checkpointHasHead(model.dir, pre.config.architecture, base, MLM_HEAD));
  if (noAdapter && !trainHead) throw new UsageError(`${model.name} has a pre-trained masked-LM head: the base needs no --no-adapter run (probe the head as it is)`, args.command);
  if (head === name) throw new UsageError(`--name ${name}: the head loaded from --head-from has that name; give the adapter another`, args.command);
  const madx = buildMadx(base, { language: name, invertible: false, ...(args.has('reduction-factor') ? { languageConfig: { reduction_factor: args.number('reduction-factor') } } : {}) });
  pre.store.sync(madx.graph, seed);
  const adapterParams = parameterSummary(madx.graph, (p) => p.owner === `adapter:${name}`).trainable;
  info(ctx, `knowledge-train: ${noAdapter ? 'masked-LM head alone (baseline)' : `knowledge adapter '${name}' (seq_bn, ${adapterParams.toLocaleString('en-US')} parameters)`} on ${model.name}, base frozen; ` +
    `${texts.length} sentences from ${shortPath(ctx.cwd, corpusFile)}; masked-LM head ${trainHead ? 'fresh, trained' : headDir !== undefined ? `from ${shortPath(ctx.cwd, headDir)}, frozen` : 'pre-trained, frozen'}`);
  const summary = await writeRunDir(outDir, async (runDir) => {
    const metrics = MetricsWriter.open(path.join(runDir, 'metrics.jsonl'), { fresh: true });
    const progress = new ProgressReporter({ stream: ctx.stderr, every: 20 });
    const t0 = Date.now();
    let result;
    try {
      result = trainLanguageAdapter({
        model: madx, store: pre.store, head, texts, trainHead,
        masking: { maskId: tokenizer.maskId, vocabSize: tokenizer.vocabSize, specialIds: [tokenizer.clsId, tokenizer.sepId, tokenizer.padId] },
        maxSteps: steps, batchSize, learningRate, seed, padId: tokenizer.padId, warmupRatio: 0.1,
        // The baseline bypasses the adapter in every step: only the head learns (the adapter gets no gradient).
        ...(noAdapter ? { skipAdapters: [name] } : {}),
        onRecord: (r: TrainRecord) => {
          metrics.write(r);
          if (r.type === 'step') progress.onRecord({ ...r, seconds: (Date.now() - t0) / 1000 });
        },
      });
    } finally {
      progress.finish();
    }
    const losses = result.history.flatMap((r) => (r.type === 'step' ? [r.loss] : []));
    const window = Math.max(1, Math.min(20, Math.floor(losses.length / 2)));
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    await saveAdapter(runDir, madx.graph, pre.store, name, { head, registry: madxRegistry() });
    const s = {
      adapter: name, noAdapter, model: model.dir === path.resolve(ctx.cwd, modelSpec) ? model.dir : model.name, backend, corpus: corpusFile, sentences: texts.length,
      steps: result.steps, batchSize, learningRate, maxLength, seed, headTrained: trainHead, headFrom: headDir ?? null, adapterParams: noAdapter ? 0 : adapterParams,
      firstLoss: mean(losses.slice(0, window)), lastLoss: mean(losses.slice(-window)), lossWindow: window, seconds: (Date.now() - started) / 1000,
    };
    await writeJsonAtomic(path.join(runDir, 'summary.json'), s);
    return s;
  }).finally(() => pre.store.dispose());
  out(ctx, `masked-LM loss: ${summary.firstLoss.toFixed(4)} → ${summary.lastLoss.toFixed(4)} (mean of the first / last ${summary.lossWindow} steps; ${summary.steps} steps)`);
  out(ctx, `wall time ${formatDuration((Date.now() - started) / 1000)} on ${backend}`);
  out(ctx, `saved: ${shortPath(ctx.cwd, outDir)} (adapter_config.json, adapter.safetensors, head_config.json, model_head.safetensors, metrics.jsonl, summary.json)`);
}

export async function knowledgeProbeCommand(args: ParsedArgs, ctx: CliContext): Promise<void> {
  const runDir = path.resolve(ctx.cwd, args.requireString('run', 'a directory written by knowledge-train'));
  const probeFile = path.resolve(ctx.cwd, args.requireString('probe', 'cloze items (.jsonl)'));
  let summary: { model?: unknown; adapter?: unknown; noAdapter?: unknown };
  try {
    summary = JSON.parse(await readFile(path.join(runDir, 'summary.json'), 'utf8')) as typeof summary;
  } catch {
    throw new UsageError(`--run ${args.string('run')}: no readable summary.json there; pass a directory written by knowledge-train`, args.command);
  }
  const items: ClozeItem[] = (await readLines(probeFile, '--probe')).map((line, i) => {
    let x: unknown;
    try {
      x = JSON.parse(line);
    } catch {
      throw new UsageError(`${probeFile}:${i + 1}: not JSON`);
    }
    const item = x as { relation?: unknown; text?: unknown; answers?: unknown };
    if (typeof item.text !== 'string' || !item.text.includes('[MASK]') || !Array.isArray(item.answers) || !item.answers.every((a) => typeof a === 'string')) {
      throw new UsageError(`${probeFile}:${i + 1}: expected {relation, text with [MASK], answers: [strings]}`);
    }
    return { relation: String(item.relation ?? '') as ClozeItem['relation'], text: item.text, answers: item.answers as string[] };
  });
  const backend = await backendBanner(args, ctx);
  const model = await resolveModel(args.string('model') ?? String(summary.model), ctx.cwd, (line) => info(ctx, line));
  const tokenizer = await loadTokenizer(model.dir);
  const { encoded, skipped } = encodeCloze(items, tokenizer, args.number('max-length') ?? 64);
  if (encoded.length === 0) throw new UsageError(`${probeFile}: no item has a single-word-piece answer`, args.command);
  const pre = await loadPretrained(model.dir);
  let loaded;
  try {
    loaded = await loadAdapter(runDir, pre.graph, pre.store, madxRegistry(), { loadHead: true });
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--run ${args.string('run')}: ${e.message}`, args.command);
    throw e;
  }
  const skip = summary.noAdapter === true ? [loaded.name] : [];
  const r = runClozeProbe(new Executor(loaded.graph, pre.store), `${loaded.head ?? MLM_HEAD}.logits`, encoded, { padId: tokenizer.padId, skipAdapters: skip });
  pre.store.dispose();
  await writeJsonAtomic(path.join(runDir, `probe-${path.basename(probeFile, '.jsonl')}.json`), { probe: probeFile, items: r.count, skipped, pAt1: r.precision[0], pAt10: r.precision[1], mrr: r.mrr, medianRank: r.medianRank, backend });
  out(ctx, `P@1 ${(r.precision[0] as number).toFixed(4)}  P@10 ${(r.precision[1] as number).toFixed(4)}  MRR ${r.mrr.toFixed(4)}  median rank ${r.medianRank}  (${r.count} items with a single-word-piece answer; ${skipped} skipped) — ${summary.noAdapter === true ? 'masked-LM head alone' : `knowledge adapter '${String(summary.adapter)}'`}`);
}

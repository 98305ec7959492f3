import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Graph, JsonSchema, RunManifest, WeightStore } from '@adapters/core-graph';
import { ConfigError, loadAdapter, readRunManifest, RUN_FILE, RUN_FORMAT, saveAdapter, validateRunManifest, validateSchema, writeJsonAtomic } from '@adapters/core-graph';
import { BPE_FILE, BpeTokenizer } from './bpe';
import { loadSeq2Seq } from './load';
import type { LanguagePair, NmtRecipe } from './recipes';
import { NMT_RECIPES, nmtAdapterRegistry, pairName, parsePair, recipeAdapters } from './recipes';
import { saveSeq2Seq } from './save';

/** nmt-train's key in run.json's extras. */
export const NMT_EXTRAS = 'nmt';
/** Where base and full runs keep their model (Hugging Face layout + tokenizer), relative to the run. */
export const RUN_MODEL_DIR = 'model';

/** What a run records under `extras.nmt` (read back by nmt-eval and translate). */
export interface NmtExtras {
  readonly recipe: NmtRecipe;
  /** Directions trained, e.g. ['en-fr', 'fr-en']. */
  readonly pairs: readonly string[];
  readonly domain?: string;
  readonly reductionFactor?: number;
  /** Anything else (steps, losses, timing, parameter counts): for people and tools. */
  readonly [key: string]: unknown;
}

const EXTRAS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['recipe', 'pairs'],
  properties: {
    recipe: { enum: [...NMT_RECIPES] },
    pairs: { type: 'array', minItems: 1, items: { type: 'string' } },
    domain: { type: 'string' },
    reductionFactor: { type: 'number' },
  },
  additionalProperties: true,
};

/** A model folder: config.json, model.safetensors and the BPE tokenizer. */
export async function saveNmtModel(dir: string, graph: Graph, store: WeightStore, tokenizer: BpeTokenizer): Promise<void> {
  await saveSeq2Seq(dir, graph, store);
  await writeFile(join(dir, BPE_FILE), `${JSON.stringify(tokenizer.toJSON())}\n`);
}

export async function loadTokenizerFile(dir: string): Promise<BpeTokenizer> {
  const file = join(dir, BPE_FILE);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new ConfigError(file, 'cannot read: the model folder needs the tokenizer nmt-train writes');
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, `is not JSON (${(e as Error).message})`);
  }
  return BpeTokenizer.fromJSON(json, file);
}

/**
 * Writes a run: base/full write their model under `model/`; adapter recipes write each adapter (AdapterHub layout, from
 * a graph that holds it) under `adapters/NAME` and record the base model's folder. Then run.json (core's manifest).
 */
export async function writeNmtRun(dir: string, input: {
  readonly model: string; readonly extras: NmtExtras; readonly maxLength: number; readonly store: WeightStore;
  readonly graphs: readonly Graph[]; readonly tokenizer?: BpeTokenizer;
}): Promise<RunManifest> {
  const { extras } = input;
  const adapters: Array<{ name: string; dir: string }> = [];
  let model = input.model;
  if (extras.recipe === 'base' || extras.recipe === 'full') {
    if (!input.tokenizer) throw new ConfigError('tokenizer', `a ${extras.recipe} run saves its model with the tokenizer`);
    await saveNmtModel(join(dir, RUN_MODEL_DIR), input.graphs[0] as Graph, input.store, input.tokenizer);
    model = RUN_MODEL_DIR;
  } else {
    const registry = nmtAdapterRegistry();
    const names = new Set(input.graphs.flatMap((g) => Object.keys(g.meta.adapters ?? {})));
    for (const name of [...names].sort()) {
      const graph = input.graphs.find((g) => (g.meta.adapters ?? {})[name]) as Graph;
      await saveAdapter(join(dir, 'adapters', name), graph, input.store, name, { registry });
      adapters.push({ name, dir: `adapters/${name}` });
    }
  }
  const manifest = validateRunManifest({ format: RUN_FORMAT, model, adapters, heads: [], maxLength: input.maxLength, columns: {}, extras: { [NMT_EXTRAS]: extras } }, RUN_FILE);
  await writeJsonAtomic(join(dir, RUN_FILE), manifest);
  return manifest;
}

export interface NmtRun {
  readonly dir: string;
  readonly manifest: RunManifest;
  readonly extras: NmtExtras;
  /** The base model's folder (the run's own for base/full). */
  readonly modelDir: string;
}

/** Reads an nmt-train run (core's checks, then `extras.nmt`). */
export async function readNmtRun(dir: string): Promise<NmtRun> {
  const manifest = await readRunManifest(dir);
  const file = join(dir, RUN_FILE);
  const value = manifest.extras?.[NMT_EXTRAS];
  if (value === undefined) throw new ConfigError(`${file}: extras.${NMT_EXTRAS}`, 'is missing: this is not an nmt-train run');
  validateSchema(EXTRAS_SCHEMA, value, `${file}: extras.${NMT_EXTRAS}`);
  const extras = value as NmtExtras;
  extras.pairs.forEach((p, i) => parsePair(p, `${file}: extras.${NMT_EXTRAS}.pairs[${i}]`));
  return { dir, manifest, extras, modelDir: resolve(dir, manifest.model) };
}

/** A model for one direction: the base plus the adapters the run's recipe picks for it. */
export interface NmtModel {
  readonly graph: Graph;
  readonly store: WeightStore;
  readonly tokenizer: BpeTokenizer;
  /** Adapters in the graph (none for base and full). */
  readonly adapters: readonly string[];
  /** Parameters this direction adds to the shared base (all of them for full fine-tuning: a copy per pair). */
  readonly pairParams: number;
}

/**
 * Builds the model a run gives for `pair`: the language recipe composes the source language's encoder adapter with the
 * target language's decoder adapter (a direction never trained works when both languages were trained on some side);
 * the pair recipe needs that pair's adapter; a domain adapter serves every direction. Missing adapters are an error
 * naming what the run has.
 */
export async function loadNmtModel(run: NmtRun, pair: LanguagePair): Promise<NmtModel> {
  const { extras } = run;
  const names = recipeAdapters(extras.recipe, pair, extras.domain);
  const have = run.manifest.adapters.map((a) => a.name);
  for (const n of names) {
    if (!have.includes(n)) throw new ConfigError(`${join(run.dir, RUN_FILE)}: adapters`, `has no adapter '${n}' for ${pairName(pair)} (adapters: ${have.join(', ') || 'none'})`);
  }
  const pre = await loadSeq2Seq(run.modelDir);
  try {
    const tokenizer = await loadTokenizerFile(run.modelDir);
    let graph = pre.graph;
    const registry = nmtAdapterRegistry();
    for (const n of names) {
      const entry = run.manifest.adapters.find((a) => a.name === n) as { dir: string };
      graph = (await loadAdapter(resolve(run.dir, entry.dir), graph, pre.store, registry)).graph;
    }
    const owners = new Set(names.map((n) => `adapter:${n}`));
    const counted = [...graph.params.values()].filter((p) => (names.length === 0 ? p.owner === 'base' : owners.has(p.owner)));
    const pairParams = extras.recipe === 'base' ? 0 : counted.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    return { graph, store: pre.store, tokenizer, adapters: names, pairParams };
  } catch (e) {
    pre.store.dispose();
    throw e;
  }
}

export const isRunDir = (dir: string): Promise<boolean> => stat(join(dir, RUN_FILE)).then(() => true, () => false);

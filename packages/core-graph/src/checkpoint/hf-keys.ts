import * as tf from '@tensorflow/tfjs';
import { GraphError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import type { ParamSpec } from '../graph/types';

/** A tensor as a checkpoint holds it: Hugging Face layout (nn.Linear weights are [out, in]). */
export interface CheckpointTensor {
  readonly shape: readonly number[];
  readonly values: ArrayLike<number>;
}

/**
 * The Hugging Face checkpoint key of a parameter: base parameters gain the model prefix
 * (`bert.encoder.layer.0...`), head parameters drop their `heads.NAME.` prefix (`classifier.weight`).
 */
export function hfKeyOf(graph: Graph, key: string): string {
  const head = /^heads\.[^.]+\.(.*)$/.exec(key);
  if (head) return head[1] as string;
  const prefix = graph.meta['prefix'];
  return typeof prefix === 'string' && graph.param(key).owner === 'base' ? `${prefix}.${key}` : key;
}

/** Kernels are stored [in, out] here and [out, in] in Hugging Face checkpoints. */
export const isTransposedInCheckpoint = (spec: ParamSpec): boolean => spec.kind === 'kernel' && spec.shape.length === 2;

function toLayout(spec: ParamSpec, t: CheckpointTensor): { shape: number[]; values: Float32Array } {
  const values = t.values instanceof Float32Array ? t.values : Float32Array.from(t.values);
  if (!isTransposedInCheckpoint(spec)) return { shape: [...t.shape], values };
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  return { shape: [cols, rows], values: out };
}

export interface AssignOptions {
  /** Parameters to fill; all of the graph's by default. */
  readonly keys?: Iterable<string>;
  /** Where the tensors come from, for error messages. */
  readonly source?: string;
  /** Checkpoint key of a parameter (Hugging Face naming by default). */
  readonly keyOf?: (key: string) => string;
  /** Accept NaN / ±Infinity weights (refused by default: they make every prediction NaN). */
  readonly allowNonFinite?: boolean;
}

/** Index of the first NaN / ±Infinity value, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/**
 * Copies checkpoint tensors into the store. Every key and shape is checked before anything is written,
 * so a failed load leaves the store unchanged. `lookup` gets the Hugging Face key (and may try aliases).
 */
export function assignFromCheckpoint(graph: Graph, store: WeightStore, lookup: (hfKey: string) => CheckpointTensor | undefined, options: AssignOptions = {}): void {
  for (const [key, { shape, values }] of stageFromCheckpoint(graph, lookup, options)) {
    const t = tf.tensor(values, shape);
    store.assign(key, t);
    t.dispose();
  }
}

/** Reads and checks every requested tensor (key present, shape right) and converts it to our layout. */
export function stageFromCheckpoint(graph: Graph, lookup: (hfKey: string) => CheckpointTensor | undefined, options: AssignOptions = {}): Map<string, { shape: number[]; values: Float32Array }> {
  const staged = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const key of options.keys ?? graph.params.keys()) staged.set(key, toLayout(graph.param(key), checkedTensor(graph, key, lookup, options)));
  return staged;
}

/** The checkpoint key of parameter `key` under `options.keyOf` (Hugging Face naming by default). */
export const checkpointKeyOf = (graph: Graph, key: string, options: AssignOptions = {}): string => (options.keyOf ? options.keyOf(key) : hfKeyOf(graph, key));

/** The checkpoint tensor of parameter `key`, checked (present, shape in checkpoint layout, finite values). */
export function checkedTensor(graph: Graph, key: string, lookup: (hfKey: string) => CheckpointTensor | undefined, options: AssignOptions = {}): CheckpointTensor {
  const source = options.source ?? 'checkpoint';
  const spec = graph.param(key);
  const hf = checkpointKeyOf(graph, key, options);
  const t = lookup(hf);
  if (!t) throw new GraphError(`${source}: missing tensor '${hf}' for parameter '${key}' [${spec.shape.join(', ')}]`);
  const expected = isTransposedInCheckpoint(spec) ? [...spec.shape].reverse() : spec.shape;
  if (t.shape.join() !== expected.join()) {
    throw new GraphError(`${source}: tensor '${hf}' has shape [${t.shape.join(', ')}], the model expects [${expected.join(', ')}]`);
  }
  if (options.allowNonFinite !== true) {
    const bad = firstNonFinite(t.values);
    if (bad >= 0) throw new GraphError(`${source}: tensor '${hf}' holds ${t.values[bad]} at index ${bad}; non-finite weights are refused (pass allowNonFinite to load them anyway)`, 'E_NON_FINITE_WEIGHTS');
  }
  return t;
}

/** One parameter's values in checkpoint layout (kernels [out, in], as nn.Linear), as a safetensors F32 entry. */
export function checkpointTensor(graph: Graph, store: WeightStore, key: string): { dtype: 'F32'; shape: number[]; values: Float32Array } {
  const spec = graph.param(key);
  const values = Float32Array.from(store.get(key).dataSync());
  if (!isTransposedInCheckpoint(spec)) return { dtype: 'F32', shape: [...spec.shape], values };
  const [rows, cols] = spec.shape as [number, number];
  const t = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = values[r * cols + c] as number;
  return { dtype: 'F32', shape: [cols, rows], values: t };
}

/** The store's values in checkpoint layout, keyed by Hugging Face names. */
export function exportToCheckpoint(graph: Graph, store: WeightStore, keys: Iterable<string> = graph.params.keys()): Map<string, { shape: number[]; values: Float32Array }> {
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const key of keys) {
    const { shape, values } = checkpointTensor(graph, store, key);
    out.set(hfKeyOf(graph, key), { shape, values });
  }
  return out;
}

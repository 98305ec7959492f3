// Frozen-feature caching for core-graph's trainer: with the base frozen, the values where the frozen part of the
// graph meets the trainable part are the same in every epoch, so they are computed once per example and fed to
// each step (and evaluation) through train()'s `constants` / `evalConstants` hooks.
import * as tf from '@tensorflow/tfjs';
import type { EvalConstants, Graph, TrainExample, TrainOptions, TrainPolicy, WeightStore } from '@adapters/core-graph';
import { ConfigError, disposeBatch, Executor, GraphBuilder, makeBatch } from '@adapters/core-graph';

const probeName = (id: string): string => `__frozen__.${id}`;

/**
 * Values of the graph's frozen frontier (nodes that depend on no trainable parameter but feed one that does),
 * computed once per example; a batch gets them back as `constants`, so the frozen base never reruns.
 * Exact for a frozen base without dropout (the base's own dropout is then off).
 */
export class FrozenFeatureCache {
  /** Frontier node ids and whether their axis 1 is the sequence axis. */
  readonly nodes: readonly { readonly id: string; readonly seqAxis: boolean; readonly shape: readonly (number | string)[] }[];
  private readonly values = new Map<TrainExample, Float32Array[]>();
  private readonly probe: Graph;

  constructor(readonly graph: Graph, trainable: (key: string) => boolean, output: string) {
    const depends = new Set<string>();
    for (const n of graph.nodes) {
      if (Object.values(n.params).some(trainable) || n.inputs.some((i) => depends.has(i))) depends.add(n.id);
    }
    const needed = new Set<string>();
    const target = graph.outputs[output];
    // Only the frontier below the requested output matters.
    const stack = target === undefined ? [] : [target];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      const n = graph.node(id);
      if (!depends.has(id)) {
        if (n.op !== 'input') needed.add(id);
        continue;
      }
      stack.push(...n.inputs);
    }
    this.nodes = [...needed].sort().map((id) => {
      const shape = graph.node(id).type.shape;
      if (shape[0] !== 'batch') throw new ConfigError('cacheFrozen', `frozen node '${id}' [${shape.join(', ')}] has no batch axis; train without cacheFrozen`);
      return { id, seqAxis: shape[1] === 'seq', shape };
    });
    // A copy of the graph that publishes the frontier nodes as outputs, to read them in one run.
    const b = GraphBuilder.from(graph);
    for (const n of this.nodes) b.output(probeName(n.id), n.id);
    this.probe = b.build();
  }

  /** Runs the frozen part for examples not cached yet (sorted by length, in batches). */
  fill(store: WeightStore, examples: readonly TrainExample[], options: { batchSize?: number; padId?: number } = {}): void {
    const todo = [...new Set(examples)].filter((e) => !this.values.has(e)).sort((a, b) => a.inputIds.length - b.inputIds.length);
    if (todo.length === 0 || this.nodes.length === 0) {
      for (const e of todo) this.values.set(e, []);
      return;
    }
    const executor = new Executor(this.probe, store);
    const batchSize = options.batchSize ?? 32;
    const ids = this.nodes.map((n) => n.id);
    for (let i = 0; i < todo.length; i += batchSize) {
      const slice = todo.slice(i, i + batchSize);
      const batch = makeBatch(slice.map((e) => ({ ...e, label: 0 })), options.padId ?? 0);
      const got = executor.run(batch.feeds, { outputs: ids.map(probeName) });
      const values = ids.map((id) => got[probeName(id)] as tf.Tensor);
      const arrays = values.map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
      tf.dispose([...new Set(values)]);
      slice.forEach((e, b) => {
        this.values.set(e, this.nodes.map((n, k) => {
          const { data, shape } = arrays[k] as { data: Float32Array; shape: number[] };
          const rowSize = shape.slice(1).reduce((x, y) => x * y, 1);
          const row = data.subarray(b * rowSize, (b + 1) * rowSize);
          if (!n.seqAxis) return Float32Array.from(row);
          const inner = shape.slice(2).reduce((x, y) => x * y, 1);
          return Float32Array.from(row.subarray(0, e.inputIds.length * inner));
        }));
      });
      disposeBatch(batch);
    }
  }

  /** The cached frontier for these examples, padded to `seq` along the sequence axis; the caller disposes. */
  constants(examples: readonly TrainExample[], seq: number): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    this.nodes.forEach((n, k) => {
      const inner = n.shape.slice(n.seqAxis ? 2 : 1).map((d) => d as number);
      const innerSize = inner.reduce((x, y) => x * y, 1);
      const rowSize = (n.seqAxis ? seq : 1) * innerSize;
      const buf = new Float32Array(examples.length * rowSize);
      examples.forEach((e, b) => {
        const v = this.values.get(e);
        if (!v) throw new ConfigError('examples', 'FrozenFeatureCache: example not cached (call fill first)');
        buf.set(v[k] as Float32Array, b * rowSize);
      });
      out.set(n.id, tf.tensor(buf, [examples.length, ...(n.seqAxis ? [seq] : []), ...inner]));
    });
    return out;
  }
}

export interface FrozenFeatureOptions {
  readonly graph: Graph;
  readonly store: WeightStore;
  readonly output: string;
  /** The training policy: parameters it selects are trainable, everything else is frozen and cached. */
  readonly policy: TrainPolicy;
  /** Examples to cache up front (training and evaluation sets); others are cached when first seen. */
  readonly examples: readonly TrainExample[];
  readonly padId?: number;
}

/**
 * train()'s `constants` and `evalConstants` hooks serving the cached frozen frontier: the frozen base runs once per
 * example instead of every step.
 */
export function frozenFeatureHooks(o: FrozenFeatureOptions): { readonly constants: NonNullable<TrainOptions['constants']>; readonly evalConstants: EvalConstants; readonly cache: FrozenFeatureCache } {
  const cache = new FrozenFeatureCache(o.graph, (key) => o.policy(o.graph.param(key)), o.output);
  const padId = o.padId ?? 0;
  cache.fill(o.store, o.examples, { padId });
  const hook = ({ examples }: { readonly examples: readonly TrainExample[] }): Map<string, tf.Tensor> => {
    cache.fill(o.store, examples, { padId });
    // makeBatch pads to the longest example.
    return cache.constants(examples, Math.max(...examples.map((e) => e.inputIds.length)));
  };
  return { constants: hook, evalConstants: hook, cache };
}

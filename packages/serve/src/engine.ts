// Forward passes over many adapters at once. A batch of texts for several adapters (same placement) runs as one
// graph with a BatchSplit at every adapted site: rows of slice i go through adapter i only, and each adapter's head
// reads its own rows. One input for many adapters runs as a Parallel: layers below the first adapted site (and,
// with `sharedLayers`, AdapterDrop's dropped lower layers) are computed once for all tasks.
import * as tf from '@tensorflow/tfjs';
import type { AdapterRegistry, AdapterTree, Graph, HeadRegistry, TextTokenizer, TrainExample, WeightStore } from '@adapters/core-graph';
import { adapter, addHead, applyPlacements, BatchSplit, disposeBatch, Executor, makeBatch, numLayersOf, Parallel } from '@adapters/core-graph';
import { ServeError } from './errors';
import type { LoadedAdapter } from './pool';

export interface Prediction {
  readonly label: string;
  readonly score: number;
  readonly scores: Readonly<Record<string, number>>;
}

export interface BatchGroup {
  readonly adapter: LoadedAdapter;
  readonly texts: readonly string[];
}

export interface EngineOptions {
  readonly baseGraph: Graph;
  readonly store: WeightStore;
  readonly registry: AdapterRegistry;
  readonly heads?: HeadRegistry;
  readonly tokenizer: TextTokenizer;
  readonly maxLength: number;
  /** Batch graphs kept for reuse (keyed by adapters, their row counts and load generations). */
  readonly graphCacheSize?: number;
  readonly onGraph?: (hit: boolean) => void;
}

interface Compiled {
  readonly executor: Executor;
}

export class BatchEngine {
  private readonly cache = new Map<string, Compiled>();
  readonly numLayers: number;

  constructor(private readonly options: EngineOptions) {
    this.numLayers = numLayersOf(options.baseGraph);
  }

  /** Batch graphs held (for tests and metrics). */
  get cachedGraphs(): number {
    return this.cache.size;
  }

  /** Drops cached graphs that use `name` (it was unloaded). */
  forget(name: string): void {
    for (const key of [...this.cache.keys()]) {
      const parts = key.slice(key.indexOf(':') + 1).split(';');
      if (parts.some((part) => part.startsWith(`${name}@`))) this.cache.delete(key);
    }
  }

  /** Probabilities for every group's texts, in one forward pass (all groups must share a placement). */
  runBatch(groups: readonly BatchGroup[]): Prediction[][] {
    const first = groups[0];
    if (!first) return [];
    const mismatch = groups.find((g) => g.adapter.placementKey !== first.adapter.placementKey);
    if (mismatch) throw new ServeError('bad_request', `adapters '${first.adapter.name}' and '${mismatch.adapter.name}' are placed differently and cannot share a batch`);
    const sizes = groups.map((g) => g.texts.length);
    const key = `split:${groups.map((g, i) => `${g.adapter.name}@${g.adapter.generation}#${sizes[i]}`).join(';')}`;
    const compiled = this.compiled(key, () => {
      const leaves = groups.map((g) => leafOf(g.adapter));
      return { tree: leaves.length === 1 ? leaves[0]! : BatchSplit(sizes, ...leaves), adapters: groups.map((g) => g.adapter) };
    });
    let offset = 0;
    const slices = groups.map((g) => {
      const slice = { adapter: g.adapter, begin: offset, rows: g.texts.length };
      offset += g.texts.length;
      return slice;
    });
    return this.forward(compiled, groups.flatMap((g) => g.texts), slices);
  }

  /**
   * One set of texts through several adapters. `sharedLayers` = k also bypasses the adapters in layers 0..k-1
   * (AdapterDrop), so those layers run once; predictions then equal single-adapter ones only for adapters trained
   * that way.
   */
  runMulti(adapters: readonly LoadedAdapter[], texts: readonly string[], sharedLayers = 0): Prediction[][] {
    const first = adapters[0];
    if (!first) return [];
    const mismatch = adapters.find((a) => a.placementKey !== first.placementKey);
    if (mismatch) throw new ServeError('bad_request', `adapters '${first.name}' and '${mismatch.name}' are placed differently; predict-multi runs adapters that share a placement`);
    if (!Number.isInteger(sharedLayers) || sharedLayers < 0 || sharedLayers >= Math.max(1, this.numLayers)) {
      throw new ServeError('bad_request', `sharedLayers must be an integer in [0, ${Math.max(0, this.numLayers - 1)}], got ${sharedLayers}`);
    }
    const key = `parallel:${adapters.map((a) => `${a.name}@${a.generation}`).join(';')}`;
    const compiled = this.compiled(key, () => {
      const leaves = adapters.map(leafOf);
      return { tree: leaves.length === 1 ? leaves[0]! : Parallel(...leaves), adapters };
    });
    const rows = texts.length;
    // With n branches the heads see n stacked copies of the batch; copy i belongs to adapter i.
    return this.forward(compiled, texts, adapters.map((a, i) => ({ adapter: a, begin: adapters.length === 1 ? 0 : i * rows, rows })), sharedLayers, rows);
  }

  private compiled(key: string, build: () => { tree: AdapterTree; adapters: readonly LoadedAdapter[] }): Compiled {
    const hit = this.cache.get(key);
    this.options.onGraph?.(hit !== undefined);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit); // most recently used last
      return hit;
    }
    const { tree, adapters } = build();
    const first = adapters[0]!;
    let graph = applyPlacements(this.options.baseGraph, [{ adapter: tree, select: { names: [...first.sites] }, mode: first.mode as never }], this.options.registry).graph;
    for (const a of adapters) graph = addHead(graph, a.head, this.options.heads);
    const compiled = { executor: new Executor(graph, this.options.store) };
    this.cache.set(key, compiled);
    const limit = this.options.graphCacheSize ?? 64;
    while (this.cache.size > limit) this.cache.delete(this.cache.keys().next().value as string);
    return compiled;
  }

  private forward(compiled: Compiled, texts: readonly string[], slices: ReadonlyArray<{ adapter: LoadedAdapter; begin: number; rows: number }>, skipLayers = 0, parallelRows?: number): Prediction[][] {
    const examples = texts.map((text): TrainExample => {
      const enc = this.options.tokenizer.encode(text, undefined, { maxLength: this.options.maxLength });
      return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label: 0 };
    });
    const batch = makeBatch(examples, this.options.tokenizer.padId);
    try {
      const outputs = slices.map((s) => `${s.adapter.head.name}.logits`);
      const probs = tf.tidy(() => {
        const out = compiled.executor.run(batch.feeds, { outputs, ...(skipLayers > 0 ? { skipLayers } : {}) });
        return slices.map((s, i) => {
          const logits = out[outputs[i]!]!;
          // Every Parallel splice bypassed (sharedLayers): the heads read the batch once, not n copies.
          const begin = parallelRows !== undefined && logits.shape[0] === parallelRows ? 0 : s.begin;
          return tf.softmax(tf.slice(logits, [begin, 0], [s.rows, -1])).arraySync() as number[][];
        });
      });
      return probs.map((rows, i) => rows.map((p) => toPrediction(p, slices[i]!.adapter.labels)));
    } finally {
      disposeBatch(batch);
    }
  }
}

const leafOf = (a: LoadedAdapter): AdapterTree => adapter(a.plugin, a.name, a.config);

function toPrediction(p: readonly number[], labels: readonly string[]): Prediction {
  const best = p.reduce((b, v, j) => (v > (p[b] ?? -Infinity) ? j : b), 0);
  return { label: labels[best] ?? String(best), score: p[best] ?? 0, scores: Object.fromEntries(labels.map((l, j) => [l, p[j] ?? 0])) };
}

// Forward passes over many adapters at once. A batch of texts for several adapters (same placement) runs as one
// graph with a BatchSplit at every adapted site: rows of slice i go through adapter i only, and each adapter's head
// reads its own rows. The graph is a SlotTemplate (slots.ts): built once per list of adapter kinds, filled with the
// batch's adapters and row counts at run time. One input for many adapters runs as a Parallel: layers below the first adapted site (and,
// with `sharedLayers`, AdapterDrop's dropped lower layers) are computed once for all tasks.
import * as tf from '@tensorflow/tfjs';
import type { AdapterRegistry, Graph, HeadRegistry, TextTokenizer, TrainExample, WeightStore } from '@adapters/core-graph';
import { disposeBatch, makeBatch, numLayersOf } from '@adapters/core-graph';
import { ServeError } from './errors';
import type { LoadedAdapter } from './pool';
import type { SlotLayout } from './slots';
import { signatureOf, SlotTemplate } from './slots';

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
  /** Batch graphs kept for reuse (keyed by the adapters' signatures: plugin, config, placement, head shape). */
  readonly graphCacheSize?: number;
  readonly onGraph?: (hit: boolean) => void;
}

export class BatchEngine {
  /** Batch graphs by the signatures of their slots (LRU); they hold no adapter, so unloading keeps them valid. */
  private readonly cache = new Map<string, SlotTemplate>();
  readonly numLayers: number;

  constructor(private readonly options: EngineOptions) {
    this.numLayers = numLayersOf(options.baseGraph);
  }

  /** Batch graphs held (for tests and metrics). */
  get cachedGraphs(): number {
    return this.cache.size;
  }

  /** Probabilities for every group's texts, in one forward pass (all groups must share a placement). */
  runBatch(groups: readonly BatchGroup[]): Prediction[][] {
    const first = groups[0];
    if (!first) return [];
    const mismatch = groups.find((g) => g.adapter.placementKey !== first.adapter.placementKey);
    if (mismatch) throw new ServeError('bad_request', `adapters '${first.adapter.name}' and '${mismatch.adapter.name}' are placed differently and cannot share a batch`);
    // Slots in signature order, so any adapters of the same kinds reuse one graph whatever the request order.
    const order = bySignature(groups.map((g) => g.adapter));
    const slotted = order.map((i) => groups[i]!);
    const template = this.template('split', slotted.map((g) => g.adapter));
    const sizes = slotted.map((g) => g.texts.length);
    let offset = 0;
    const slices = slotted.map((g, slot) => {
      const slice = { adapter: g.adapter, output: template.output(slot), begin: offset, rows: g.texts.length };
      offset += g.texts.length;
      return slice;
    });
    const probs = this.forward(template, slotted.map((g) => g.adapter), sizes, slotted.flatMap((g) => g.texts), slices);
    const out: Prediction[][] = [];
    order.forEach((i, slot) => {
      out[i] = probs[slot]!;
    });
    return out;
  }

  /**
   * One set of texts through several adapters. `sharedLayers` = k also bypasses the adapters in layers 0..k-1
   * (AdapterDrop), so those layers run once; predictions then equal single-adapter ones only for adapters trained
   * that way.
   */
  runMulti(adapters: readonly LoadedAdapter[], texts: readonly string[], sharedLayers = 0): Prediction[][] {
    return this.runMultiSets(adapters, [texts], sharedLayers)[0] ?? [];
  }

  /**
   * Several requests for the same adapters in one pass: their texts are concatenated, run once through a Parallel
   * over the adapters, and handed back per request (result[set][adapter][text]).
   */
  runMultiSets(adapters: readonly LoadedAdapter[], textSets: ReadonlyArray<readonly string[]>, sharedLayers = 0): Prediction[][][] {
    const first = adapters[0];
    if (!first) return textSets.map(() => []);
    const mismatch = adapters.find((a) => a.placementKey !== first.placementKey);
    if (mismatch) throw new ServeError('bad_request', `adapters '${first.name}' and '${mismatch.name}' are placed differently; predict-multi runs adapters that share a placement`);
    if (!Number.isInteger(sharedLayers) || sharedLayers < 0 || sharedLayers >= Math.max(1, this.numLayers)) {
      throw new ServeError('bad_request', `sharedLayers must be an integer in [0, ${Math.max(0, this.numLayers - 1)}], got ${sharedLayers}`);
    }
    const order = bySignature(adapters);
    const slotted = order.map((i) => adapters[i]!);
    const template = this.template('parallel', slotted);
    const texts = textSets.flat();
    const rows = texts.length;
    // With n branches the heads see n stacked copies of the batch; copy i belongs to slot i.
    const slices = slotted.map((a, slot) => ({ adapter: a, output: template.output(slot), begin: slotted.length === 1 ? 0 : slot * rows, rows }));
    const probs = this.forward(template, slotted, [], texts, slices, sharedLayers, rows);
    const perAdapter: Prediction[][] = [];
    order.forEach((i, slot) => {
      perAdapter[i] = probs[slot]!;
    });
    let from = 0;
    return textSets.map((set) => {
      const mine = perAdapter.map((p) => p.slice(from, from + set.length));
      from += set.length;
      return mine;
    });
  }

  private template(layout: SlotLayout, adapters: readonly LoadedAdapter[]): SlotTemplate {
    const key = `${layout}:${adapters.map(signatureOf).join('\n')}`;
    const hit = this.cache.get(key);
    this.options.onGraph?.(hit !== undefined);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit); // most recently used last
      return hit;
    }
    const template = new SlotTemplate(this.options, layout, adapters);
    this.cache.set(key, template);
    const limit = this.options.graphCacheSize ?? 64;
    while (this.cache.size > limit) this.cache.delete(this.cache.keys().next().value as string);
    return template;
  }

  private forward(template: SlotTemplate, adapters: readonly LoadedAdapter[], sizes: readonly number[], texts: readonly string[], slices: ReadonlyArray<{ adapter: LoadedAdapter; output: string; begin: number; rows: number }>, skipLayers = 0, parallelRows?: number): Prediction[][] {
    const examples = texts.map((text): TrainExample => {
      const enc = this.options.tokenizer.encode(text, undefined, { maxLength: this.options.maxLength });
      return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label: 0 };
    });
    const batch = makeBatch(examples, this.options.tokenizer.padId);
    try {
      const outputs = slices.map((s) => s.output);
      const probs = tf.tidy(() => {
        const out = template.run(adapters, sizes, batch.feeds as Record<string, tf.Tensor>, { outputs, ...(skipLayers > 0 ? { skipLayers } : {}) });
        return slices.map((s, i) => {
          const logits = out[outputs[i]!]!;
          // Every Parallel splice bypassed (sharedLayers): the heads read the batch once, not n copies.
          const begin = parallelRows !== undefined && logits.shape[0] === parallelRows ? s.begin % parallelRows : s.begin;
          return tf.softmax(tf.slice(logits, [begin, 0], [s.rows, -1])).arraySync() as number[][];
        });
      });
      return probs.map((rows, i) => rows.map((p) => toPrediction(p, slices[i]!.adapter.labels)));
    } finally {
      disposeBatch(batch);
    }
  }
}

/** Indices of `adapters` sorted by signature (stable). */
function bySignature(adapters: readonly LoadedAdapter[]): number[] {
  const sigs = adapters.map(signatureOf);
  return sigs.map((_s, i) => i).sort((a, b) => (sigs[a]! < sigs[b]! ? -1 : sigs[a]! > sigs[b]! ? 1 : a - b));
}

function toPrediction(p: readonly number[], labels: readonly string[]): Prediction {
  const best = p.reduce((b, v, j) => (v > (p[b] ?? -Infinity) ? j : b), 0);
  return { label: labels[best] ?? String(best), score: p[best] ?? 0, scores: Object.fromEntries(labels.map((l, j) => [l, p[j] ?? 0])) };
}

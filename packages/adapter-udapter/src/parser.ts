// UDapter end to end: a base encoder with the `udapter` adapter in every layer, a biaffine head on each word's
// first subword, training over several treebanks at once (mixed batches) and evaluation with Eisner decoding.
import * as tf from '@tensorflow/tfjs';
import type { Graph, WeightStore } from '@adapters/core-graph';
import { adapter, applyPlacements, ConfigError, createRegistry, Executor } from '@adapters/core-graph';
import type { BiaffineSizes, BiaffineWeights } from './biaffine';
import { biaffineForward, gatherRows, initBiaffine, parserLoss } from './biaffine';
import type { UdapterConfig } from './config';
import { UDAPTER_DEFAULTS } from './config';
import type { ParseBatch, ParseExample } from './data';
import { makeParseBatch } from './data';
import { attachmentScores, eisner } from './decode';
import type { AttachmentScores } from './decode';
import { languageConstants, udapter } from './plugin';

export const UDAPTER_NAME = 'udapter';

export interface ParserSpec {
  readonly config: UdapterConfig;
  readonly labels: readonly string[];
  readonly arc: number;
  readonly label: number;
  /** The tokenizer's padding id. */
  readonly padId: number;
}

/** Adds the adapter to a base graph (encoder without adapters). */
export function buildUdapterGraph(base: Graph, config: Partial<UdapterConfig> = {}): Graph {
  return applyPlacements(base, [{ adapter: adapter(udapter, UDAPTER_NAME, { ...config }) }], createRegistry([udapter])).graph;
}

export class UdapterParser {
  readonly executor: Executor;
  readonly head: BiaffineWeights;

  constructor(
    readonly graph: Graph,
    readonly store: WeightStore,
    readonly spec: ParserSpec,
    seed = 0,
  ) {
    const hidden = graph.node(graph.outputs['last_hidden_state'] ?? '').type.shape[2];
    if (typeof hidden !== 'number') throw new ConfigError('graph', 'last_hidden_state has no static width');
    const sizes: BiaffineSizes = { hidden, arc: spec.arc, label: spec.label, labels: spec.labels.length };
    store.sync(graph, seed);
    // Only the adapter (generator) trains; the encoder stays frozen.
    store.applyPolicy(graph, (p) => p.owner === `adapter:${UDAPTER_NAME}`);
    this.head = initBiaffine(sizes, seed);
    this.executor = new Executor(graph, store);
  }

  /** Keys of the adapter's parameters in the store: the language MLP and the generators (or the plain adapter). */
  adapterKeys(): string[] {
    return [...this.graph.params.values()].filter((p) => p.owner === `adapter:${UDAPTER_NAME}`).map((p) => p.key);
  }

  trainableVariables(): tf.Variable[] {
    return [...this.adapterKeys().map((k) => this.store.get(k)), ...Object.values(this.head)];
  }

  /** Scores for a batch (call inside tf.tidy or a gradient function). */
  forward(batch: ParseBatch, options: { training: boolean; heads?: tf.Tensor2D; seed?: number }): { arcs: tf.Tensor3D; labels: tf.Tensor3D } {
    const feeds: Record<string, tf.Tensor> = {
      input_ids: tf.tensor2d(batch.inputIds, undefined, 'int32'),
      attention_mask: tf.tensor2d(batch.attentionMask, undefined, 'float32'),
    };
    const constants = languageConstants(this.graph, batch.language);
    const common = { outputs: ['last_hidden_state'], ...(constants ? { constants } : {}) };
    const run = options.training ? this.executor.forward(feeds, { training: true, seed: options.seed ?? 0, ...common }) : this.executor.run(feeds, common);
    const hidden = run['last_hidden_state'] as tf.Tensor3D;
    const words = gatherRows(hidden, tf.tensor2d(batch.wordIndex, undefined, 'int32'));
    return biaffineForward(words, this.head, options.heads ?? tf.tensor2d(batch.heads, undefined, 'int32'));
  }

  loss(batch: ParseBatch, seed: number): tf.Scalar {
    const out = this.forward(batch, { training: true, seed });
    return parserLoss(out, tf.tensor2d(batch.heads, undefined, 'int32'), tf.tensor2d(batch.labelIds, undefined, 'int32'), tf.tensor2d(batch.wordMask), tf.tensor2d(batch.candidates));
  }

  /** Predicted heads (Eisner on the arc log-probabilities, float64) and labels (argmax on the predicted heads). */
  predict(examples: readonly ParseExample[], batchSize = 16): Array<{ heads: number[]; labels: string[] }> {
    const out: Array<{ heads: number[]; labels: string[] }> = [];
    for (let i = 0; i < examples.length; i += batchSize) {
      const chunk = examples.slice(i, i + batchSize);
      const batch = makeParseBatch(chunk, this.padId());
      const arcs = tf.tidy(() => tf.logSoftmax(this.forward(batch, { training: false }).arcs));
      const arcValues = arcs.arraySync();
      arcs.dispose();
      const heads = chunk.map((e, b) => {
        const n = e.wordStarts.length;
        const rows = (arcValues[b] as number[][]).slice(0, n).map((r) => r.slice(0, n));
        return eisner(rows);
      });
      const padded = heads.map((h) => [...h.map((x) => Math.max(0, x)), ...new Array<number>(batch.heads[0]!.length - h.length).fill(0)]);
      const lab = tf.tidy(() => tf.argMax(this.forward(batch, { training: false, heads: tf.tensor2d(padded, undefined, 'int32') }).labels, 2));
      const labValues = lab.arraySync() as number[][];
      lab.dispose();
      chunk.forEach((e, b) => {
        const labels = e.wordStarts.map((_v, d) => (d === 0 ? '' : (this.spec.labels[labValues[b]![d]!] ?? '')));
        out.push({ heads: heads[b]!, labels });
      });
    }
    return out;
  }

  evaluate(examples: readonly ParseExample[], batchSize = 16): AttachmentScores {
    const pred = this.predict(examples, batchSize);
    return attachmentScores(examples.map((e, i) => ({ gold: { heads: e.heads, labels: e.labelIds.map((l, d) => (d === 0 ? '' : (this.spec.labels[l] ?? ''))) }, pred: pred[i]! })));
  }

  padId(): number {
    return this.spec.padId;
  }

  dispose(): void {
    tf.dispose(Object.values(this.head));
  }
}

export interface TrainParserOptions {
  readonly steps: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly log?: (line: string) => void;
  /** Called every `every` steps (e.g. to checkpoint); default never. */
  readonly onCheckpoint?: (step: number) => Promise<void> | void;
  readonly every?: number;
  /** Steps already done (resume): the data order continues where it stopped. */
  readonly startStep?: number;
}

/** Seeded Fisher–Yates. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const a = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

/** Adam on the adapter (generator) and head; batches mix the treebanks (one shuffled pool, reshuffled each pass). */
export async function trainParser(parser: UdapterParser, examples: readonly ParseExample[], options: TrainParserOptions): Promise<number[]> {
  if (examples.length === 0) throw new ConfigError('treebank', 'no training sentences');
  const opt = tf.train.adam(options.learningRate);
  const vars = parser.trainableVariables();
  const losses: number[] = [];
  const perPass = Math.max(1, Math.floor(examples.length / options.batchSize));
  let order: ParseExample[] = [];
  let pass = -1;
  for (let step = options.startStep ?? 0; step < options.steps; step++) {
    const p = Math.floor(step / perPass);
    if (p !== pass) {
      pass = p;
      order = shuffled(examples, options.seed + 7919 * p);
    }
    const at = (step % perPass) * options.batchSize;
    const batch = makeParseBatch(order.slice(at, at + options.batchSize), parser.padId());
    const cost = opt.minimize(() => parser.loss(batch, options.seed * 100003 + step), true, vars);
    const value = (await cost!.data())[0] as number;
    cost!.dispose();
    losses.push(value);
    if (options.log && (step + 1) % 10 === 0) options.log(`step ${step + 1}/${options.steps} loss ${value.toFixed(4)}`);
    if (options.onCheckpoint && options.every !== undefined && (step + 1) % options.every === 0) await options.onCheckpoint(step + 1);
  }
  opt.dispose();
  return losses;
}

export { UDAPTER_DEFAULTS };

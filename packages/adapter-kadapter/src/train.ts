// A small trainer for knowledge adapters and their heads. core-graph has `train()`, but its public entry
// point does not export it yet (see the package README); this loop follows the same contract (examples,
// output name, policy) so switching to core-graph's trainer is a one-line change.
import * as tf from '@tensorflow/tfjs';
import type { Graph, ParamSpec, WeightStore } from '@adapters/core-graph';
import { ConfigError, decays, Executor, GraphBuilder } from '@adapters/core-graph';

/** One tokenised example (same shape as core-graph's TrainExample): a class id, or one id per token (-100 = ignored). */
export interface KTrainExample {
  readonly inputIds: readonly number[];
  readonly tokenTypeIds?: readonly number[];
  readonly label: number | readonly number[];
}

export const IGNORE_INDEX = -100;

/** The base is frozen: everything that is not the base model trains (adapters, combination, heads). */
export const frozenBasePolicy = (p: ParamSpec): boolean => p.owner !== 'base';

export interface KTrainOptions {
  readonly graph: Graph;
  readonly store: WeightStore;
  /** Graph output holding the logits, e.g. `factual_rc.logits`. */
  readonly output: string;
  readonly train: readonly KTrainExample[];
  readonly eval?: readonly KTrainExample[];
  /** Which parameters train (default: everything but the base). */
  readonly policy?: (p: ParamSpec) => boolean;
  readonly epochs?: number;
  readonly maxSteps?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  readonly warmupRatio?: number;
  readonly weightDecay?: number;
  readonly clipNorm?: number;
  readonly seed?: number;
  readonly padId?: number;
  /** Evaluate every N steps (and at the end) when `eval` is given; the best evaluation's weights are restored. */
  readonly evalEvery?: number;
  readonly onRecord?: (record: KTrainRecord) => void;
  /**
   * Compute the frozen part of the graph once per example and feed it as constants: the base runs once
   * instead of every step (exact for a frozen base without dropout; the base's own dropout is then off).
   */
  readonly cacheFrozen?: boolean;
}

export type KTrainRecord =
  | { readonly type: 'step'; readonly step: number; readonly totalSteps: number; readonly loss: number; readonly lr: number }
  | ({ readonly type: 'eval'; readonly step: number } & KEvalResult);

export interface KEvalResult {
  readonly loss: number;
  readonly accuracy: number;
  /** Labelled positions (examples, or tokens for per-token labels). */
  readonly count: number;
}

export interface KTrainResult {
  readonly steps: number;
  readonly trainableKeys: readonly string[];
  readonly final?: KEvalResult;
  readonly best?: { readonly step: number; readonly eval: KEvalResult };
  readonly history: readonly KTrainRecord[];
}

interface Batch {
  readonly feeds: Record<string, tf.Tensor>;
  readonly labels: tf.Tensor;
}

/** Pads to the longest example; the caller disposes. */
export function makeBatch(examples: readonly KTrainExample[], padId = 0): Batch {
  const seq = Math.max(...examples.map((e) => e.inputIds.length));
  const ids: number[][] = [];
  const types: number[][] = [];
  const mask: number[][] = [];
  const tokenLabels: number[][] = [];
  const classLabels: number[] = [];
  for (const e of examples) {
    const pad = seq - e.inputIds.length;
    ids.push([...e.inputIds, ...Array<number>(pad).fill(padId)]);
    types.push([...(e.tokenTypeIds ?? Array<number>(e.inputIds.length).fill(0)), ...Array<number>(pad).fill(0)]);
    mask.push([...Array<number>(e.inputIds.length).fill(1), ...Array<number>(pad).fill(0)]);
    if (typeof e.label === 'number') classLabels.push(e.label);
    else tokenLabels.push([...e.label, ...Array<number>(seq - e.label.length).fill(IGNORE_INDEX)]);
  }
  if (tokenLabels.length > 0 && classLabels.length > 0) throw new ConfigError('examples', 'mixes class labels and per-token labels');
  return {
    feeds: {
      input_ids: tf.tensor2d(ids, undefined, 'int32'),
      token_type_ids: tf.tensor2d(types, undefined, 'int32'),
      attention_mask: tf.tensor2d(mask, undefined, 'float32'),
    },
    labels: tokenLabels.length > 0 ? tf.tensor2d(tokenLabels, undefined, 'int32') : tf.tensor1d(classLabels, 'int32'),
  };
}

function disposeBatch(b: Batch): void {
  tf.dispose([...Object.values(b.feeds), b.labels]);
}

/** Mean softmax cross-entropy over labelled positions (labels -100 don't count). */
export function maskedCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.shape.length - 1] as number;
    const flat = tf.reshape(logits, [-1, classes]);
    const y = tf.reshape(labels, [-1]);
    const keep = tf.notEqual(y, IGNORE_INDEX);
    const valid = tf.cast(keep, 'float32');
    const safe = tf.where(keep, y, tf.zerosLike(y));
    const picked = tf.sum(tf.mul(tf.logSoftmax(flat), tf.oneHot(safe, classes)), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, valid))), tf.maximum(tf.sum(valid), 1)) as tf.Scalar;
  });
}


const probeName = (id: string): string => `__frozen__.${id}`;

/**
 * Values of the graph's frozen frontier (nodes that depend on no trainable parameter but feed one that does),
 * computed once per example; a batch gets them back as `constants`, so the frozen base never reruns.
 */
export class FrozenFeatureCache {
  /** Frontier node ids and whether their axis 1 is the sequence axis. */
  readonly nodes: readonly { readonly id: string; readonly seqAxis: boolean; readonly shape: readonly (number | string)[] }[];
  private readonly values = new Map<KTrainExample, Float32Array[]>();
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
  fill(store: WeightStore, examples: readonly KTrainExample[], options: { batchSize?: number; padId?: number } = {}): void {
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
  constants(examples: readonly KTrainExample[], seq: number): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    this.nodes.forEach((n, k) => {
      const inner = n.shape.slice(n.seqAxis ? 2 : 1).map((d) => d as number);
      const innerSize = inner.reduce((x, y) => x * y, 1);
      const rowSize = (n.seqAxis ? seq : 1) * innerSize;
      const buf = new Float32Array(examples.length * rowSize);
      examples.forEach((e, b) => {
        const v = this.values.get(e);
        if (!v) throw new Error('FrozenFeatureCache: example not cached (call fill first)');
        buf.set(v[k] as Float32Array, b * rowSize);
      });
      out.set(n.id, tf.tensor(buf, [examples.length, ...(n.seqAxis ? [seq] : []), ...inner]));
    });
    return out;
  }
}

/** Loss and accuracy of `output` over labelled examples, without dropout. */
export function evaluateKnowledge(
  graph: Graph, store: WeightStore, output: string, examples: readonly KTrainExample[], options: { batchSize?: number; padId?: number; cache?: FrozenFeatureCache } = {},
): KEvalResult {
  const executor = new Executor(graph, store);
  const batchSize = options.batchSize ?? 32;
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const slice = examples.slice(i, i + batchSize);
    const batch = makeBatch(slice, options.padId ?? 0);
    options.cache?.fill(store, slice, { padId: options.padId ?? 0 });
    const constants = options.cache?.constants(slice, batch.feeds['input_ids']?.shape[1] as number);
    const [loss, preds, golds] = tf.tidy(() => {
      const logits = executor.forward(batch.feeds, { outputs: [output], ...(constants ? { constants } : {}) })[output] as tf.Tensor;
      return [maskedCrossEntropy(logits, batch.labels).dataSync()[0] as number, tf.argMax(logits, -1).dataSync(), batch.labels.dataSync()];
    });
    if (constants) tf.dispose([...constants.values()]);
    lossSum += loss * slice.length;
    for (let j = 0; j < golds.length; j++) {
      if (golds[j] === IGNORE_INDEX) continue;
      count += 1;
      if (preds[j] === golds[j]) correct += 1;
    }
    disposeBatch(batch);
  }
  return { loss: lossSum / Math.max(1, examples.length), accuracy: count === 0 ? 0 : correct / count, count };
}

/** mulberry32: a small seeded PRNG for shuffling. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Trains the policy's parameters with AdamW (no decay on biases and LayerNorms), linear warm-up and decay,
 * and global-norm clipping. Seeded: the same seed, data and backend give the same weights.
 */
export function trainKnowledge(options: KTrainOptions): KTrainResult {
  const { graph, store, output } = options;
  if (!(output in graph.outputs)) throw new ConfigError('output', `graph has no output '${output}' (outputs: ${Object.keys(graph.outputs).join(', ')})`);
  if (options.train.length === 0) throw new ConfigError('train', 'no training examples');
  const batchSize = options.batchSize ?? 16;
  const stepsPerEpoch = Math.ceil(options.train.length / batchSize);
  const totalSteps = Math.min(options.maxSteps ?? Infinity, (options.epochs ?? 1) * stepsPerEpoch);
  const baseLr = options.learningRate ?? 1e-4;
  const warmup = Math.round((options.warmupRatio ?? 0.1) * totalSteps);
  const lrAt = (step: number): number => (step < warmup ? (baseLr * (step + 1)) / warmup : (baseLr * Math.max(0, totalSteps - step)) / Math.max(1, totalSteps - warmup));
  const trainableKeys = store.applyPolicy(graph, options.policy ?? frozenBasePolicy);
  if (trainableKeys.length === 0) throw new ConfigError('policy', 'no parameter is trainable under this policy');
  const vars = trainableKeys.map((k) => store.get(k));
  const keyOfVar = new Map(trainableKeys.map((k) => [store.get(k).name, k]));
  const decayed = new Set(trainableKeys.filter((k) => decays(graph.param(k))));
  const m = new Map<string, tf.Tensor>(trainableKeys.map((k) => [k, tf.zerosLike(store.get(k))]));
  const v = new Map<string, tf.Tensor>(trainableKeys.map((k) => [k, tf.zerosLike(store.get(k))]));
  const [beta1, beta2, eps, wd] = [0.9, 0.999, 1e-8, options.weightDecay ?? 0.01];
  const executor = new Executor(graph, store);
  const trainableSet = new Set(trainableKeys);
  const cache = options.cacheFrozen ? new FrozenFeatureCache(graph, (k) => trainableSet.has(k), output) : undefined;
  cache?.fill(store, [...options.train, ...(options.eval ?? [])], { padId: options.padId ?? 0 });
  const rand = seededRandom(options.seed ?? 0);
  const history: KTrainRecord[] = [];
  const record = (r: KTrainRecord): void => {
    history.push(r);
    options.onRecord?.(r);
  };
  let best: KTrainResult['best'];
  let bestWeights: Map<string, Float32Array | Int32Array> | undefined;
  let final: KEvalResult | undefined;
  const runEval = (step: number): void => {
    if (!options.eval || options.eval.length === 0) return;
    const result = evaluateKnowledge(graph, store, output, options.eval, { batchSize: Math.max(32, batchSize), padId: options.padId ?? 0, ...(cache ? { cache } : {}) });
    record({ type: 'eval', step, ...result });
    final = result;
    if (!best || result.accuracy > best.eval.accuracy) {
      best = { step, eval: result };
      bestWeights = store.snapshot(trainableKeys);
    }
  };
  let step = 0;
  try {
    while (step < totalSteps) {
      const order = shuffled(options.train.map((_e, i) => i), rand);
      for (let i = 0; i < order.length && step < totalSteps; i += batchSize) {
        const examples = order.slice(i, i + batchSize).map((j) => options.train[j] as KTrainExample);
        const batch = makeBatch(examples, options.padId ?? 0);
        const constants = cache?.constants(examples, batch.feeds['input_ids']?.shape[1] as number);
        const stepSeed = Math.floor(rand() * 2147483646) + 1;
        const { value, grads } = tf.variableGrads(() => {
          const logits = executor.forward(batch.feeds, { outputs: [output], training: true, seed: stepSeed, ...(constants ? { constants } : {}) })[output] as tf.Tensor;
          return maskedCrossEntropy(logits, batch.labels);
        }, vars);
        const lr = lrAt(step);
        tf.tidy(() => {
          const byKey = new Map<string, tf.Tensor>();
          for (const [name, g] of Object.entries(grads)) {
            const key = keyOfVar.get(name);
            if (key !== undefined && g) byKey.set(key, g);
          }
          const clip = options.clipNorm ?? 1.0;
          let factor = 1;
          if (clip > 0 && Number.isFinite(clip)) {
            const norm = Math.sqrt([...byKey.values()].reduce((s, g) => s + (tf.sum(tf.square(g)).dataSync()[0] as number), 0));
            if (norm > clip) factor = clip / norm;
          }
          const t = step + 1;
          for (const [key, g0] of byKey) {
            const g = tf.mul(g0, factor);
            const mk = tf.add(tf.mul(m.get(key) as tf.Tensor, beta1), tf.mul(g, 1 - beta1));
            const vk = tf.add(tf.mul(v.get(key) as tf.Tensor, beta2), tf.mul(tf.square(g), 1 - beta2));
            (m.get(key) as tf.Tensor).dispose();
            (v.get(key) as tf.Tensor).dispose();
            m.set(key, tf.keep(mk));
            v.set(key, tf.keep(vk));
            const update = tf.div(tf.div(mk, 1 - beta1 ** t), tf.add(tf.sqrt(tf.div(vk, 1 - beta2 ** t)), eps));
            const param = store.get(key);
            const withDecay = decayed.has(key) ? tf.add(update, tf.mul(param, wd)) : update;
            param.assign(tf.sub(param, tf.mul(withDecay, lr)));
          }
        });
        const loss = value.dataSync()[0] as number;
        tf.dispose([value, ...Object.values(grads)]);
        disposeBatch(batch);
        if (constants) tf.dispose([...constants.values()]);
        step += 1;
        record({ type: 'step', step, totalSteps, loss, lr });
        if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${step}: loss is ${loss}; lower the learning rate`);
        if (options.evalEvery && step % options.evalEvery === 0 && step < totalSteps) runEval(step);
      }
    }
    runEval(step);
    if (bestWeights && best && best.step !== step) {
      for (const [key, values] of bestWeights) {
        const t = tf.tensor(values, store.get(key).shape, store.get(key).dtype);
        store.assign(key, t);
        t.dispose();
      }
    }
  } finally {
    tf.dispose([...m.values(), ...v.values()]);
  }
  return { steps: step, trainableKeys, ...(final ? { final } : {}), ...(best ? { best } : {}), history };
}

// The ops AdapterFusion needs beyond core-graph's vocabulary, registered through the public op registry:
//   fusionStack   N × [..., d]            → [..., N, d]   (the adapters' outputs along a new axis)
//   fusionExpand  [..., d]                → [..., 1, d]   (a residual broadcast against the stack)
//   fusionProbs   q [..., d], k [..., N, d] → [..., N]     softmax_n((q · k_n) / T), dropout on the scores
//   fusionMix     p [..., N], v [..., N, d] → [..., d]     Σ_n p_n · v_n
import * as tf from '@tensorflow/tfjs';
import type { Attrs, Dim, InferArgs, OpDef, TensorType } from '@adapters/core-graph';
import { applyDropout, defineOp, GraphError, opRegistry } from '@adapters/core-graph';
import { TEMPERATURE_START } from './config';

const show = (t: TensorType): string => `[${t.shape.join(', ')}]`;

function fail(args: InferArgs, problem: string): GraphError {
  const ins = args.inputIds.map((id, i) => `${id} ${args.inputs[i] ? show(args.inputs[i]) : '?'}`).join(', ');
  return new GraphError(`node '${args.nodeId}': ${problem} (inputs: ${ins || 'none'})`);
}

function inputAt(args: InferArgs, i: number): TensorType {
  const t = args.inputs[i];
  if (!t) throw fail(args, `missing input ${i}`);
  return t;
}

const sameShape = (a: readonly Dim[], b: readonly Dim[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

function floatInput(args: InferArgs, i: number, minRank: number): TensorType {
  const t = inputAt(args, i);
  if (t.dtype !== 'float32') throw fail(args, `input ${i} must be float32, got ${t.dtype}`);
  if (t.shape.length < minRank) throw fail(args, `input ${i} must have rank >= ${minRank}, got ${show(t)}`);
  return t;
}

/** Stacks N same-shaped inputs [..., d] into [..., N, d] (a new axis just before the features). */
export const fusionStackOp: OpDef = defineOp({
  name: 'fusionStack',
  arity: [1, 64],
  inferType(args) {
    const first = floatInput(args, 0, 1);
    for (let i = 1; i < args.inputs.length; i++) {
      const t = floatInput(args, i, 1);
      if (!sameShape(t.shape, first.shape)) throw fail(args, `input ${i} has shape ${show(t)}, input 0 has ${show(first)}; fused outputs must agree`);
    }
    return { shape: [...first.shape.slice(0, -1), args.inputs.length, first.shape[first.shape.length - 1] as Dim], dtype: 'float32' };
  },
  run: (inputs) => tf.stack(inputs as tf.Tensor[], (inputs[0] as tf.Tensor).rank - 1),
});

/** [..., d] → [..., 1, d], to broadcast a residual over the stacked adapters. */
export const fusionExpandOp: OpDef = defineOp({
  name: 'fusionExpand',
  arity: 1,
  inferType(args) {
    const x = floatInput(args, 0, 1);
    return { shape: [...x.shape.slice(0, -1), 1, x.shape[x.shape.length - 1] as Dim], dtype: 'float32' };
  },
  run: ([x]) => tf.expandDims(x as tf.Tensor, (x as tf.Tensor).rank - 1),
});

/**
 * Current temperatures of fusions configured with `temperature: true`, by the key in the node's
 * `temperatureKey` attr (the fusion name). Unset keys start at AdapterHub's T = 50.
 */
const temperatures = new Map<string, number>();

export const fusionTemperature = {
  get: (key: string): number => temperatures.get(key) ?? TEMPERATURE_START,
  set(key: string, value: number): void {
    if (!(value > 0) || !Number.isFinite(value)) throw new GraphError(`fusion temperature for '${key}' must be a positive number, got ${value}`);
    temperatures.set(key, value);
  },
  reset(key: string): void {
    temperatures.delete(key);
  },
};

function temperatureOf(attrs: Attrs): number {
  const key = attrs['temperatureKey'];
  if (typeof key === 'string') return fusionTemperature.get(key);
  const t = attrs['temperature'];
  return typeof t === 'number' ? t : 1;
}

/**
 * Attention of one query over N adapter outputs: softmax over n of (q · k_n) / T, with dropout on the raw scores in
 * training runs (as AdapterHub's BertFusion). attrs: `dropout` (rate), `temperature` (fixed T, default 1) or
 * `temperatureKey` (read from `fusionTemperature`).
 */
export const fusionProbsOp: OpDef = defineOp({
  name: 'fusionProbs',
  arity: 2,
  inferType(args) {
    const q = floatInput(args, 0, 1);
    const k = floatInput(args, 1, 2);
    if (k.shape.length !== q.shape.length + 1) throw fail(args, `keys must have one axis (adapters) more than the query`);
    const lead = q.shape.slice(0, -1);
    if (!sameShape(k.shape.slice(0, lead.length), lead) || k.shape[k.shape.length - 1] !== q.shape[q.shape.length - 1]) {
      throw fail(args, `keys ${show(k)} do not match the query ${show(q)}: expected [${[...lead, 'N', q.shape[q.shape.length - 1]].join(', ')}]`);
    }
    const rate = args.attrs['dropout'] ?? 0;
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw fail(args, `dropout ${JSON.stringify(rate)} must be in [0, 1)`);
    const t = args.attrs['temperature'];
    if (t !== undefined && (typeof t !== 'number' || !(t > 0))) throw fail(args, `temperature ${JSON.stringify(t)} must be > 0`);
    return { shape: [...lead, k.shape[k.shape.length - 2] as Dim], dtype: 'float32' };
  },
  run([q, k], _p, attrs, ctx) {
    const query = q as tf.Tensor;
    let scores = tf.sum(tf.mul(tf.expandDims(query, query.rank - 1), k as tf.Tensor), -1);
    const rate = (attrs['dropout'] as number | undefined) ?? 0;
    if (ctx.training && rate > 0) scores = applyDropout(scores, rate, ctx.nextSeed());
    const t = temperatureOf(attrs);
    return tf.softmax(t === 1 ? scores : tf.div(scores, tf.scalar(t)), -1);
  },
});

/** Σ_n p_n · v_n: probabilities [..., N] and values [..., N, d] → [..., d]. */
export const fusionMixOp: OpDef = defineOp({
  name: 'fusionMix',
  arity: 2,
  inferType(args) {
    const p = floatInput(args, 0, 1);
    const v = floatInput(args, 1, 2);
    if (v.shape.length !== p.shape.length + 1 || !sameShape(v.shape.slice(0, -1), p.shape)) {
      throw fail(args, `values ${show(v)} do not match the weights ${show(p)}: expected [${[...p.shape, 'd'].join(', ')}]`);
    }
    return { shape: [...p.shape.slice(0, -1), v.shape[v.shape.length - 1] as Dim], dtype: 'float32' };
  },
  run([p, v]) {
    const probs = p as tf.Tensor;
    return tf.sum(tf.mul(tf.expandDims(probs, probs.rank), v as tf.Tensor), -2);
  },
});

export const FUSION_OPS: readonly OpDef[] = [fusionStackOp, fusionExpandOp, fusionProbsOp, fusionMixOp];

/** Registers the fusion ops (idempotent: registering the same definitions again is a no-op). */
export function registerFusionOps(): void {
  for (const op of FUSION_OPS) opRegistry.register(op);
}

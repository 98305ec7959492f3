// The ops AdapterFusion needs beyond core-graph's vocabulary, registered through the public op registry:
//   fusionStack   N × [..., d]            → [..., N, d]   (the adapters' outputs along a new axis)
//   fusionExpand  [..., d]                → [..., 1, d]   (a residual broadcast against the stack)
//   fusionProbs   q [..., d], k [..., N, d] → [..., N]     softmax_n((q · k_n) / T), dropout on the scores
//   fusionMix     p [..., N], v [..., N, d] → [..., d]     Σ_n p_n · v_n
//   fusionKeyScores q [..., d], z [..., N, d], params W [d, d], b [d] → [..., N]   q · (z_n W + b), computed as
//                 (q Wᵀ) · z_n + q · b: one [.., d]·[d, d] product instead of N (the key projection folded into the query)
//   fusionSoftmax s [..., N] → [..., N]   softmax_n(s / T), dropout on the scores
import * as tf from '@tensorflow/tfjs';
import type { Attrs, Dim, InferArgs, OpDef, TensorType } from '@adapters/core-graph';
import { applyDropout, defineOp, GraphError, opRegistry } from '@adapters/core-graph';

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

/** Checks the optional `temperature` parameter (a scalar: the fusion's current T, see plugin.ts). */
function checkTemperatureParam(args: InferArgs): void {
  const t = args.params['temperature'];
  if (t && t.shape.length !== 0) throw fail(args, `temperature parameter must be a scalar, got ${show(t as TensorType)}`);
}

/** softmax_n(scores / T): T from the `temperature` parameter when the node has one, else the fixed attr (default 1). */
function temperedSoftmax(scores: tf.Tensor, params: Readonly<Record<string, tf.Tensor | undefined>>, attrs: Attrs): tf.Tensor {
  const param = params['temperature'];
  if (param) return tf.softmax(tf.div(scores, param), -1);
  const t = typeof attrs['temperature'] === 'number' ? attrs['temperature'] : 1;
  return tf.softmax(t === 1 ? scores : tf.div(scores, tf.scalar(t)), -1);
}

/**
 * Attention of one query over N adapter outputs: softmax over n of (q · k_n) / T, with dropout on the raw scores in
 * training runs (as AdapterHub's BertFusion). attrs: `dropout` (rate), `temperature` (fixed T, default 1); an
 * optional scalar parameter `temperature` (a fusion's annealed T, in the weight store) takes precedence.
 */
export const fusionProbsOp: OpDef = defineOp({
  name: 'fusionProbs',
  arity: 2,
  optionalParams: ['temperature'],
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
    checkTemperatureParam(args);
    return { shape: [...lead, k.shape[k.shape.length - 2] as Dim], dtype: 'float32' };
  },
  run([q, k], p, attrs, ctx) {
    const query = q as tf.Tensor;
    let scores = tf.sum(tf.mul(tf.expandDims(query, query.rank - 1), k as tf.Tensor), -1);
    const rate = (attrs['dropout'] as number | undefined) ?? 0;
    if (ctx.training && rate > 0) scores = applyDropout(scores, rate, ctx.nextSeed());
    return temperedSoftmax(scores, p, attrs);
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

/**
 * Scores of one query against N adapter outputs through the key projection, without projecting the N outputs:
 * q · (z_n W + b) = (q Wᵀ) · z_n + q · b. Exact in real arithmetic; AdapterHub projects every z_n (N times the
 * matmul work and an [..., N, d] activation kept for the backward pass).
 */
export const fusionKeyScoresOp: OpDef = defineOp({
  name: 'fusionKeyScores',
  arity: 2,
  params: ['weight', 'bias'],
  inferType(args) {
    const q = floatInput(args, 0, 1);
    const z = floatInput(args, 1, 2);
    const d = q.shape[q.shape.length - 1] as Dim;
    const lead = q.shape.slice(0, -1);
    if (z.shape.length !== q.shape.length + 1 || !sameShape(z.shape.slice(0, lead.length), lead) || z.shape[z.shape.length - 1] !== d) {
      throw fail(args, `adapter outputs ${show(z)} do not match the query ${show(q)}: expected [${[...lead, 'N', d].join(', ')}]`);
    }
    const w = args.params['weight'];
    const b = args.params['bias'];
    if (!w || w.shape.length !== 2 || w.shape[0] !== d || w.shape[1] !== d) throw fail(args, `key weight must be [${d}, ${d}], got ${w ? show(w as TensorType) : 'none'}`);
    if (!b || b.shape.length !== 1 || b.shape[0] !== d) throw fail(args, `key bias must be [${d}], got ${b ? show(b as TensorType) : 'none'}`);
    return { shape: [...lead, z.shape[z.shape.length - 2] as Dim], dtype: 'float32' };
  },
  run([q, z], p) {
    const query = q as tf.Tensor;
    const d = query.shape[query.rank - 1] as number;
    const w = p['weight'] as tf.Tensor2D;
    // [rows, d]·[d, d]ᵀ on a 2-D view (tfjs's 3-D × 2-D matmul gradient is broken).
    const folded = tf.reshape(tf.matMul(tf.reshape(query, [-1, d]) as tf.Tensor2D, w, false, true), query.shape);
    const scores = tf.sum(tf.mul(tf.expandDims(folded, query.rank - 1), z as tf.Tensor), -1);
    return tf.add(scores, tf.sum(tf.mul(query, p['bias'] as tf.Tensor), -1, true));
  },
});

/** softmax_n(s / T) over precomputed scores, with dropout on the scores in training runs (see fusionProbs). */
export const fusionSoftmaxOp: OpDef = defineOp({
  name: 'fusionSoftmax',
  arity: 1,
  optionalParams: ['temperature'],
  inferType(args) {
    const s = floatInput(args, 0, 1);
    const rate = args.attrs['dropout'] ?? 0;
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw fail(args, `dropout ${JSON.stringify(rate)} must be in [0, 1)`);
    checkTemperatureParam(args);
    return s;
  },
  run([s], p, attrs, ctx) {
    let scores = s as tf.Tensor;
    const rate = (attrs['dropout'] as number | undefined) ?? 0;
    if (ctx.training && rate > 0) scores = applyDropout(scores, rate, ctx.nextSeed());
    return temperedSoftmax(scores, p, attrs);
  },
});

export const FUSION_OPS: readonly OpDef[] = [fusionStackOp, fusionExpandOp, fusionProbsOp, fusionMixOp, fusionKeyScoresOp, fusionSoftmaxOp];

/** Registers the fusion ops (idempotent: registering the same definitions again is a no-op). */
export function registerFusionOps(): void {
  for (const op of FUSION_OPS) opRegistry.register(op);
}

// The generated bottleneck as one op: per example b, with e_b its language embedding,
//   W_down = reshape(e_b·P_down, [d, m]), b_down = e_b·P_down_bias, W_up = reshape(e_b·P_up, [m, d]), b_up = e_b·P_up_bias
//   y = h + relu(h·W_down + b_down)·W_up + b_up
// Per-example weights let one batch mix languages. Batched 3D×3D matMul only (tfjs' 3D×2D gradient is broken).
import * as tf from '@tensorflow/tfjs';
import type { InferArgs, OpDef } from '@adapters/core-graph';
import { defineOp, GraphError } from '@adapters/core-graph';

export const CPG_BOTTLENECK_OP = 'cpgBottleneck';

function fail(args: InferArgs, problem: string): GraphError {
  return new GraphError(`node '${args.nodeId}' (${CPG_BOTTLENECK_OP}): ${problem}`);
}

/** The generated weights of each example: down [B, d, m], downBias [B, m], up [B, m, d], upBias [B, d]. */
export function generateWeights(e: tf.Tensor2D, p: Readonly<Record<string, tf.Tensor>>, d: number, m: number): { down: tf.Tensor3D; downBias: tf.Tensor2D; up: tf.Tensor3D; upBias: tf.Tensor2D } {
  const b = e.shape[0];
  const lin = (key: string): tf.Tensor2D => tf.matMul(e, p[key] as tf.Tensor2D);
  return {
    down: tf.reshape(lin('down'), [b, d, m]),
    downBias: lin('down_bias'),
    up: tf.reshape(lin('up'), [b, m, d]),
    upBias: lin('up_bias'),
  };
}

export function cpgBottleneckForward(h: tf.Tensor3D, e: tf.Tensor2D, p: Readonly<Record<string, tf.Tensor>>): tf.Tensor3D {
  const d = h.shape[2];
  const m = (p['down_bias'] as tf.Tensor).shape[1] as number;
  const w = generateWeights(e, p, d, m);
  const a = tf.relu(tf.add(tf.matMul(h, w.down), tf.expandDims(w.downBias, 1)));
  return tf.add(h, tf.add(tf.matMul(a, w.up), tf.expandDims(w.upBias, 1)));
}

export const cpgBottleneckOp: OpDef = defineOp({
  name: CPG_BOTTLENECK_OP,
  arity: 2,
  params: ['down', 'down_bias', 'up', 'up_bias'],
  pure: true,
  inferType(args) {
    const [h, e] = args.inputs;
    if (!h || !e || h.shape.length !== 3 || e.shape.length !== 2) throw fail(args, 'needs hidden states [batch, seq, d] and language embeddings [batch, k]');
    const d = h.shape[2];
    const k = e.shape[1];
    const db = args.params['down_bias'];
    const m = db?.shape[1];
    if (typeof d !== 'number' || typeof k !== 'number' || typeof m !== 'number') throw fail(args, 'd, k and m must be known');
    const want: Record<string, number[]> = { down: [k, d * m], down_bias: [k, m], up: [k, m * d], up_bias: [k, d] };
    for (const [name, shape] of Object.entries(want)) {
      const got = args.params[name]?.shape;
      if (got === undefined || got.join() !== shape.join()) throw fail(args, `param ${name} must be [${shape.join(', ')}], got [${got?.join(', ') ?? ''}]`);
    }
    return { shape: [...h.shape], dtype: 'float32' };
  },
  run([h, e], p) {
    return cpgBottleneckForward(h as tf.Tensor3D, e as tf.Tensor2D, p);
  },
});

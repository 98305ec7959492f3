// The `phm` op: a parameterized hypercomplex multiplication layer (Zhang et al. 2021; Karimi Mahabadi et al. 2021),
//   H = Σ_{i=1..n} A_i ⊗ B_i   (A_i: n × n rule matrices, B_i: k/n × d/n),   y = x·H + b,
// with AdapterHub's parameter layout: rule [n, n, n] (A_i = rule[i]) or its factors [n, n, 1]·[n, 1, n];
// W [n, k/n, d/n] (B_i = W[i]) or its factors W_left [n, k/n, r]·W_right [n, r, d/n]; bias [d].
//
// Two ways to compute x·H (attr `strategy`):
// - `kron` (default): build H [k, d] once per forward (one n²×n by n×(kd/n²) matMul and a transpose, n·k·d
//   multiply-adds independent of the batch), then one 2-D x·H, the product every backend optimises best, with one
//   simple gradient. AdapterHub computes the same H and x @ H, so rounding follows it closely.
// - `factors`: never forms H. With X = x viewed [rows, n, k/n]: U = X·S_i, V = A_iᵀ·U, y = Σ_i V·T_i — per row
//   n·r·(k + n² + d) multiply-adds instead of k·d, at the cost of three small matMuls and two transposes of the activations.
import * as tf from '@tensorflow/tfjs';
import type { InferArgs, ParamSpec } from '@adapters/core-graph';
import { defineOp, GraphError, opRegistry } from '@adapters/core-graph';

export const PHM_OP = 'phm';

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

function fail(args: InferArgs, problem: string): GraphError {
  return new GraphError(`node '${args.nodeId}': ${problem}`);
}

/** The sizes a phm node's parameters imply: n, k/n, d/n and the rank (undefined for a full W). */
export interface PhmShapes {
  readonly n: number;
  readonly a: number;
  readonly b: number;
  readonly rank: number | undefined;
}

function phmShapes(args: InferArgs): PhmShapes {
  const p = args.params;
  const rule = p['phm_rule'];
  const left = p['phm_rule_left'];
  const right = p['phm_rule_right'];
  let n: number;
  if (rule) {
    if (left || right) throw fail(args, `give phm_rule or phm_rule_left/phm_rule_right, not both`);
    const [n0, n1, n2] = rule.shape;
    if (rule.shape.length !== 3 || n0 !== n1 || n1 !== n2) throw fail(args, `phm_rule must be [n, n, n], got ${shapeText(rule.shape)}`);
    n = n0 as number;
  } else {
    if (!left || !right) throw fail(args, `needs phm_rule, or both phm_rule_left and phm_rule_right`);
    n = left.shape[0] as number;
    if (left.shape.join() !== [n, n, 1].join() || right.shape.join() !== [n, 1, n].join()) {
      throw fail(args, `phm_rule_left must be [n, n, 1] and phm_rule_right [n, 1, n], got ${shapeText(left.shape)} and ${shapeText(right.shape)}`);
    }
  }
  const w = p['W'];
  const wl = p['W_left'];
  const wr = p['W_right'];
  const check = (spec: ParamSpec, name: string): readonly number[] => {
    if (spec.shape.length !== 3 || spec.shape[0] !== n) throw fail(args, `${name} must be [n = ${n}, ·, ·], got ${shapeText(spec.shape)}`);
    return spec.shape;
  };
  if (w) {
    if (wl || wr) throw fail(args, `give W or W_left/W_right, not both`);
    const [, a, b] = check(w, 'W');
    return { n, a: a as number, b: b as number, rank: undefined };
  }
  if (!wl || !wr) throw fail(args, `needs W, or both W_left and W_right`);
  const [, a, r] = check(wl, 'W_left');
  const [, r2, b] = check(wr, 'W_right');
  if (r !== r2) throw fail(args, `W_left ${shapeText(wl.shape)} and W_right ${shapeText(wr.shape)} disagree on the rank`);
  return { n, a: a as number, b: b as number, rank: r as number };
}

/** The rule matrices [n, n, n] (A_i = rule[i]). */
function ruleOf(p: Readonly<Record<string, tf.Tensor>>): tf.Tensor3D {
  const rule = p['phm_rule'];
  if (rule) return rule as tf.Tensor3D;
  return tf.matMul(p['phm_rule_left'] as tf.Tensor3D, p['phm_rule_right'] as tf.Tensor3D);
}

/** B_i stacked [n, k/n, d/n]. */
function wOf(p: Readonly<Record<string, tf.Tensor>>): tf.Tensor3D {
  const w = p['W'];
  if (w) return w as tf.Tensor3D;
  return tf.matMul(p['W_left'] as tf.Tensor3D, p['W_right'] as tf.Tensor3D);
}

/** H = Σ_i A_i ⊗ B_i, [n·a, n·b], from rule [n, n, n] and W [n, a, b]: H[(α,p),(β,q)] = Σ_i A_i[α,β]·B_i[p,q]. */
export function kroneckerSum(rule: tf.Tensor3D, w: tf.Tensor3D): tf.Tensor2D {
  const [n] = rule.shape;
  const [, a, b] = w.shape;
  return tf.tidy(() => {
    // [(α,β), (p,q)] = rule_flatᵀ · W_flat, contracting over i.
    const c = tf.matMul(tf.reshape(rule, [n, n * n]), tf.reshape(w, [n, a * b]), true, false);
    return tf.reshape(tf.transpose(tf.reshape(c, [n, n, a, b]), [0, 2, 1, 3]), [n * a, n * b]) as tf.Tensor2D;
  });
}

/** x [rows, k] · H through the factors, without forming H. */
function productThroughFactors(x: tf.Tensor2D, rule: tf.Tensor3D, p: Readonly<Record<string, tf.Tensor>>): tf.Tensor2D {
  const rows = x.shape[0];
  const [n] = rule.shape;
  const k = x.shape[1];
  const a = k / n;
  const wl = p['W_left'] as tf.Tensor3D | undefined;
  const s = wl ?? (p['W'] as tf.Tensor3D); // [n, a, r] (r = b for a full W)
  const r = s.shape[2];
  // U[row, α, i, ρ] = Σ_p X[row, α, p]·S_i[p, ρ]
  const sFlat = tf.reshape(tf.transpose(s, [1, 0, 2]), [a, n * r]);
  const u = tf.reshape(tf.matMul(tf.reshape(x, [rows * n, a]), sFlat), [rows, n, n, r]);
  // V[i, β, (row, ρ)] = Σ_α A_i[α, β]·U[row, α, i, ρ]
  const uT = tf.reshape(tf.transpose(u, [2, 1, 0, 3]), [n, n, rows * r]);
  const v = tf.matMul(rule, uT, true, false);
  // V as [row, β, i, ρ]
  const vRows = tf.transpose(tf.reshape(v, [n, n, rows, r]), [2, 1, 0, 3]);
  if (wl) {
    const t = p['W_right'] as tf.Tensor3D; // [n, r, b]
    const b = t.shape[2];
    // y[row, β, q] = Σ_{i, ρ} V[row, β, i, ρ]·T_i[ρ, q]
    const y = tf.matMul(tf.reshape(vRows, [rows * n, n * r]), tf.reshape(t, [n * r, b]));
    return tf.reshape(y, [rows, n * b]);
  }
  // Full W: V already carries q; y[row, β, q] = Σ_i V[row, β, i, q]
  return tf.reshape(tf.sum(vRows, 2), [rows, n * r]);
}

/** y = x·(Σ_i A_i ⊗ B_i) + b on the last axis of x (any rank ≥ 2). */
export function phmForward(x: tf.Tensor, p: Readonly<Record<string, tf.Tensor>>, strategy: 'kron' | 'factors' = 'kron'): tf.Tensor {
  const k = x.shape[x.rank - 1] as number;
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, k]) as tf.Tensor2D);
  const rule = ruleOf(p);
  let y: tf.Tensor2D = strategy === 'factors' ? productThroughFactors(flat, rule, p) : tf.matMul(flat, kroneckerSum(rule, wOf(p)));
  const bias = p['b'];
  if (bias) y = tf.add(y, bias);
  const d = y.shape[1];
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), d]);
}

/**
 * `phm`: params `phm_rule` | `phm_rule_left` + `phm_rule_right`, `W` | `W_left` + `W_right`, optional `b`
 * (AdapterHub's PHMLayer names); attr `strategy`: `kron` (default) or `factors`.
 */
export const phmOp = defineOp({
  name: PHM_OP,
  arity: 1,
  optionalParams: ['phm_rule', 'phm_rule_left', 'phm_rule_right', 'W', 'W_left', 'W_right', 'b'],
  inferType(args) {
    const x = args.inputs[0];
    if (!x) throw fail(args, 'missing input');
    const { n, a, b } = phmShapes(args);
    const k = x.shape.at(-1);
    if (k !== n * a) throw fail(args, `input's last dim ${String(k)} is not n·(k/n) = ${n}·${a} (from the W shape)`);
    const bias = args.params['b'];
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== n * b)) throw fail(args, `b must be [${n * b}], got ${shapeText(bias.shape)}`);
    const strategy = args.attrs['strategy'];
    if (strategy !== undefined && strategy !== 'kron' && strategy !== 'factors') throw fail(args, `strategy must be 'kron' or 'factors', got ${JSON.stringify(strategy)}`);
    return { shape: [...x.shape.slice(0, -1), n * b], dtype: 'float32' };
  },
  run([x], p, attrs) {
    return phmForward(x as tf.Tensor, p, attrs['strategy'] === 'factors' ? 'factors' : 'kron');
  },
});

/**
 * Adds `phm` to the default runtime's op vocabulary (idempotent). Not needed by graphs the `compacter` plugin
 * builds (they carry the op; see `compacterPackage`): kept for code that builds PHM nodes by hand.
 */
export function registerPhmOp(): void {
  if (!opRegistry.has(PHM_OP)) opRegistry.register(phmOp);
}

// Plain-JS (float64) implementations of the fused-kernel contract in ops/fused.ts, registrable on any
// backend. Tests use them to check the fused code paths (gradients, the optimizer) without a native build,
// and engine packages can compare their kernels against them.
import * as tf from '@tensorflow/tfjs';
import { dropoutMaskValues } from '../ops/dropout-mask';
import { FUSED_KERNELS } from '../ops/fused';
import { refErf as erf } from './ref-erf';

type Backend = tf.KernelBackend;
const read = (b: Backend, t: tf.TensorInfo): Float32Array => b.readSync(t.dataId) as Float32Array;
const out = (b: Backend, shape: readonly number[], values: Float32Array): tf.TensorInfo => ({ dataId: b.write(values, [...shape], 'float32'), shape: [...shape], dtype: 'float32' });
const num = (attrs: tf.NamedAttrMap | undefined, name: string): number => Number(attrs?.[name]);

const cdf = (x: number) => 0.5 * (1 + erf(x * Math.SQRT1_2));
const pdf = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

const KERNELS: Record<string, (inputs: tf.NamedTensorInfoMap, b: Backend, attrs?: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[]> = {
  [FUSED_KERNELS.gelu]: ({ x }, b) => out(b, x!.shape, read(b, x!).map((v) => v * cdf(v))),
  [FUSED_KERNELS.geluGrad]: ({ dy, x }, b) => {
    const xv = read(b, x!);
    return out(b, x!.shape, read(b, dy!).map((d, i) => d * (cdf(xv[i]!) + xv[i]! * pdf(xv[i]!))));
  },
  [FUSED_KERNELS.softmaxGrad]: ({ dy, y }, b) => {
    const [dv, yv] = [read(b, dy!), read(b, y!)];
    const n = y!.shape[y!.shape.length - 1]!;
    const res = new Float32Array(yv.length);
    for (let r = 0; r < yv.length; r += n) {
      let s = 0;
      for (let j = r; j < r + n; j++) s += dv[j]! * yv[j]!;
      for (let j = r; j < r + n; j++) res[j] = yv[j]! * (dv[j]! - s);
    }
    return out(b, y!.shape, res);
  },
  [FUSED_KERNELS.layerNorm]: ({ x, gamma, beta }, b, attrs) => {
    const [xv, g, be] = [read(b, x!), read(b, gamma!), read(b, beta!)];
    const n = g.length;
    const rows = xv.length / n;
    const [y, mean, rstd] = [new Float32Array(xv.length), new Float32Array(rows), new Float32Array(rows)];
    for (let r = 0; r < rows; r++) {
      let mu = 0;
      for (let j = 0; j < n; j++) mu += xv[r * n + j]!;
      mu /= n;
      let vr = 0;
      for (let j = 0; j < n; j++) vr += (xv[r * n + j]! - mu) ** 2;
      const rs = 1 / Math.sqrt(vr / n + num(attrs, 'epsilon'));
      [mean[r], rstd[r]] = [mu, rs];
      for (let j = 0; j < n; j++) y[r * n + j] = (xv[r * n + j]! - mu) * rs * g[j]! + be[j]!;
    }
    return [out(b, x!.shape, y), out(b, [rows], mean), out(b, [rows], rstd)];
  },
  [FUSED_KERNELS.layerNormGrad]: ({ dy, x, gamma, mean, rstd }, b) => {
    const [dv, xv, g, mu, rs] = [read(b, dy!), read(b, x!), read(b, gamma!), read(b, mean!), read(b, rstd!)];
    const n = g.length;
    const rows = xv.length / n;
    const dx = new Float32Array(xv.length);
    const [dg, db] = [new Float64Array(n), new Float64Array(n)];
    for (let r = 0; r < rows; r++) {
      let [sg, sgx] = [0, 0];
      for (let j = 0; j < n; j++) {
        const i = r * n + j;
        const xhat = (xv[i]! - mu[r]!) * rs[r]!;
        sg += dv[i]! * g[j]!;
        sgx += dv[i]! * g[j]! * xhat;
        dg[j]! += dv[i]! * xhat;
        db[j]! += dv[i]!;
      }
      for (let j = 0; j < n; j++) {
        const i = r * n + j;
        const xhat = (xv[i]! - mu[r]!) * rs[r]!;
        dx[i] = rs[r]! * (dv[i]! * g[j]! - sg / n - xhat * (sgx / n));
      }
    }
    return [out(b, x!.shape, dx), out(b, [n], Float32Array.from(dg)), out(b, [n], Float32Array.from(db))];
  },
  [FUSED_KERNELS.dropoutMask]: (_inputs, b, attrs) => {
    const shape = attrs?.['shape'] as number[];
    return out(b, shape, dropoutMaskValues(shape.reduce((p, d) => p * d, 1), num(attrs, 'rate'), num(attrs, 'seed')));
  },
  [FUSED_KERNELS.scatterAddRows]: ({ dy, ids }, b, attrs) => {
    const [d, idv] = [read(b, dy!), b.readSync(ids!.dataId) as Int32Array];
    const [rows, width] = [num(attrs, 'rows'), num(attrs, 'width')];
    const res = new Float32Array(rows * width);
    for (let i = 0; i < idv.length; i++) for (let j = 0; j < width; j++) res[idv[i]! * width + j] = Math.fround(res[idv[i]! * width + j]! + d[i * width + j]!);
    return out(b, [rows, width], res);
  },
  [FUSED_KERNELS.addLayerNorm]: ({ a, b: bIn, c, gamma, beta }, b, attrs) => {
    const [av, bv] = [read(b, a!), read(b, bIn!)];
    const cv = c ? read(b, c) : undefined;
    // Float32 sums in the kernel's order, (a + b) + c.
    const summed = av.map((v, i) => (cv ? Math.fround(v + bv[i]!) + cv[i]! : v + bv[i]!));
    const sum = { dataId: b.write(summed, [...a!.shape], 'float32'), shape: a!.shape, dtype: 'float32' as const };
    const [y, mean, rstd] = KERNELS[FUSED_KERNELS.layerNorm]!({ x: sum, gamma, beta }, b, attrs) as tf.TensorInfo[];
    for (const t of [sum, mean!, rstd!]) b.disposeData(t.dataId);
    return y!;
  },
  [FUSED_KERNELS.bottleneck]: (ins, b, attrs) => bottleneckReference(ins, b, attrs),
  [FUSED_KERNELS.attention]: (ins, b, attrs) => attentionReference(ins, b, attrs),
  [FUSED_KERNELS.attentionTrain]: (ins, b, attrs) => attentionTrainReference(ins, b, attrs),
  [FUSED_KERNELS.attentionGrad]: (ins, b, attrs) => attentionGradReference(ins, b, attrs),
  [FUSED_KERNELS.adamW]: ({ param, grad, m, v }, b, attrs) => {
    const [p, g, mv, vv] = [read(b, param!), read(b, grad!), read(b, m!), read(b, v!)];
    const [lr, b1, b2, eps, wd, t] = ['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'step'].map((k) => num(attrs, k)) as [number, number, number, number, number, number];
    const [c1, c2] = [1 - b1 ** t, 1 - b2 ** t];
    const [p2, m2, v2] = [new Float32Array(p.length), new Float32Array(p.length), new Float32Array(p.length)];
    for (let i = 0; i < p.length; i++) {
      m2[i] = b1 * mv[i]! + (1 - b1) * g[i]!;
      v2[i] = b2 * vv[i]! + (1 - b2) * g[i]! * g[i]!;
      p2[i] = p[i]! * (1 - lr * wd) - lr * ((m2[i]! / c1) / (Math.sqrt(v2[i]! / c2) + eps));
    }
    return [out(b, param!.shape, p2), out(b, param!.shape, m2), out(b, param!.shape, v2)];
  },
};

const ACTIVATIONS: Readonly<Record<string, (v: number) => number>> = {
  identity: (v) => v,
  relu: (v) => Math.max(v, 0),
  swish: (v) => v / (1 + Math.exp(-v)),
  gelu: (v) => v * cdf(v),
};

/** LayerNorm of one row in float64 (biased variance). */
function normalizeRow(row: Float64Array, gamma: Float32Array, beta: Float32Array, eps: number): Float64Array {
  const n = row.length;
  const mu = row.reduce((s, v) => s + v, 0) / n;
  const rs = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / n + eps);
  return row.map((v, j) => (v - mu) * rs * gamma[j]! + beta[j]!);
}

/** AdaptersBottleneck in float64 throughout, row by row (see ops/fused.ts). */
function bottleneckReference(ins: tf.NamedTensorInfoMap, b: Backend, attrs?: tf.NamedAttrMap): tf.TensorInfo {
  const v = (name: string): Float32Array => read(b, ins[name]!);
  const [h, x, wd, bd, wu, bu, g, be] = ['h', 'x', 'wDown', 'bDown', 'wUp', 'bUp', 'gamma', 'beta'].map(v) as Float32Array[];
  const pre = ins['preGamma'] ? [v('preGamma'), v('preBeta')] as const : undefined;
  const act = ACTIVATIONS[String(attrs?.['activation'])];
  if (!act) throw new Error(`${FUSED_KERNELS.bottleneck}: unknown activation '${String(attrs?.['activation'])}'`);
  const w = g!.length;
  const m = bd!.length;
  const y = new Float32Array(h!.length);
  for (let r = 0; r < h!.length / w; r++) {
    const hr = Float64Array.from(h!.subarray(r * w, (r + 1) * w));
    const xr = x!.subarray(r * w, (r + 1) * w);
    const a = pre ? normalizeRow(hr.map((hv, j) => hv + xr[j]!), pre[0], pre[1], num(attrs, 'preEpsilon')) : hr;
    const d = new Float64Array(m).map((_z, k) => act(a.reduce((s, av, j) => s + av * wd![j * m + k]!, bd![k]!)));
    const sum = new Float64Array(w).map((_z, j) => (d.reduce((s, dv, k) => s + dv * wu![k * w + j]!, bu![j]!) * num(attrs, 'scale') + hr[j]!) + xr[j]!);
    y.set(normalizeRow(sum, g!, be!, num(attrs, 'epsilon')), r * w);
  }
  return out(b, ins['h']!.shape, y);
}

/** AdaptersAttention in float64 throughout, one (batch, head, query) row at a time (see ops/fused.ts). */
function attentionReference(ins: tf.NamedTensorInfoMap, b: Backend, attrs?: tf.NamedAttrMap): tf.TensorInfo {
  const [q, k, v] = ['q', 'k', 'v'].map((n) => read(b, ins[n]!)) as [Float32Array, Float32Array, Float32Array];
  const [batch, seq, hidden] = ins['q']!.shape as [number, number, number];
  const mask = ins['mask'] ? read(b, ins['mask']) : undefined;
  const pk = ins['prefixK'] ? read(b, ins['prefixK']) : new Float32Array(0);
  const pv = ins['prefixV'] ? read(b, ins['prefixV']) : new Float32Array(0);
  const [heads, scale] = [num(attrs, 'heads'), num(attrs, 'scale')];
  const dh = hidden / heads;
  const p = pk.length / hidden;
  const res = new Float32Array(q.length);
  // Key/value row j of batch bi: prefix rows first, then the sequence.
  const row = (pre: Float32Array, seqRows: Float32Array, bi: number, j: number): [Float32Array, number] =>
    j < p ? [pre, j * hidden] : [seqRows, (bi * seq + j - p) * hidden];
  for (let bi = 0; bi < batch; bi++) {
    for (let hd = 0; hd < heads; hd++) {
      for (let i = 0; i < seq; i++) {
        const qo = (bi * seq + i) * hidden + hd * dh;
        const scores = new Float64Array(p + seq).map((_z, j) => {
          const [kr, ko] = row(pk, k, bi, j);
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += q[qo + d]! * kr[ko + hd * dh + d]!;
          const bias = j < p || !mask ? 0 : (1 - mask[bi * seq + j - p]!) * -1e9;
          return dot * scale + bias;
        });
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const sum = e.reduce((s, x) => s + x, 0);
        for (let d = 0; d < dh; d++) {
          let acc = 0;
          for (let j = 0; j < p + seq; j++) {
            const [vr, vo] = row(pv, v, bi, j);
            acc += (e[j]! / sum) * vr[vo + hd * dh + d]!;
          }
          res[qo + d] = acc;
        }
      }
    }
  }
  return out(b, ins['q']!.shape, res);
}

/** Geometry and dropout mask (float64 values) of the training attention kernels. */
function trainingAttention(ins: tf.NamedTensorInfoMap, b: Backend, attrs?: tf.NamedAttrMap) {
  const [q, k, v] = ['q', 'k', 'v'].map((n) => read(b, ins[n]!)) as [Float32Array, Float32Array, Float32Array];
  const [batch, seq, hidden] = ins['q']!.shape as [number, number, number];
  const heads = num(attrs, 'heads');
  const rate = num(attrs, 'rate');
  const drop = rate > 0 ? dropoutMaskValues(batch * heads * seq * seq, rate, num(attrs, 'seed')) : undefined;
  return { q, k, v, batch, seq, hidden, heads, dh: hidden / heads, scale: num(attrs, 'scale'), keep: (i: number) => (drop ? drop[i]! : 1) };
}

/** AdaptersAttentionTrain in float64, one (batch, head, query) row at a time (see ops/fused.ts). */
function attentionTrainReference(ins: tf.NamedTensorInfoMap, b: Backend, attrs?: tf.NamedAttrMap): tf.TensorInfo[] {
  const { q, k, v, batch, seq, hidden, heads, dh, scale, keep } = trainingAttention(ins, b, attrs);
  const mask = read(b, ins['mask']!);
  const [ctx, probs] = [new Float32Array(q.length), new Float32Array(batch * heads * seq * seq)];
  for (let bi = 0; bi < batch; bi++) {
    for (let hd = 0; hd < heads; hd++) {
      for (let i = 0; i < seq; i++) {
        const qo = (bi * seq + i) * hidden + hd * dh;
        const scores = new Float64Array(seq).map((_z, j) => {
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += q[qo + d]! * k[(bi * seq + j) * hidden + hd * dh + d]!;
          return dot * scale + (1 - mask[bi * seq + j]!) * -1e9;
        });
        const mx = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - mx));
        const sum = e.reduce((x, y) => x + y, 0);
        const row = ((bi * heads + hd) * seq + i) * seq;
        for (let j = 0; j < seq; j++) probs[row + j] = e[j]! / sum;
        for (let d = 0; d < dh; d++) {
          let acc = 0;
          for (let j = 0; j < seq; j++) acc += (e[j]! / sum) * keep(row + j) * v[(bi * seq + j) * hidden + hd * dh + d]!;
          ctx[qo + d] = acc;
        }
      }
    }
  }
  return [out(b, ins['q']!.shape, ctx), out(b, [batch, heads, seq, seq], probs)];
}

/** AdaptersAttentionGrad in float64 from the given probabilities (see ops/fused.ts). */
function attentionGradReference(ins: tf.NamedTensorInfoMap, b: Backend, attrs?: tf.NamedAttrMap): tf.TensorInfo[] {
  const { q, k, v, batch, seq, hidden, heads, dh, scale, keep } = trainingAttention(ins, b, attrs);
  const [dy, probs] = [read(b, ins['dy']!), read(b, ins['probs']!)];
  const [dq, dk, dv] = [new Float64Array(q.length), new Float64Array(q.length), new Float64Array(q.length)];
  const at = (bi: number, j: number, hd: number, d: number) => (bi * seq + j) * hidden + hd * dh + d;
  for (let bi = 0; bi < batch; bi++) {
    for (let hd = 0; hd < heads; hd++) {
      for (let i = 0; i < seq; i++) {
        const row = ((bi * heads + hd) * seq + i) * seq;
        // dp_j = (dy_i · v_j)·m_ij: the gradient reaching the probability before dropout.
        const dp = new Float64Array(seq).map((_z, j) => {
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += dy[at(bi, i, hd, d)]! * v[at(bi, j, hd, d)]!;
          return dot * keep(row + j);
        });
        let rowdot = 0;
        for (let j = 0; j < seq; j++) rowdot += dp[j]! * probs[row + j]!;
        for (let j = 0; j < seq; j++) {
          const p = probs[row + j]!;
          const ds = scale * p * (dp[j]! - rowdot);
          for (let d = 0; d < dh; d++) {
            dv[at(bi, j, hd, d)]! += p * keep(row + j) * dy[at(bi, i, hd, d)]!;
            dq[at(bi, i, hd, d)]! += ds * k[at(bi, j, hd, d)]!;
            dk[at(bi, j, hd, d)]! += ds * q[at(bi, i, hd, d)]!;
          }
        }
      }
    }
  }
  return [dq, dk, dv].map((g) => out(b, ins['q']!.shape, Float32Array.from(g)));
}

/**
 * Registers the reference kernels on `backend` (default: the active one), under the names in FUSED_KERNELS
 * (or only `names`). Returns a function that unregisters them (safe to call twice).
 */
export function registerReferenceFusedKernels(backend = tf.getBackend(), names: readonly string[] = Object.keys(KERNELS)): () => void {
  const added: string[] = [];
  for (const name of names) {
    const impl = KERNELS[name];
    if (!impl || tf.getKernel(name, backend)) continue;
    tf.registerKernel({ kernelName: name, backendName: backend, kernelFunc: ({ inputs, backend: b, attrs }) => impl(inputs, b as Backend, attrs) });
    added.push(name);
  }
  return () => {
    for (const name of added.splice(0)) tf.unregisterKernel(name, backend);
  };
}

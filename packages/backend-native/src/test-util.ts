// Shared helpers for this package's tests (not exported from the package entry point).
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from './addon';
import { disableNativeKernels, enableNativeKernels } from './index';

/** Describe block that runs only when the addon is built; otherwise prints why once and skips. */
export function describeNative(name: string, body: () => void): void {
  const loaded = loadAddon();
  if (loaded.addon === undefined) {
    console.warn(`skipping "${name}": ${loaded.reason}`);
    describe.skip(name, body);
  } else {
    describe(name, body);
  }
}

/** Deterministic pseudo-random floats in [-1, 1) (xorshift32), so failures reproduce from the seed. */
export function randomArray(length: number, seed: number): Float32Array {
  let s = (seed | 0) || 0x9e3779b9;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export interface Reference {
  shape: number[];
  /** Exact-ish product in float64. */
  value: Float64Array;
  /** Σ_k |a_ik·b_kj| per output element: the magnitude the float32 rounding error scales with. */
  scale: Float64Array;
}

/** Float64 batched matmul with right-aligned, size-1-broadcasting batch dims (numpy semantics). */
export function referenceMatMul(
  a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], tA: boolean, tB: boolean,
): Reference {
  const ar = aShape.length;
  const br = bShape.length;
  const m = tA ? aShape[ar - 1]! : aShape[ar - 2]!;
  const k = tA ? aShape[ar - 2]! : aShape[ar - 1]!;
  const n = tB ? bShape[br - 2]! : bShape[br - 1]!;
  const aB = aShape.slice(0, -2);
  const bB = bShape.slice(0, -2);
  const rank = Math.max(aB.length, bB.length);
  const pa = [...new Array<number>(rank - aB.length).fill(1), ...aB];
  const pb = [...new Array<number>(rank - bB.length).fill(1), ...bB];
  const outB = pa.map((d, i) => Math.max(d, pb[i]!));
  const batch = outB.reduce((p, d) => p * d, 1);
  const value = new Float64Array(batch * m * n);
  const scale = new Float64Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    let rem = bi;
    let ai = 0;
    let bj = 0;
    let aMul = 1;
    let bMul = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rem % outB[d]!;
      rem = Math.floor(rem / outB[d]!);
      ai += (pa[d] === 1 ? 0 : c) * aMul;
      bj += (pb[d] === 1 ? 0 : c) * bMul;
      aMul *= pa[d]!;
      bMul *= pb[d]!;
    }
    const aBase = ai * m * k;
    const bBase = bj * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let sa = 0;
        for (let p = 0; p < k; p++) {
          const x = a[aBase + (tA ? p * m + i : i * k + p)]!;
          const y = b[bBase + (tB ? j * k + p : p * n + j)]!;
          s += x * y;
          sa += Math.abs(x * y);
        }
        value[(bi * m + i) * n + j] = s;
        scale[(bi * m + i) * n + j] = sa;
      }
    }
  }
  return { shape: [...outB, m, n], value, scale };
}

/**
 * Float32 matmul error budget. Both kernels round every product and partial sum to float32 (unit
 * roundoff u = 2^-24 ≈ 6e-8) but accumulate in different orders (OpenBLAS's blocked FMA micro-kernels vs
 * XNNPACK's), so each differs from the exact dot product by about u·√k·Σ|a·b| for random data (rounding
 * errors add like a random walk over k terms; the worst case is u·k·Σ|a·b|). 1e-5·√k·Σ|a·b| is ~170× that
 * typical error, so it never flakes, yet it is far below any indexing/transpose mistake (which is O(Σ|a·b|)).
 */
export function tolerance(scale: number, k: number): number {
  return 1e-5 * Math.sqrt(Math.max(k, 1)) * scale + 1e-30;
}

/** Index of the first element outside tolerance, or -1. */
export function firstMismatch(
  actual: ArrayLike<number>, expected: ArrayLike<number>, scale: ArrayLike<number>, k: number,
): number {
  if (actual.length !== expected.length) return 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= tolerance(scale[i]!, k))) return i;
  }
  return -1;
}

export function wasmBackend(): { heapBytes: () => number; numDataIds: () => number } {
  const be = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array }; numDataIds(): number };
  return { heapBytes: () => be.wasm.HEAPU8.length, numDataIds: () => be.numDataIds() };
}

/** Runs `f` with the native kernels enabled, or with the stock ones (to compare against). */
export function withKernels<T>(native: boolean, f: () => T): T {
  if (native) enableNativeKernels();
  else disableNativeKernels();
  return f();
}

/**
 * Runs f with the attention/bottleneck kernels' panels forced wide (v16) or narrow (v8), then back to the CPU's choice.
 * Through the addon, not ADAPTERS_ATTENTION_NARROW/WIDE: under Jest, process.env is a copy that never reaches getenv.
 */
export function withPanels<T>(width: 'wide' | 'narrow', f: () => T): T {
  const addon = loadAddon().addon!;
  addon.setPanelWidth(width === 'wide' ? 1 : 0);
  try {
    return f();
  } finally {
    addon.setPanelWidth(-1);
  }
}

import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { timeMedian } from './timing';

export interface MatmulRow {
  readonly shape: string;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly gflops: number;
  readonly numpyGflops?: number;
}

/** Transformer-shaped products: forward (x·W) and the two gradient products (dY·Wᵀ, Xᵀ·dY). */
export const MATMUL_SHAPES: readonly [number, number, number][] = [
  [2048, 384, 1536],
  [2048, 384, 384],
  [2048, 384, 24],
];

function tfjsGflops(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean, reps: number): number {
  const a = tf.randomNormal(transposeA ? [k, m] : [m, k]);
  const b = tf.randomNormal(transposeB ? [n, k] : [k, n]);
  // wasm kernels run synchronously, so the call's duration is the product's. (Returning dataSync()'s
  // typed array from tf.tidy would make tidy walk millions of elements: seconds, not the matmul.)
  const ms = timeMedian(() => tf.matMul(a, b, transposeA, transposeB).dispose(), repsFor(m, k, n, reps), 3);
  tf.dispose([a, b]);
  return (2 * m * k * n) / (ms * 1e6);
}

/**
 * Small products take well under a millisecond, where one scheduler hiccup moves the median: repeat
 * each product until the repetitions add up to about 4 GFLOP (at least `reps` times).
 */
const repsFor = (m: number, k: number, n: number, reps: number): number => Math.max(reps, Math.ceil(4e9 / (2 * m * k * n)));

/** numpy/OpenBLAS on the same machine in the same run: the practical limit to compare against. */
function numpyGflops(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean, reps: number): number | undefined {
  const code = [
    'import numpy as np, time',
    `a = np.random.rand(${transposeA ? `${k}, ${m}` : `${m}, ${k}`}).astype(np.float32)`,
    `b = np.random.rand(${transposeB ? `${n}, ${k}` : `${k}, ${n}`}).astype(np.float32)`,
    `f = lambda: (a.T if ${transposeA ? 'True' : 'False'} else a) @ (b.T if ${transposeB ? 'True' : 'False'} else b)`,
    'f(); f(); f(); ts = []',
    `for _ in range(${repsFor(m, k, n, reps)}):`,
    '    t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)',
    'ts.sort(); print(ts[len(ts) // 2])',
  ].join('\n');
  try {
    const s = Number(execFileSync('python3', ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return (2 * m * k * n) / (s * 1e9);
  } catch {
    return undefined;
  }
}

export function benchMatmul(reps: number): MatmulRow[] {
  const rows: MatmulRow[] = [];
  for (const [m, k, n] of MATMUL_SHAPES) {
    for (const [ta, tb, label] of [[false, false, `[${m}×${k}]·[${k}×${n}]`], [false, true, `[${m}×${n}]·[${k}×${n}]ᵀ (dX)`], [true, false, `[${m}×${k}]ᵀ·[${m}×${n}] (dW)`]] as const) {
      // Gradient shapes: dX = dY[m,n]·Wᵀ → (m, n, k); dW = Xᵀ[k,m]·dY → (k, m, n).
      const [mm, kk, nn] = label.endsWith('(dX)') ? [m, n, k] : label.endsWith('(dW)') ? [k, m, n] : [m, k, n];
      // Three alternating rounds, the best median of each side: one round of a sub-millisecond product moved
      // by 2× between back-to-back runs on this shared machine, for tfjs and numpy alike.
      let [tfjs, numpy]: [number, number | undefined] = [0, undefined];
      for (let round = 0; round < 3; round++) {
        tfjs = Math.max(tfjs, tfjsGflops(mm, kk, nn, ta, tb, reps));
        const np = numpyGflops(mm, kk, nn, ta, tb, reps);
        if (np !== undefined) numpy = Math.max(numpy ?? 0, np);
      }
      rows.push({ shape: label, transposeA: ta, transposeB: tb, gflops: tfjs, ...(numpy === undefined ? {} : { numpyGflops: numpy }) });
    }
  }
  return rows;
}

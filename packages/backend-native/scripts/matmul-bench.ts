// GFLOP/s of the transformer-sized products: stock tfjs-wasm vs the native OpenBLAS kernel vs numpy, all
// measured in this one run (so the ratios hold even on a loaded machine).
//
//   npm run bench -w @adapters/backend-native [-- --reps 7 --threads 2]
//
// For each weight [384×n] (n = 1536, 384, 24; activations X [2048×384]) it times the forward product
// X·W, and the two products of its gradient: dX = dY·Wᵀ (transposeB) and dW = Xᵀ·dY (transposeA).
// Each case runs `reps` times per kernel, interleaved stock/native, and reports the best (least disturbed) run.
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { disableNativeKernels, enableNativeKernels, nativeInfo } from '../src/index';

interface Case {
  name: string;
  a: [number, number];
  b: [number, number];
  tA: boolean;
  tB: boolean;
}

const ROWS = 2048;
const HIDDEN = 384;

function cases(): Case[] {
  const out: Case[] = [];
  for (const n of [1536, 384, 24]) {
    out.push({ name: `X·W        [${ROWS}×${HIDDEN}]·[${HIDDEN}×${n}]`, a: [ROWS, HIDDEN], b: [HIDDEN, n], tA: false, tB: false });
    out.push({ name: `dX = dY·Wᵀ [${ROWS}×${n}]·[${HIDDEN}×${n}]ᵀ`, a: [ROWS, n], b: [HIDDEN, n], tA: false, tB: true });
    out.push({ name: `dW = Xᵀ·dY [${ROWS}×${HIDDEN}]ᵀ·[${ROWS}×${n}]`, a: [ROWS, HIDDEN], b: [ROWS, n], tA: true, tB: false });
  }
  return out;
}

const flops = (c: Case): number => {
  const m = c.tA ? c.a[1] : c.a[0];
  const k = c.tA ? c.a[0] : c.a[1];
  const n = c.tB ? c.b[0] : c.b[1];
  return 2 * m * n * k;
};

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Seconds for one product (synchronous on wasm: the kernel has finished when matMul returns). */
function timeOnce(a: tf.Tensor2D, b: tf.Tensor2D, c: Case): number {
  const t0 = process.hrtime.bigint();
  const y = tf.matMul(a, b, c.tA, c.tB);
  const t1 = process.hrtime.bigint();
  y.dispose();
  return Number(t1 - t0) / 1e9;
}

function numpyGflops(reps: number, threads: number | undefined): Array<number | undefined> | string {
  const spec = JSON.stringify(cases().map((c) => [c.a, c.b, c.tA, c.tB]));
  const py = `
import json, sys, time
import numpy as np
out = []
rng = np.random.default_rng(0)
for a, b, ta, tb in json.loads(sys.argv[1]):
    A = rng.standard_normal(a, dtype=np.float32); B = rng.standard_normal(b, dtype=np.float32)
    f = lambda: (A.T if ta else A) @ (B.T if tb else B)
    f()
    best = min((lambda t0: (f(), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(int(sys.argv[2])))
    m = a[1] if ta else a[0]; k = a[0] if ta else a[1]; n = b[0] if tb else b[1]
    out.append(2 * m * n * k / best / 1e9)
cfg = ''
try:
    info = np.show_config(mode='dicts')['Build Dependencies']['blas']
    cfg = f"{info.get('name')} {info.get('version', '')}".strip()
except Exception:
    libs = getattr(np.__config__, 'blas_opt_info', {}).get('libraries', [])
    cfg = 'blas: ' + (','.join(libs) or 'see numpy.show_config()')
print(json.dumps({'gflops': out, 'numpy': np.__version__, 'blas': cfg}))
`;
  // $PYTHON, else the first of python3 / the system python3 (Debian's python3-numpy) that has numpy.
  const pythons = process.env['PYTHON'] ? [process.env['PYTHON']] : ['python3', '/usr/bin/python3'];
  // Same BLAS thread count as the native kernel, so the comparison is like for like.
  const env = threads === undefined ? process.env
    : { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  const runPy = (python: string) => spawnSync(python, ['-c', py, spec, String(reps)], { encoding: 'utf8', timeout: 600000, env });
  let r = runPy(pythons[0]!);
  for (const python of pythons.slice(1)) {
    if (r.status === 0) break;
    r = runPy(python);
  }
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || '').trim().split('\n').pop();
    return `numpy not measured (${why}); pip install numpy or apt-get install python3-numpy`;
  }
  const parsed = JSON.parse(r.stdout) as { gflops: number[]; numpy: string; blas: string };
  console.log(`numpy ${parsed.numpy} (${parsed.blas}), OPENBLAS_NUM_THREADS=${threads ?? 'unset'}`);
  return parsed.gflops;
}

async function main(): Promise<void> {
  const reps = arg('reps', 7);
  const threads = process.argv.includes('--threads') ? arg('threads', 1) : undefined;
  await tf.setBackend('wasm');
  await tf.ready();
  const status = enableNativeKernels(threads !== undefined ? { threads } : {});
  const info = nativeInfo();
  console.log(`tfjs ${tf.version_core} wasm (SIMD ${String(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'))}, 1 thread); ` +
    (status.enabled ? `native: OpenBLAS ${info!.corename}, ${info!.threads} thread(s)` : `native: off (${status.reason})`));
  disableNativeKernels();

  const rows: Array<{ name: string; stock: number; native?: number }> = [];
  for (const c of cases()) {
    const a = tf.randomNormal(c.a) as tf.Tensor2D;
    const b = tf.randomNormal(c.b) as tf.Tensor2D;
    let stock = Infinity;
    let native = Infinity;
    for (let i = 0; i <= reps; i++) {
      disableNativeKernels();
      const s = timeOnce(a, b, c);
      if (i > 0) stock = Math.min(stock, s); // i = 0 warms up (XNNPACK weight packing, OpenBLAS threads)
      if (status.enabled) {
        enableNativeKernels();
        const t = timeOnce(a, b, c);
        if (i > 0) native = Math.min(native, t);
      }
    }
    disableNativeKernels();
    tf.dispose([a, b]);
    rows.push({ name: c.name, stock: flops(c) / stock / 1e9, ...(status.enabled ? { native: flops(c) / native / 1e9 } : {}) });
  }

  const np = numpyGflops(reps, info?.threads);
  if (typeof np === 'string') console.log(np);
  const fmt = (x: number | undefined, w = 8) => (x === undefined ? '-' : x.toFixed(1)).padStart(w);
  const ratio = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? '-' : `${(x / y).toFixed(2)}×`).padStart(9);
  console.log(`\nGFLOP/s (best of ${reps})`.padEnd(44) + '   stock   native    numpy  nat/stock  nat/numpy');
  rows.forEach((r, i) => {
    const n = typeof np === 'string' ? undefined : np[i];
    console.log(`${r.name.padEnd(44)}${fmt(r.stock)} ${fmt(r.native)} ${fmt(n)}  ${ratio(r.native, r.stock)}  ${ratio(r.native, n)}`);
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

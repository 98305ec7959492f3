#!/usr/bin/env node
// Loads the addon (and with it OpenBLAS, under whatever OPENBLAS_CORETYPE the environment holds), checks sgemm
// against a float64 JS recomputation and times one product; prints one JSON line. Run in a child process by
// src/coretype.ts: a core type the CPU cannot run may crash or compute garbage, and OpenBLAS picks its kernels
// once per process, so each candidate gets a fresh process.
//
//   node scripts/blas-probe.js /path/to/backend_native.node
// Also required by tests (selfTest and the reference are exported).
'use strict';
const fs = require('fs');

/**
 * Shapes [m, n, k, transA, transB]: every transpose combination, odd sizes (kernel edge paths), and sizes past
 * OpenBLAS's register/cache blocking (k > 256, m > 128) so the packed paths run too.
 */
const SHAPES = [
  [17, 23, 31, false, false],
  [64, 48, 96, true, false],
  [33, 65, 129, false, true],
  [96, 80, 72, true, true],
  [160, 130, 300, false, false],
  [130, 200, 270, false, true],
  [300, 40, 257, true, false],
];

/** Deterministic values in [-1, 1) (32-bit LCG), so a failure reproduces. */
function fill(f32, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < f32.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f32[i] = s / 2147483648 - 1;
  }
}

/** C[i,j] = Σ_l op(A)[i,l]·op(B)[l,j] in float64, plus Σ|·| (the scale of the rounding error). */
function referenceGemm(a, b, m, n, k, transA, transB) {
  const c = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let abs = 0;
      for (let l = 0; l < k; l++) {
        const x = transA ? a[l * m + i] : a[i * k + l];
        const y = transB ? b[j * k + l] : b[l * n + j];
        s += x * y;
        abs += Math.abs(x * y);
      }
      c[i * n + j] = s;
      scale[i * n + j] = abs;
    }
  }
  return { c, scale };
}

/**
 * Runs each shape through addon.gemm on a private ArrayBuffer and compares with referenceGemm. Tolerance per
 * element: 1e-5·√k·Σ|a·b| — float32 rounding (u ≈ 6e-8) summed in any order grows like u·√k·Σ|a·b|, so this
 * leaves > 100× headroom, while a wrong kernel (bad indexing, a clobbered register) is off by O(Σ|a·b|).
 * Returns { ok, worst (largest error / tolerance), failure? }.
 */
function selfTest(addon, shapes = SHAPES) {
  let worst = 0;
  for (const [m, n, k, transA, transB] of shapes) {
    const heap = new ArrayBuffer(4 * (m * k + k * n + m * n));
    const a = new Float32Array(heap, 0, m * k);
    const b = new Float32Array(heap, 4 * m * k, k * n);
    const c = new Float32Array(heap, 4 * (m * k + k * n), m * n);
    fill(a, m * 7919 + k);
    fill(b, n * 104729 + k);
    c.fill(Number.NaN); // the product must overwrite every element
    addon.gemm(heap, 0, 4 * m * k, 4 * (m * k + k * n), 1, m, n, k, transA, transB, 0, 0);
    const ref = referenceGemm(a, b, m, n, k, transA, transB);
    for (let i = 0; i < m * n; i++) {
      const tol = 1e-5 * Math.sqrt(k) * ref.scale[i] + 1e-30;
      const ratio = Math.abs(c[i] - ref.c[i]) / tol;
      if (!(ratio <= 1)) {
        const shape = `[${m},${k}]${transA ? 'ᵀ' : ''}·[${k},${n}]${transB ? 'ᵀ' : ''}`;
        return { ok: false, worst: Number.isFinite(ratio) ? ratio : Infinity, failure: `${shape}: element ${i} is ${c[i]}, expected ${ref.c[i]}` };
      }
      if (ratio > worst) worst = ratio;
    }
  }
  return { ok: true, worst };
}

/** GFLOP/s of one [256,384]·[384,1536] product (an FFN slice at MiniLM width), best of 3 after a warm-up. */
function timeGemm(addon) {
  const m = 256, k = 384, n = 1536;
  const heap = new ArrayBuffer(4 * (m * k + k * n + m * n));
  fill(new Float32Array(heap, 0, m * k + k * n), 1);
  let best = Infinity;
  for (let r = 0; r < 4; r++) {
    const t = process.hrtime.bigint();
    addon.gemm(heap, 0, 4 * m * k, 4 * (m * k + k * n), 1, m, n, k, false, false, 0, 0);
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (r > 0 && s < best) best = s;
  }
  return (2 * m * n * k) / best / 1e9;
}

/**
 * The BLAS library in use, with what identifies its build on disk: the one loaded from ADAPTERS_BLAS_LIBRARY
 * when the addon says so, else the OpenBLAS mapped into this process (Linux).
 */
function blasLibrary(selected) {
  try {
    if (selected) {
      const st = fs.statSync(selected);
      return { path: selected, size: st.size, mtimeMs: st.mtimeMs };
    }
    const line = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => /openblas[^/]*\.(so|dylib)/i.test(l));
    if (line === undefined) return undefined;
    const file = line.slice(line.indexOf('/'));
    const st = fs.statSync(file);
    return { path: file, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

/**
 * GFLOP/s over one MiniLM-size training step's three kinds of product at 16 × 128 (forward [2048,384]·[384,1536],
 * input gradient [2048,1536]·[384,1536]ᵀ, weight gradient [2048,384]ᵀ·[2048,1536]) plus 24 attention-sized
 * [128,32]·[128,32]ᵀ products, best of 3 after a warm-up: what chooses between BLAS libraries.
 */
function timeStepShapes(addon) {
  const shapes = [[2048, 1536, 384, false, false, 1], [2048, 384, 1536, false, true, 1], [384, 1536, 2048, true, false, 1], [128, 128, 32, false, true, 24]];
  const most = Math.max(...shapes.map(([m, n, k, , , b]) => b * (m * k + k * n + m * n)));
  const heap = new ArrayBuffer(4 * most);
  fill(new Float32Array(heap), 3);
  let flops = 0;
  let best = Infinity;
  for (let r = 0; r < 4; r++) {
    const t = process.hrtime.bigint();
    for (const [m, n, k, ta, tb, b] of shapes) {
      addon.gemm(heap, 0, 4 * b * m * k, 4 * b * (m * k + k * n), b, m, n, k, ta, tb, 1, 1);
      if (r === 0) flops += 2 * b * m * n * k;
    }
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (r > 0 && s < best) best = s;
  }
  return flops / best / 1e9;
}

function main(addonFile) {
  const mod = { exports: {} };
  process.dlopen(mod, addonFile);
  const info = mod.exports.info();
  const test = selfTest(mod.exports);
  const gflops = test.ok ? timeGemm(mod.exports) : undefined;
  const stepGflops = test.ok && process.env.ADAPTERS_BLAS_PROBE_STEP === '1' ? timeStepShapes(mod.exports) : undefined;
  const result = {
    corename: info.corename, config: info.config.trim(), threads: info.threads, library: blasLibrary(info.library), selfTest: test, gflops, stepGflops,
    ...(info.libraryError ? { libraryError: info.libraryError } : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) main(process.argv[2]);

module.exports = { SHAPES, referenceGemm, selfTest, timeGemm };

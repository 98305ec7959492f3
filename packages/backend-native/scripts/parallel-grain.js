#!/usr/bin/env node
// Times the pooled element-wise kernels with 1 and 2 threads at sizes around their grain (native/backend_native.c:
// GRAIN_*), to check that a job just above one grain already gains from the second thread (so smaller work staying
// on the caller costs little) and to show the gain at training sizes.
//   node scripts/parallel-grain.js [addon path]     (build first: npm run build:native)
'use strict';
const path = require('path');
const file = process.argv[2] || path.join(__dirname, '..', 'build', 'Release', 'backend_native.node');
const m = { exports: {} };
process.dlopen(m, file);
const addon = m.exports;

const heap = new ArrayBuffer(64 << 20);
const f = new Float32Array(heap);
for (let i = 0; i < f.length; i++) f[i] = Math.sin(i) * 3;
const MB = 1 << 20;
const kernels = {
  gelu: { grain: 16384, run: (count) => addon.geluFwd(heap, 0, 16 * MB, count) },
  add: { grain: 65536, run: (count) => addon.binary32(heap, 0, 0, 0, 16 * MB, 0, 32 * MB, 1, count) },
  layerNorm: { grain: 32768, run: (count) => addon.layerNorm(heap, 0, 48 * MB, 48 * MB, 16 * MB, 32 * MB, 40 * MB, count / 384, 384, 1e-12) },
};

function time(run, count) {
  let reps = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) run(count);
    const dt = Number(process.hrtime.bigint() - t0) / 1e3;
    if (dt > 20000) return dt / reps;
    reps *= 2;
  }
}

for (const [name, k] of Object.entries(kernels)) {
  for (const mult of [0.5, 1, 2, 4, 16, 64]) {
    let count = Math.round(k.grain * mult);
    if (name === 'layerNorm') count = Math.max(384, Math.round(count / 384) * 384);
    const best = { 1: Infinity, 2: Infinity };
    for (let round = 0; round < 5; round++) {
      for (const t of [1, 2]) {
        addon.setNumThreads(t);
        best[t] = Math.min(best[t], time(k.run, count));
      }
    }
    console.log(`${name.padEnd(10)} ${String(count).padStart(8)} elems (${mult}× grain): 1 thread ${best[1].toFixed(1)} µs, ` +
      `2 threads ${best[2].toFixed(1)} µs, speedup ${(best[1] / best[2]).toFixed(2)}×`);
  }
}

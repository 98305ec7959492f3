#!/usr/bin/env node
// This CPU's float32 FMA peak (GFLOP/s), the ceiling a GEMM's GFLOP/s is measured against: compiles
// scripts/fma-peak.c with -march=native and runs it on 1 thread and on --threads (default: the online CPUs).
//
//   node scripts/fma-peak.js [--threads N]        (npm run peak -w @adapters/backend-native)
'use strict';
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
const at = args.indexOf('--threads');
const threads = at >= 0 ? Number(args[at + 1]) : os.availableParallelism?.() ?? os.cpus().length;
if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
  console.error('fma-peak: --threads must be an integer in [1, 64]');
  process.exit(2);
}
const exe = path.join(os.tmpdir(), `fma-peak-${process.pid}`);
const cc = spawnSync(process.env.CC || 'cc', ['-O3', '-march=native', '-ffp-contract=fast', '-pthread', path.join(__dirname, 'fma-peak.c'), '-o', exe], { encoding: 'utf8' });
if (cc.status !== 0) {
  console.error(`fma-peak: the compiler failed:\n${cc.stderr}`);
  process.exit(1);
}
const run = spawnSync(exe, [String(threads)], { encoding: 'utf8' });
require('fs').rmSync(exe, { force: true });
if (run.status !== 0) {
  console.error(`fma-peak: the measurement failed (${run.status}): ${run.stderr}`);
  process.exit(1);
}
const r = JSON.parse(run.stdout);
console.log(`float32 FMA peak: ${r.oneThread} GFLOP/s on 1 thread, ${r.allThreads} GFLOP/s on ${r.threads} (${os.cpus()[0]?.model ?? 'unknown CPU'})`);

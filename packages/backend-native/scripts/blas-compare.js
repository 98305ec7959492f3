#!/usr/bin/env node
// Which BLAS is fastest here, on our shapes: compiles scripts/blas-compare.c and runs it once per library per
// round, libraries interleaved (A/B/C, A/B/C, ...) so load from other jobs hits all of them alike; prints the
// median per shape and per variant, and the sums for one transformer layer's forward and forward + backward.
//
//   node scripts/blas-compare.js [--rounds 5] [--iters 5] [--threads 2] [--json out.json]
//        --lib 'name|/path/libx.so|symbolPrefix|ENV=V ENV=V' ...
// Without --lib: the system OpenBLAS (with OPENBLAS_CORETYPE as the addon loader would choose, if given in
// ADAPTERS_BENCH_CORETYPE) only. Nothing is downloaded here; see the package README for fetching the candidates.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const rounds = Number(opt('rounds', '5'));
const iters = Number(opt('iters', '5'));
const threads = Number(opt('threads', '2'));
const libs = [];
args.forEach((a, i) => {
  if (a !== '--lib') return;
  const [name, file, prefix, envText] = args[i + 1].split('|');
  const env = Object.fromEntries((envText || '').split(/\s+/).filter(Boolean).map((kv) => kv.split('=')));
  libs.push({ name, file, prefix: prefix || '-', env });
});
if (libs.length === 0) {
  const coretype = process.env.ADAPTERS_BENCH_CORETYPE;
  libs.push({ name: 'system OpenBLAS', file: 'libopenblas.so.0', prefix: '-', env: coretype ? { OPENBLAS_CORETYPE: coretype } : {} });
}

const exe = path.join(os.tmpdir(), `blas-compare-${process.pid}`);
const cc = spawnSync(process.env.CC || 'cc', ['-O2', '-std=c11', path.join(__dirname, 'blas-compare.c'), '-o', exe, '-ldl'], { encoding: 'utf8' });
if (cc.status !== 0) {
  console.error(cc.stderr);
  process.exit(1);
}

const threadEnv = { OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), BLIS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
/** times[lib][shape] = [ms per round] */
const times = libs.map(() => new Map());
const order = [];
for (let r = 0; r < rounds; r++) {
  libs.forEach((lib, li) => {
    const res = spawnSync(exe, [lib.file, lib.prefix, String(threads), String(iters)], {
      encoding: 'utf8', env: { ...process.env, ...threadEnv, ...lib.env }, timeout: 600000,
    });
    if (res.status !== 0) {
      console.error(`${lib.name}: ${res.error?.message ?? ''} ${res.stderr}`.trim());
      return;
    }
    if (r === 0) console.error(`${lib.name}: ${res.stderr.trim()}`);
    for (const line of res.stdout.trim().split('\n')) {
      const { shape, ms } = JSON.parse(line);
      if (!times[li].has(shape)) {
        times[li].set(shape, []);
        if (li === 0 || !order.includes(shape)) order.push(shape);
      }
      times[li].get(shape).push(ms);
    }
  });
  process.stderr.write(`round ${r + 1}/${rounds} done\n`);
}
fs.rmSync(exe, { force: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = libs.map((_, li) => new Map(order.map((s) => [s, median(times[li].get(s) ?? [])])));

// One layer at 16 × 128: 4 width² products (Q, K, V, output), FFN up and down, scores and context; backward:
// dX and dW of each, and for attention two score-shaped and two context-shaped products (approximated by the
// forward shapes).
const FWD = { 'qkvo  [2048x384]x[384x384]': 4, 'up    [2048x384]x[384x1536]': 1, 'down  [2048x1536]x[1536x384]': 1,
  'scores 192x[128x32]x[128x32]T': 1, 'context 192x[128x128]x[128x32]': 1 };
const BWD = { 'qkvo dX  [2048x384]x[384x384]T': 4, 'up dX    [2048x1536]x[384x1536]T': 1, 'down dX  [2048x384]x[1536x384]T': 1,
  'qkvo dW  [2048x384]Tx[2048x384]': 4, 'up dW    [2048x384]Tx[2048x1536]': 1, 'down dW  [2048x1536]Tx[2048x384]': 1,
  'scores 192x[128x32]x[128x32]T': 2, 'context 192x[128x128]x[128x32]': 2 };
const weighted = (m, w) => Object.entries(w).reduce((s, [k, n]) => s + n * (m.get(k) ?? NaN), 0);

const pad = (s, n) => String(s).padEnd(n);
const num = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const header = ['shape (ms, median of rounds)', ...libs.map((l) => l.name), ...libs.slice(1).map((l) => `${l.name}/${libs[0].name}`)];
const rows = order.map((s) => [s, ...med.map((m) => num(m.get(s))), ...med.slice(1).map((m) => (m.get(s) / med[0].get(s)).toFixed(2))]);
const f = med.map((m) => weighted(m, FWD));
const t = med.map((m, i) => f[i] + weighted(m, BWD));
rows.push(['layer forward (sum)', ...f.map(num), ...f.slice(1).map((x) => (x / f[0]).toFixed(2))]);
rows.push(['layer forward + backward (sum)', ...t.map(num), ...t.slice(1).map((x) => (x / t[0]).toFixed(2))]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
console.log(`| ${header.map((h, i) => pad(h, widths[i])).join(' | ')} |`);
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(`| ${r.map((c, i) => pad(c, widths[i])).join(' | ')} |`);
console.log(`\n${rounds} rounds × best of ${iters} per process, ${threads} threads, libraries interleaved; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const out = opt('json', undefined);
if (out) fs.writeFileSync(out, `${JSON.stringify({ libs: libs.map((l) => ({ name: l.name, file: l.file, env: l.env })), rounds, iters, threads, times: libs.map((l, i) => ({ name: l.name, ms: Object.fromEntries(times[i]) })), loadavg: os.loadavg() }, null, 1)}\n`);

#!/usr/bin/env node
// Same-process A/B of the native inference kernels (attention.c, bottleneck.c): A from a git ref, B from this tree,
// compiled with the addon's flags (gcc target clones), interleaved calls in one C process (scripts/kernel-ab.c).
//
//   node scripts/kernel-ab.js [--ref main] [--threads 2] [--reps 15]
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const ref = opt('ref', 'main');
const native = path.join(__dirname, '..', 'native');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kernel-ab-'));
const cc = process.env.CC || 'cc';
const flags = ['-std=c11', '-O3', '-fno-math-errno', '-pthread', `-I${native}`];

function compile(src, suffix) {
  const obj = path.join(dir, `${path.basename(src, '.c')}_${suffix}.o`);
  const r = spawnSync(cc, [...flags, '-c', src, `-Dattention_run=attention_run_${suffix}`, `-Dbottleneck_run=bottleneck_run_${suffix}`, '-o', obj], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cc} ${src}: ${r.stderr}`);
  return obj;
}

try {
  const objs = [];
  for (const file of ['attention.c', 'bottleneck.c']) {
    const old = path.join(dir, `${ref.replace(/\W/g, '_')}_${file}`);
    // The ref's file, compiled against this tree's headers (the kernels' interfaces are unchanged).
    fs.writeFileSync(old, execFileSync('git', ['show', `${ref}:./${file}`], { cwd: native }));
    objs.push(compile(old, 'A'), compile(path.join(native, file), 'B'));
  }
  const exe = path.join(dir, 'kernel-ab');
  const link = spawnSync(cc, [...flags, ...objs, path.join(__dirname, 'kernel-ab.c'), '-o', exe, '-lm'], { encoding: 'utf8' });
  if (link.status !== 0) throw new Error(link.stderr);
  console.log(`A = ${ref}, B = working tree (${cc})`);
  const run = spawnSync(exe, [opt('threads', '2'), opt('reps', '15')], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'] });
  process.exitCode = run.status ?? 1;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

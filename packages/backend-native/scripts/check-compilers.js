#!/usr/bin/env node
// Compiles the addon's C sources (compile only, no link) with every compiler and flag set users are likely to
// build with: gcc and clang, each with the default target and with -march=native. The `install` hook never
// fails the install, so a source that only one compiler rejects would otherwise silently cost users every
// native kernel. CI runs this (npm run check:compilers -w @adapters/backend-native) and fails if any variant fails.
//
//   node scripts/check-compilers.js [--compilers gcc,clang]
// Exits 1 naming each failing variant with its first error; a compiler that is not installed is a failure too
// (CI installs clang), unless BACKEND_NATIVE_CHECK_OPTIONAL lists it (e.g. "clang").
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const pkgDir = path.resolve(__dirname, '..');
const sources = ['backend_native.c', 'bottleneck.c', 'attention.c', 'attention_train.c', 'blas_select.c', 'parallel.c', 'external.c'].map((f) => path.join(pkgDir, 'native', f));
const flagSets = [[], ['-march=native']];
// The same flags build-native.js uses, plus -Werror=implicit-function-declaration so a missing prototype is an
// error on every compiler (clang already treats it as one).
const baseFlags = ['-std=c11', '-O3', '-fno-math-errno', '-fPIC', '-Wall', '-Wextra', '-Werror=implicit-function-declaration'];

function nodeHeaders() {
  const dirs = [];
  if (process.env.npm_config_nodedir) dirs.push(path.join(process.env.npm_config_nodedir, 'include', 'node'));
  dirs.push(path.resolve(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node');
  return dirs.find((d) => fs.existsSync(path.join(d, 'node_api.h')));
}

function compile(cc, flags, source, includeDir, outDir) {
  const out = path.join(outDir, `${cc}${flags.join('')}-${path.basename(source, '.c')}.o`.replace(/[^\w.-]/g, '_'));
  const args = [...baseFlags, ...flags, `-I${includeDir}`, '-c', source, '-o', out];
  return new Promise((resolve) => {
    const child = spawn(cc, args, { cwd: pkgDir });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('error', (e) => resolve({ ok: false, text: e.message }));
    child.on('close', (code) => resolve({ ok: code === 0, text }));
  });
}

async function main() {
  const arg = process.argv.indexOf('--compilers');
  const compilers = arg > 0 ? process.argv[arg + 1].split(',') : ['gcc', 'clang'];
  const optional = (process.env.BACKEND_NATIVE_CHECK_OPTIONAL || '').split(',').filter(Boolean);
  const includeDir = nodeHeaders();
  if (includeDir === undefined) {
    console.error('check-compilers: no Node headers (node_api.h) found; Debian: apt-get install -y libnode-dev');
    process.exit(1);
  }
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-native-cc-'));
  const failures = [];
  const jobs = [];
  for (const cc of compilers) {
    if (spawnSync(cc, ['--version']).status !== 0) {
      if (optional.includes(cc)) console.log(`check-compilers: ${cc} not installed, skipped (optional)`);
      else failures.push(`${cc}: not installed`);
      continue;
    }
    for (const flags of flagSets) {
      const name = [cc, ...flags].join(' ');
      jobs.push(Promise.all(sources.map((s) => compile(cc, flags, s, includeDir, outDir))).then((results) => {
        const bad = results.find((r) => !r.ok);
        if (bad === undefined) {
          console.log(`check-compilers: ok   ${name}`);
          return;
        }
        const firstError = bad.text.split('\n').find((l) => /error/.test(l)) || bad.text.split('\n')[0];
        console.log(`check-compilers: FAIL ${name}: ${firstError.trim()}`);
        failures.push(`${name}: ${firstError.trim()}`);
      }));
    }
  }
  await Promise.all(jobs);
  fs.rmSync(outDir, { recursive: true, force: true });
  if (failures.length > 0) {
    console.error(`check-compilers: ${failures.length} variant(s) failed: ${failures.join('; ')}`);
    process.exit(1);
  }
}

main();

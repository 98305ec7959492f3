#!/usr/bin/env node
// Builds build/Release/backend_native.node (N-API addon over OpenBLAS).
//
//   node scripts/build-native.js            explicit build (npm run build:native): exits 1 when it fails
//   node scripts/build-native.js --install  npm `install` hook: never fails the install, prints why and continues
//
// Works offline: node-gyp is used only with Node headers found on this machine (--nodedir, no download);
// otherwise (or if node-gyp fails) the C files are compiled directly with $CC (default cc).
// Environment: CC, BACKEND_NATIVE_CFLAGS (e.g. -I/opt/openblas/include), BACKEND_NATIVE_LIBS
// (default -lopenblas; e.g. "-L/opt/homebrew/opt/openblas/lib -lopenblas"), BACKEND_NATIVE_SKIP=1 to skip.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const installMode = process.argv.includes('--install');
const pkgDir = path.resolve(__dirname, '..');
const sources = ['backend_native.c', 'bottleneck.c'].map((f) => path.join(pkgDir, 'native', f));
const outDir = path.join(pkgDir, 'build', 'Release');
const output = path.join(outDir, 'backend_native.node');
const tag = '@adapters/backend-native';

function done(ok, line) {
  if (ok) {
    console.log(`${tag}: ${line}`);
    process.exit(0);
  }
  if (installMode) {
    console.warn(`${tag}: native kernels not built (${line}); the stock wasm kernels will be used. ` +
      `Fix, then run: npm run build:native -w ${tag}`);
    process.exit(0);
  }
  console.error(`${tag}: build failed: ${line}`);
  process.exit(1);
}

/** Directories that contain node_api.h for the running Node, best first. */
function headerDirs() {
  const dirs = [];
  if (process.env.npm_config_nodedir) dirs.push(path.join(process.env.npm_config_nodedir, 'include', 'node'));
  dirs.push(path.resolve(path.dirname(process.execPath), '..', 'include', 'node'));
  dirs.push('/usr/include/node', '/usr/local/include/node');
  return [...new Set(dirs)].filter((d) => fs.existsSync(path.join(d, 'node_api.h')));
}

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [pkgDir] }));
  } catch {
    // not a dependency here; try npm's bundled copy below
  }
  if (process.env.npm_execpath) {
    candidates.push(path.resolve(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  return candidates.find((c) => fs.existsSync(c));
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: pkgDir, encoding: 'utf8', timeout: 300000, ...options });
  const text = `${r.stdout || ''}${r.stderr || ''}`.trim();
  return { ok: r.status === 0, text: r.error ? String(r.error.message) : text };
}

const lastLines = (text, n = 6) => text.split('\n').filter(Boolean).slice(-n).join(' | ');

/** Loads the addon in a child process (a broken link to libopenblas shows up here, not at first use). */
function verify() {
  const probe = `const m={exports:{}};process.dlopen(m,${JSON.stringify(output)});` +
    `const i=m.exports.info();console.log(i.corename+' '+i.threads+' thread(s); '+i.config.trim())`;
  const r = run(process.execPath, ['-e', probe]);
  return r.ok ? { ok: true, text: r.text } : { ok: false, text: `built but cannot load: ${lastLines(r.text, 2)}` };
}

function buildWithNodeGyp(nodeGyp, includeDir) {
  // --nodedir wants the prefix that contains include/node.
  const nodedir = path.resolve(includeDir, '..', '..');
  return run(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--release']);
}

function buildWithCc(includeDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const cc = process.env.CC || 'cc';
  const split = (s) => (s || '').split(/\s+/).filter(Boolean);
  const args = ['-std=c11', '-O3', '-fno-math-errno', '-fPIC', '-shared', '-Wall', '-Wextra', `-I${includeDir}`,
    ...split(process.env.BACKEND_NATIVE_CFLAGS), ...sources, '-o', output,
    ...split(process.env.BACKEND_NATIVE_LIBS || '-lopenblas'), '-lm', '-pthread'];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  return run(cc, args);
}

function main() {
  if (process.env.BACKEND_NATIVE_SKIP === '1') done(false, 'BACKEND_NATIVE_SKIP=1');
  if (process.platform === 'win32') done(false, 'Windows is not supported (needs a C compiler and OpenBLAS)');
  const includeDir = headerDirs()[0];
  if (includeDir === undefined) {
    done(false, 'no Node headers (node_api.h) on this machine; install them (Debian: apt-get install -y libnode-dev, ' +
      'or use a Node tarball that ships include/node) or set npm_config_nodedir');
  }
  const attempts = [];
  const nodeGyp = process.env.BACKEND_NATIVE_NO_GYP === '1' ? undefined : findNodeGyp();
  if (nodeGyp !== undefined) {
    const r = buildWithNodeGyp(nodeGyp, includeDir);
    if (r.ok) {
      const v = verify();
      if (v.ok) done(true, `built with node-gyp (headers ${includeDir}); OpenBLAS ${v.text}`);
      attempts.push(`node-gyp: ${v.text}`);
    } else {
      attempts.push(`node-gyp: ${lastLines(r.text)}`);
    }
  }
  const r = buildWithCc(includeDir);
  if (!r.ok) {
    const hint = /openblas/i.test(r.text) ? ' (is OpenBLAS installed? Debian: apt-get install -y libopenblas-dev)' : '';
    attempts.push(`${process.env.CC || 'cc'}: ${lastLines(r.text)}${hint}`);
    done(false, attempts.join('; '));
  }
  const v = verify();
  if (!v.ok) done(false, [...attempts, v.text].join('; '));
  done(true, `built with ${process.env.CC || 'cc'} (headers ${includeDir}); OpenBLAS ${v.text}`);
}

main();

#!/usr/bin/env node
// Builds build/Release/backend_native.node (N-API addon over OpenBLAS).
//
//   node scripts/build-native.js            explicit build (npm run build:native): exits 1 when it fails
//   node scripts/build-native.js --install  npm `install` hook: never fails the install, prints why and continues
//
// Works offline: node-gyp is used only with Node headers found on this machine (--nodedir, no download);
// otherwise (or if node-gyp fails) the C files are compiled directly with $CC (default cc).
// When no system OpenBLAS links and pip is available, it fetches OpenBLAS itself: the scipy-openblas32 wheel
// (a recent DYNAMIC_ARCH OpenBLAS, symbols prefixed scipy_) via `python3 -m pip download` (pip's configured
// index), unpacked under openblas-wheel/ (outside build/, which node-gyp's rebuild empties) and linked with an rpath.
// Environment: CC, BACKEND_NATIVE_CFLAGS (e.g. -I/opt/openblas/include), BACKEND_NATIVE_LIBS
// (default -lopenblas; e.g. "-L/opt/homebrew/opt/openblas/lib -lopenblas"), BACKEND_NATIVE_SKIP=1 to skip,
// BACKEND_NATIVE_BLAS=system|wheel|auto (default auto: system, then the wheel), PYTHON (default python3),
// BACKEND_NATIVE_OUT_DIR (default build/Release).
// Every run records its outcome in <out dir>/build-status.json: npm hides install output, so the loader reads
// the reason (and the fix) from there and the CLI prints it.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const installMode = process.argv.includes('--install');
const pkgDir = path.resolve(__dirname, '..');
const sources = ['backend_native.c', 'bottleneck.c', 'attention.c', 'attention_train.c', 'blas_select.c', 'parallel.c', 'external.c'].map((f) => path.join(pkgDir, 'native', f));
const outDir = process.env.BACKEND_NATIVE_OUT_DIR ? path.resolve(process.env.BACKEND_NATIVE_OUT_DIR) : path.join(pkgDir, 'build', 'Release');
const statusFile = path.join(outDir, 'build-status.json');
const blasMode = process.env.BACKEND_NATIVE_BLAS || 'auto';
const python = process.env.PYTHON || 'python3';
const output = path.join(outDir, 'backend_native.node');
const tag = '@adapters/backend-native';

/** The one command that fixes a failed build, by cause (the loader and the CLI print it). */
function fixFor(text) {
  const rebuild = `npm rebuild ${tag}`;
  const sudo = typeof process.getuid === 'function' && process.getuid() !== 0 ? 'sudo ' : '';
  const apt = fs.existsSync('/usr/bin/apt-get');
  const pkgs = [];
  if (/node_api\.h|Node headers/i.test(text)) pkgs.push('libnode-dev');
  if (/ENOENT|not found: (cc|gcc|clang)|spawn .*(cc|gcc|clang)/i.test(text)) pkgs.push(apt ? 'build-essential' : 'a C compiler');
  if (/openblas/i.test(text)) pkgs.push(process.platform === 'darwin' ? 'openblas' : 'libopenblas-dev');
  if (pkgs.length === 0) return rebuild;
  if (process.platform === 'darwin') return `brew install ${pkgs.join(' ')} && ${rebuild}`;
  return apt ? `${sudo}apt-get install -y ${pkgs.join(' ')} && ${rebuild}` : `install ${pkgs.join(', ')}, then ${rebuild}`;
}

function writeStatus(status) {
  try {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(statusFile, `${JSON.stringify({ ...status, date: new Date().toISOString() }, null, 1)}\n`);
  } catch {
    // read-only install directory: the loader then only knows the addon is missing
  }
}

function done(ok, line) {
  writeStatus(ok ? { ok: true, line } : { ok: false, reason: line, fix: fixFor(line) });
  if (ok) {
    console.log(`${tag}: ${line}`);
    process.exit(0);
  }
  if (installMode) {
    console.warn(`${tag}: native kernels not built (${line}); the stock wasm kernels will be used. ` +
      `Fix: ${fixFor(line)}`);
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
  if (!r.ok) return { ok: false, text: `built but cannot load: ${lastLines(r.text, 2)}` };
  // SSE-class kernels on a CPU with AVX: the loader picks and verifies a better OPENBLAS_CORETYPE at first load.
  let flags = '';
  try {
    flags = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  } catch {
    // not Linux
  }
  const generic = /^(Katmai|Coppermine|Northwood|Prescott|Banias|Atom|Core2|Penryn|Dunnington|Athlon|Opteron\w*|Barcelona|Nano|Nehalem)\b/.test(r.text);
  const note = generic && /\bavx2?\b/.test(flags) ? ' (generic kernels for this CPU: the loader tries a better OPENBLAS_CORETYPE at first load; see adapters doctor)' : '';
  return { ok: true, text: `${r.text}${note}` };
}

function buildWithNodeGyp(nodeGyp, includeDir) {
  // --nodedir wants the prefix that contains include/node.
  const nodedir = path.resolve(includeDir, '..', '..');
  return run(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--release']);
}

const split = (s) => (s || '').split(/\s+/).filter(Boolean);

function buildWithCc(includeDir, blas = { cflags: split(process.env.BACKEND_NATIVE_CFLAGS), libs: split(process.env.BACKEND_NATIVE_LIBS || '-lopenblas') }) {
  fs.mkdirSync(outDir, { recursive: true });
  const cc = process.env.CC || 'cc';
  const args = ['-std=c11', '-O3', '-fno-math-errno', '-fPIC', '-shared', '-Wall', '-Wextra', `-I${includeDir}`,
    ...blas.cflags, ...sources, '-o', output, ...blas.libs, '-lm', '-ldl', '-pthread'];
  if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
  return run(cc, args);
}

/**
 * Fetches the scipy-openblas32 wheel with pip (its configured index; no host named here), unpacks it under
 * openblas-wheel/ and returns the flags to link against it. Undefined (with why) when pip or the wheel is missing.
 */
function wheelOpenBlas() {
  const pip = run(python, ['-m', 'pip', '--version']);
  if (!pip.ok) return { why: `no pip (${python} -m pip) to fetch OpenBLAS` };
  // Not under build/: node-gyp's `rebuild` empties that, and the addon's rpath points here.
  const root = path.join(pkgDir, 'openblas-wheel');
  const wheels = path.join(root, 'wheels');
  fs.mkdirSync(wheels, { recursive: true });
  const dl = run(python, ['-m', 'pip', 'download', '--disable-pip-version-check', '--quiet', '--no-deps', '--only-binary=:all:',
    '--dest', wheels, 'scipy-openblas32>=0.3.27']);
  const wheel = fs.readdirSync(wheels).filter((f) => /^scipy_openblas32-.*\.whl$/.test(f)).sort().pop();
  if (!dl.ok || wheel === undefined) return { why: `pip could not fetch scipy-openblas32: ${lastLines(dl.text, 2)}` };
  const unpacked = path.join(root, wheel.replace(/\.whl$/, ''));
  if (!fs.existsSync(path.join(unpacked, 'scipy_openblas32', 'lib'))) {
    const ex = run(python, ['-m', 'zipfile', '-e', path.join(wheels, wheel), unpacked]);
    if (!ex.ok) return { why: `cannot unpack ${wheel}: ${lastLines(ex.text, 2)}` };
  }
  const lib = path.join(unpacked, 'scipy_openblas32', 'lib');
  return { wheel, cflags: ['-DADAPTERS_BLAS_SCIPY_PREFIX'], libs: [`-L${lib}`, '-lscipy_openblas', `-Wl,-rpath,${lib}`] };
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
  if (blasMode === 'wheel') return buildAgainstWheel(includeDir, attempts);
  // node-gyp's `rebuild` empties build/: only for the package's own output directory.
  const nodeGyp = process.env.BACKEND_NATIVE_NO_GYP === '1' || process.env.BACKEND_NATIVE_OUT_DIR ? undefined : findNodeGyp();
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
    const noBlas = /openblas/i.test(r.text);
    attempts.push(`${process.env.CC || 'cc'}: ${lastLines(r.text)}${noBlas ? ' (no OpenBLAS to link)' : ''}`);
    if (noBlas && blasMode === 'auto') return buildAgainstWheel(includeDir, attempts);
    done(false, attempts.join('; '));
  }
  const v = verify();
  if (!v.ok) done(false, [...attempts, v.text].join('; '));
  done(true, `built with ${process.env.CC || 'cc'} (headers ${includeDir}); OpenBLAS ${v.text}`);
}

function buildAgainstWheel(includeDir, attempts) {
  const blas = wheelOpenBlas();
  if (blas.why !== undefined) done(false, [...attempts, blas.why].join('; '));
  const r = buildWithCc(includeDir, blas);
  if (!r.ok) done(false, [...attempts, `${process.env.CC || 'cc'} with ${blas.wheel}: ${lastLines(r.text)}`].join('; '));
  const v = verify();
  if (!v.ok) done(false, [...attempts, v.text].join('; '));
  done(true, `built with ${process.env.CC || 'cc'} against ${blas.wheel} (no system OpenBLAS); OpenBLAS ${v.text}`);
}

main();

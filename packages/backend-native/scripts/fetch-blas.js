#!/usr/bin/env node
// Fetches Intel MKL for the addon (optional; Linux x86-64): the PyPI wheels `mkl` and `intel-openmp` via
// `python3 -m pip download` (pip's configured index, binary wheels, no dependencies), of which only the shared
// libraries sgemm needs are unpacked into <cache>/blas/mkl-<version>/lib ($ADAPTERS_CACHE or
// ~/.cache/adapters-ts; ~500 MB on disk, ~330 MB downloaded). The addon loader then finds it, checks it with the
// sgemm self-test in a child process, races it against the linked OpenBLAS on the MiniLM step's shapes and keeps
// the faster (see the package README). MKL is Intel's, under the Intel Simplified Software License (the text is
// copied next to the libraries); nothing here redistributes it.
//
//   node scripts/fetch-blas.js [mkl]        (npm run fetch:blas -w @adapters/backend-native)
// Exits 1 with the reason when pip or the wheels are unavailable; never touches the addon build.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const python = process.env.PYTHON || 'python3';
const cache = process.env.ADAPTERS_CACHE || path.join(os.homedir(), '.cache', 'adapters-ts');
const what = process.argv[2] || 'mkl';

/** The libraries libmkl_rt loads for sgemm with Intel threading, per instruction set, plus Intel OpenMP. */
const KEEP = /^(libmkl_(rt|core|intel_lp64|intel_thread|sequential|def|mc3|avx2|avx512|avx10)\.so\.\d+|libiomp5\.so)$/;

function fail(why) {
  console.error(`fetch-blas: ${why}`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 900000 });
  return { ok: r.status === 0, text: r.error ? r.error.message : `${r.stdout || ''}${r.stderr || ''}`.trim() };
}

function main() {
  if (what !== 'mkl') fail(`unknown library '${what}' (have: mkl)`);
  if (process.platform !== 'linux' || process.arch !== 'x64') fail('MKL wheels are fetched for Linux x86-64 only');
  if (!run(python, ['-m', 'pip', '--version']).ok) fail(`no pip (${python} -m pip)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adapters-blas-'));
  try {
    console.log('fetch-blas: downloading the mkl and intel-openmp wheels with pip (~330 MB)…');
    const dl = run(python, ['-m', 'pip', 'download', '--disable-pip-version-check', '--quiet', '--no-deps', '--only-binary=:all:',
      '--dest', tmp, 'mkl', 'intel-openmp']);
    const wheels = fs.readdirSync(tmp).filter((f) => f.endsWith('.whl'));
    const mkl = wheels.find((f) => /^mkl-\d/.test(f));
    if (!dl.ok || mkl === undefined || !wheels.some((f) => f.startsWith('intel_openmp-'))) fail(`pip could not fetch the wheels: ${dl.text.split('\n').slice(-2).join(' | ')}`);
    const version = mkl.split('-')[1];
    const dest = path.join(cache, 'blas', `mkl-${version}`);
    const lib = path.join(dest, 'lib');
    fs.mkdirSync(lib, { recursive: true });
    // Selective unpack (the full wheels are ~860 MB unpacked): the libraries above and the licence texts.
    const py = [
      'import sys, zipfile, os, re',
      'keep = re.compile(sys.argv[1]); lib = sys.argv[2]; dest = sys.argv[3]',
      'for w in sys.argv[4:]:',
      '  z = zipfile.ZipFile(w)',
      '  for n in z.namelist():',
      '    b = os.path.basename(n)',
      '    if keep.match(b): open(os.path.join(lib, b), "wb").write(z.read(n))',
      '    elif "dist-info" in n and ("LICENSE" in b.upper() or b.lower().startswith("license")):',
      '      open(os.path.join(dest, os.path.basename(w).split("-")[0] + "-" + b), "wb").write(z.read(n))',
    ].join('\n');
    const ex = run(python, ['-c', py, KEEP.source, lib, dest, ...wheels.map((w) => path.join(tmp, w))]);
    if (!ex.ok) fail(`cannot unpack: ${ex.text.split('\n').slice(-2).join(' | ')}`);
    for (const need of ['libmkl_rt.so.3', 'libiomp5.so']) {
      if (!fs.existsSync(path.join(lib, need))) fail(`${need} is not in the wheels (layout changed?)`);
    }
    console.log(`fetch-blas: MKL ${version} in ${lib} (Intel Simplified Software License, see ${dest}). ` +
      'The addon loader verifies it and keeps it if it is faster than OpenBLAS here; `adapters doctor` shows the choice.');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();

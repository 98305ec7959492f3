// Chooses which BLAS library the addon calls: the OpenBLAS it was linked against, or another CBLAS library
// (Intel MKL's libmkl_rt from the PyPI `mkl` wheel, fetched by scripts/fetch-blas.js) resolved with dlopen when
// the addon loads (native/blas_select.c reads ADAPTERS_BLAS_LIBRARY). Each candidate must pass the same sgemm
// self-test in a child process as the OpenBLAS core types do (a library that crashes or computes wrong results
// only kills that child); among those that pass, the fastest on the MiniLM step's shapes is kept. The verdict is
// cached with the core verdict. With nothing found, nothing is probed (no cost for a plain install).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { ProbeReport } from './blas-core';
import { cacheRoot, probeInChild } from './blas-core';

/** ':'-separated absolute paths: preloads first (MKL's libiomp5.so), the CBLAS library last; `openblas` = linked. */
export const BLAS_LIBRARY_ENV = 'ADAPTERS_BLAS_LIBRARY';
/** Set to 0 to skip looking for other BLAS libraries (the linked OpenBLAS only). */
export const AUTO_LIBRARY_ENV = 'ADAPTERS_BLAS_AUTO_LIBRARY';
/** Intel OpenMP's idle spin (ms) after a parallel region, default 200: set low for the same reason as OPENBLAS_THREAD_TIMEOUT. */
export const KMP_BLOCKTIME_ENV = 'KMP_BLOCKTIME';

export interface BlasLibraryCandidate {
  /** Short name for notes, e.g. "MKL 2026.2.1". */
  name: string;
  /** The ADAPTERS_BLAS_LIBRARY value that loads it. */
  spec: string;
}

export interface BlasLibraryChoice {
  /** ADAPTERS_BLAS_LIBRARY to load with; undefined keeps the linked OpenBLAS. */
  spec?: string;
  name?: string;
  /** GFLOP/s on the step shapes (scripts/blas-probe.js timeStepShapes) of the linked OpenBLAS and of the choice. */
  stepGflops?: { linked?: number; chosen?: number };
  /** Candidates that failed, with why (loud: they end up in the banner). */
  rejected?: string[];
  /** One clause for the banner, e.g. "MKL 2026.2 (fetched; step sgemm 180 → 220 GFLOP/s, self-test passed)". */
  note?: string;
}

/** Probes one library (undefined = the linked OpenBLAS) in a child with OPENBLAS_CORETYPE already decided. */
export type LibraryProbe = (spec: string | undefined) => ProbeReport | { error: string };

/** Where scripts/fetch-blas.js unpacks wheels: <cache>/blas/<name>-<version>/lib. */
export function blasLibraryDir(env: Record<string, string | undefined>): string {
  return path.join(cacheRoot(env), 'blas');
}

/** MKL installs unpacked by scripts/fetch-blas.js (newest first): libmkl_rt plus Intel OpenMP, preloaded. */
export function findBlasLibraries(env: Record<string, string | undefined>): BlasLibraryCandidate[] {
  const root = blasLibraryDir(env);
  let dirs: string[];
  try {
    dirs = fs.readdirSync(root).filter((d) => /^mkl-\d/.test(d)).sort().reverse();
  } catch {
    return [];
  }
  const found: BlasLibraryCandidate[] = [];
  for (const d of dirs) {
    const lib = path.join(root, d, 'lib');
    const rt = path.join(lib, 'libmkl_rt.so.3');
    const omp = path.join(lib, 'libiomp5.so');
    if (fs.existsSync(rt) && fs.existsSync(omp)) found.push({ name: `MKL ${d.slice(4)}`, spec: `${omp}:${rt}` });
  }
  return found;
}

const fmt = (g: number | undefined) => (g === undefined ? '?' : g.toFixed(0));

/**
 * Decides ADAPTERS_BLAS_LIBRARY. A user-set value is verified (self-test) and used even when slower; one that
 * fails falls back to the linked OpenBLAS with the reason in the note. Otherwise the candidates found are raced
 * against the linked OpenBLAS and the fastest that passes is kept. Never throws.
 */
export function chooseBlasLibrary(
  env: Record<string, string | undefined>, probe: LibraryProbe, found: BlasLibraryCandidate[] = findBlasLibraries(env),
): BlasLibraryChoice {
  const user = env[BLAS_LIBRARY_ENV];
  if (user === 'openblas') return { note: `linked OpenBLAS (${BLAS_LIBRARY_ENV}=openblas)` };
  const candidates = user !== undefined && user !== '' ? [{ name: path.basename(user.split(':').pop() ?? user), spec: user }] : env[AUTO_LIBRARY_ENV] === '0' ? [] : found;
  if (candidates.length === 0) return {};
  const rejected: string[] = [];
  const passed: Array<{ c: BlasLibraryCandidate; r: ProbeReport }> = [];
  for (const c of candidates) {
    const r = probe(c.spec);
    if ('error' in r) rejected.push(`${c.name}: ${r.error}`);
    else if (r.libraryError !== undefined && r.libraryError !== '') rejected.push(`${c.name}: ${r.libraryError}`);
    else if (!r.selfTest.ok) rejected.push(`${c.name}: wrong sgemm results (${r.selfTest.failure ?? 'self-test failed'})`);
    else passed.push({ c, r });
  }
  const why = rejected.length > 0 ? { rejected } : {};
  if (user !== undefined && user !== '') {
    if (passed[0] !== undefined) return { spec: user, name: passed[0].r.corename === 'MKL' ? 'MKL' : passed[0].c.name, ...why, note: `${passed[0].c.name} (${BLAS_LIBRARY_ENV} set by you; self-test passed)` };
    return { ...why, note: `linked OpenBLAS: ${BLAS_LIBRARY_ENV} rejected (${rejected.join('; ')})` };
  }
  const linked = probe(undefined);
  const base = 'error' in linked || !linked.selfTest.ok ? undefined : linked.stepGflops;
  const best = passed.reduce<{ c: BlasLibraryCandidate; r: ProbeReport } | undefined>(
    (b, p) => (b === undefined || (p.r.stepGflops ?? 0) > (b.r.stepGflops ?? 0) ? p : b), undefined);
  if (best === undefined) return { ...why, note: `linked OpenBLAS (rejected ${rejected.join('; ')})` };
  const gflops = { ...(base !== undefined ? { linked: base } : {}), ...(best.r.stepGflops !== undefined ? { chosen: best.r.stepGflops } : {}) };
  const speed = `step sgemm OpenBLAS ${fmt(base)} vs ${best.c.name} ${fmt(best.r.stepGflops)} GFLOP/s`;
  if (base !== undefined && (best.r.stepGflops ?? 0) <= base) {
    return { stepGflops: gflops, ...why, note: `linked OpenBLAS (faster than ${best.c.name} here: ${speed})` };
  }
  return { spec: best.c.spec, name: best.c.name, stepGflops: gflops, ...why, note: `${best.c.name} (chosen: ${speed}; self-test passed)` };
}

const CACHE_FILE = 'blas-library.json';

/** Key: the addon build, the core type and every candidate library file (path, size, mtime). */
function cacheKey(addonFile: string, coretype: string | undefined, candidates: BlasLibraryCandidate[], user: string | undefined): string | undefined {
  try {
    const stat = (f: string) => {
      const st = fs.statSync(f);
      return [path.resolve(f), st.size, st.mtimeMs];
    };
    const libs = candidates.flatMap((c) => c.spec.split(':').map(stat));
    return createHash('sha256').update(JSON.stringify([stat(addonFile), coretype ?? '', user ?? '', libs])).digest('hex').slice(0, 32);
  } catch {
    return undefined; // a file vanished: probe (and then fail) rather than trust a stale verdict
  }
}

function readCache(dir: string): Record<string, BlasLibraryChoice> {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dir, CACHE_FILE), 'utf8')) as unknown;
    return json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, BlasLibraryChoice>) : {};
  } catch {
    return {};
  }
}

function writeCache(dir: string, key: string, choice: BlasLibraryChoice): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const all = readCache(dir);
    all[key] = choice;
    const tmp = path.join(dir, `${CACHE_FILE}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, `${JSON.stringify(all, null, 1)}\n`);
    fs.renameSync(tmp, path.join(dir, CACHE_FILE));
  } catch {
    // unwritable cache: probe again next time
  }
}

/**
 * chooseBlasLibrary with the verdict cached in $ADAPTERS_CACHE (or ~/.cache/adapters-ts)/blas-library.json.
 * `coretype` is the OPENBLAS_CORETYPE the linked OpenBLAS will load with (its speed is what candidates race).
 */
export function pickBlasLibrary(
  addonFile: string, coretype: string | undefined, env: Record<string, string | undefined>,
  options: { probe?: LibraryProbe; found?: BlasLibraryCandidate[]; cacheDir?: string } = {},
): BlasLibraryChoice {
  const user = env[BLAS_LIBRARY_ENV];
  if (user === 'openblas') return chooseBlasLibrary(env, () => ({ error: 'unused' }), []);
  const found = user !== undefined && user !== '' ? [{ name: 'user', spec: user }] : env[AUTO_LIBRARY_ENV] === '0' ? [] : options.found ?? findBlasLibraries(env);
  if (found.length === 0) return {};
  const dir = options.cacheDir ?? cacheRoot(env);
  const key = cacheKey(addonFile, coretype, found, user);
  if (key !== undefined) {
    const hit = readCache(dir)[key];
    if (hit !== undefined) return { ...hit, ...(hit.note !== undefined ? { note: `${hit.note.replace(/ \(chosen: /, ' (cached: ')}` } : {}) };
  }
  const probe = options.probe ?? ((spec: string | undefined) =>
    probeInChild(addonFile, coretype, env, { ADAPTERS_BLAS_PROBE_STEP: '1', ...(spec !== undefined ? { [BLAS_LIBRARY_ENV]: spec } : {}) }));
  const choice = chooseBlasLibrary(env, probe, user !== undefined && user !== '' ? [] : found);
  // A verdict where every probe failed (e.g. timeouts on a busy machine) is not cached.
  if (key !== undefined && (choice.spec !== undefined || choice.stepGflops !== undefined)) writeCache(dir, key, choice);
  return choice;
}

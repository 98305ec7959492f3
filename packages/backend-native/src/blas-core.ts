// Chooses OpenBLAS's kernel set before the library loads. OpenBLAS reads OPENBLAS_CORETYPE once, when the
// addon (and with it libopenblas) is loaded, and cannot be reloaded in-process; a core type the CPU or the
// library build mishandles can crash or compute wrong results. So each candidate runs in a short child process
// (scripts/blas-probe.js: sgemm self-test against float64, one timing), and the verdict is cached per addon
// build, CPU and OpenBLAS library.
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CpuFeatures } from './cpu-features';
import { readCpuFeatures, upgradesFor } from './cpu-features';

export const CORETYPE_ENV = 'OPENBLAS_CORETYPE';
/** Set to 0 to keep OpenBLAS's own core detection. */
export const AUTO_CORE_ENV = 'ADAPTERS_BLAS_AUTO_CORE';
/** Cache root, shared with the model cache ($ADAPTERS_CACHE, else ~/.cache/adapters-ts). */
export const CACHE_ENV = 'ADAPTERS_CACHE';

/** What one probe child reported. */
export interface ProbeReport {
  corename: string;
  config: string;
  threads: number;
  library?: { path: string; size: number; mtimeMs: number };
  selfTest: { ok: boolean; worst: number; failure?: string };
  gflops?: number;
  /** GFLOP/s over the MiniLM step's shapes (only when ADAPTERS_BLAS_PROBE_STEP=1). */
  stepGflops?: number;
  /** Why ADAPTERS_BLAS_LIBRARY was not loaded (the addon then used the linked OpenBLAS). */
  libraryError?: string;
}

export type Probe = (addonFile: string, coretype: string | undefined) => ProbeReport | { error: string };

export interface BlasCoreChoice {
  /** The OPENBLAS_CORETYPE to load with; undefined keeps OpenBLAS's own detection. */
  coretype?: string;
  /** Who decided: the user's OPENBLAS_CORETYPE, this module (probed now or cached), or nobody. */
  source: 'user' | 'auto' | 'cached' | 'detected' | 'off';
  /** OpenBLAS's own pick when it was probed (e.g. Prescott). */
  detected?: string;
  /** sgemm GFLOP/s ([256,384]·[384,1536]) of the detected and the chosen core, as measured by the probes. */
  gflops?: { detected?: number; chosen?: number };
  /** Candidates that were tried and rejected, with why. */
  rejected?: string[];
  /** The OpenBLAS shared library the probes loaded. */
  library?: string;
  /** Set when OpenBLAS's own core computes wrong sgemm results (and no candidate was right either). */
  broken?: string;
  /** One line for banners and `adapters doctor`. */
  note: string;
}

export interface ChooseOptions {
  env?: Record<string, string | undefined>;
  cpu?: CpuFeatures;
  /** Directory for the verdict cache; default $ADAPTERS_CACHE or ~/.cache/adapters-ts. */
  cacheDir?: string;
  /** Runs one probe; default: scripts/blas-probe.js in a child process. */
  probe?: Probe;
}

const packageRoot = path.resolve(__dirname, '..');
const PROBE_SCRIPT = path.join(packageRoot, 'scripts', 'blas-probe.js');
const PROBE_TIMEOUT_MS = 60_000;
/** At most this many candidates are probed (first run only; each is a ~1 s child process). */
const MAX_CANDIDATES = 3;

const firstLine = (s: string) => s.split('\n').map((l) => l.trim()).find(Boolean) ?? '';

/** Runs scripts/blas-probe.js on `addonFile` with OPENBLAS_CORETYPE = coretype (or unset). */
export function probeInChild(
  addonFile: string, coretype: string | undefined, env: Record<string, string | undefined> = process.env, extra: Record<string, string> = {},
): ProbeReport | { error: string } {
  const childEnv: Record<string, string | undefined> = { ...env };
  delete childEnv[CORETYPE_ENV];
  // The core types are probed on the linked OpenBLAS; another library is probed only when `extra` names it.
  delete childEnv['ADAPTERS_BLAS_LIBRARY'];
  Object.assign(childEnv, extra);
  if (coretype !== undefined) childEnv[CORETYPE_ENV] = coretype;
  const r = spawnSync(process.execPath, [PROBE_SCRIPT, addonFile], { env: childEnv, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  if (r.error) return { error: firstLine(r.error.message) };
  if (r.status !== 0) return { error: r.signal ? `killed by ${r.signal}` : `exit ${r.status}: ${firstLine(r.stderr ?? '')}` };
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as ProbeReport;
  } catch {
    return { error: `unreadable probe output: ${firstLine(r.stdout ?? '')}` };
  }
}

export function cacheRoot(env: Record<string, string | undefined>): string {
  const fromEnv = env[CACHE_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : path.join(os.homedir(), '.cache', 'adapters-ts');
}

const CACHE_FILE = 'openblas-core.json';

interface CacheEntry {
  choice: BlasCoreChoice;
  library?: ProbeReport['library'];
  config: string;
}

/** Key: the addon build (path, size, mtime) and the CPU (vendor, flags). The library is checked on read. */
function cacheKey(addonFile: string, cpu: CpuFeatures): string | undefined {
  try {
    const st = fs.statSync(addonFile);
    const text = JSON.stringify([path.resolve(addonFile), st.size, st.mtimeMs, cpu.vendor, [...cpu.flags].sort()]);
    return createHash('sha256').update(text).digest('hex').slice(0, 32);
  } catch {
    return undefined;
  }
}

function readCache(dir: string): Record<string, CacheEntry> {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dir, CACHE_FILE), 'utf8')) as unknown;
    return json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, CacheEntry>) : {};
  } catch {
    return {};
  }
}

/** Same library file as when the verdict was cached (an upgraded OpenBLAS gets probed again). */
function libraryUnchanged(lib: CacheEntry['library']): boolean {
  if (lib === undefined) return true;
  try {
    const st = fs.statSync(lib.path);
    return st.size === lib.size && st.mtimeMs === lib.mtimeMs;
  } catch {
    return false;
  }
}

/** Best effort: an unwritable cache only costs a re-probe next time. Atomic (temp file + rename). */
function writeCache(dir: string, key: string, entry: CacheEntry): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const all = readCache(dir);
    all[key] = entry;
    const tmp = path.join(dir, `${CACHE_FILE}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, `${JSON.stringify(all, null, 1)}\n`);
    fs.renameSync(tmp, path.join(dir, CACHE_FILE));
  } catch {
    // read-only home, full disk: fine
  }
}

const fmt = (g: number | undefined) => (g === undefined ? '?' : g.toFixed(0));

/** Probes OpenBLAS's own pick, then (when it is below what the CPU allows) better core types until one passes. */
function decide(addonFile: string, cpu: CpuFeatures, probe: Probe): { choice: BlasCoreChoice; report?: ProbeReport } {
  const base = probe(addonFile, undefined);
  if ('error' in base) return { choice: { source: 'detected', note: `OpenBLAS core not checked (probe failed: ${base.error})` } };
  const detected = base.corename;
  const upgrades = upgradesFor(detected, cpu).slice(0, MAX_CANDIDATES);
  const rejected: string[] = [];
  for (const candidate of upgrades) {
    const r = probe(addonFile, candidate);
    if ('error' in r) rejected.push(`${candidate}: ${r.error}`);
    else if (r.corename.toLowerCase() !== candidate.toLowerCase()) rejected.push(`${candidate}: this OpenBLAS loaded ${r.corename} instead`);
    else if (!r.selfTest.ok) rejected.push(`${candidate}: wrong sgemm results (${r.selfTest.failure ?? 'self-test failed'})`);
    else {
      const speedup = r.gflops !== undefined && base.gflops !== undefined ? `, sgemm ${fmt(base.gflops)} → ${fmt(r.gflops)} GFLOP/s` : '';
      return {
        report: r,
        choice: {
          coretype: candidate, source: 'auto', detected,
          gflops: { ...(base.gflops !== undefined ? { detected: base.gflops } : {}), ...(r.gflops !== undefined ? { chosen: r.gflops } : {}) },
          ...(rejected.length > 0 ? { rejected } : {}),
          note: `OpenBLAS ${candidate} (chosen: OpenBLAS detected ${detected}${speedup}; self-test passed)`,
        },
      };
    }
  }
  const why = rejected.length > 0 ? `; rejected ${rejected.join('; ')}` : '';
  const g = base.gflops !== undefined ? { gflops: { detected: base.gflops } } : {};
  if (!base.selfTest.ok) {
    const broken = `OpenBLAS ${detected} computes wrong sgemm results (${base.selfTest.failure ?? 'self-test failed'})`;
    return { report: base, choice: { source: 'detected', detected, broken, ...(rejected.length > 0 ? { rejected } : {}), note: `${broken}${why}` } };
  }
  const generic = upgrades.length > 0 ? ` (generic kernels: this CPU could run ${upgrades[0]} but none verified${why})` : '';
  return { report: base, choice: { source: 'detected', detected, ...g, ...(rejected.length > 0 ? { rejected } : {}), note: `OpenBLAS ${detected}${generic}` } };
}

/**
 * Decides OPENBLAS_CORETYPE for loading `addonFile`. Respects a user-set OPENBLAS_CORETYPE and
 * ADAPTERS_BLAS_AUTO_CORE=0; otherwise reads the CPU's features, consults the cache, and probes when needed.
 * Never throws. Does not modify the environment (the loader does).
 */
export function chooseBlasCore(addonFile: string, options: ChooseOptions = {}): BlasCoreChoice {
  const env = options.env ?? process.env;
  const user = env[CORETYPE_ENV];
  if (user !== undefined && user !== '') return { coretype: user, source: 'user', note: `OpenBLAS ${user} (${CORETYPE_ENV} set by you)` };
  if (env[AUTO_CORE_ENV] === '0') return { source: 'off', note: `OpenBLAS's own core detection (${AUTO_CORE_ENV}=0)` };
  const cpu = options.cpu ?? readCpuFeatures();
  if (cpu === undefined) return { source: 'off', note: "OpenBLAS's own core detection (CPU features unknown on this platform)" };
  const dir = options.cacheDir ?? cacheRoot(env);
  const key = cacheKey(addonFile, cpu);
  if (key !== undefined) {
    const hit = readCache(dir)[key];
    if (hit !== undefined && libraryUnchanged(hit.library)) {
      const library = hit.library !== undefined ? { library: hit.library.path } : {};
      return { ...hit.choice, ...library, ...(hit.choice.source === 'auto' ? { source: 'cached' as const } : {}) };
    }
  }
  const probe = options.probe ?? ((file: string, coretype: string | undefined) => probeInChild(file, coretype, env));
  const decided = decide(addonFile, cpu, probe);
  const { report } = decided;
  const choice = report?.library !== undefined ? { ...decided.choice, library: report.library.path } : decided.choice;
  // Cache only verdicts from probes that ran to completion (a timeout on a busy machine is not a verdict).
  if (key !== undefined && report !== undefined) writeCache(dir, key, { choice, config: report.config, ...(report.library ? { library: report.library } : {}) });
  return choice;
}

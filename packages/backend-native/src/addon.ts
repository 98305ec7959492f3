// Locates and loads the N-API addon (build/Release/backend_native.node). Loading happens at most once.
import * as fs from 'fs';
import * as path from 'path';
import type { BlasCoreChoice } from './blas-core';
import { chooseBlasCore, CORETYPE_ENV } from './blas-core';
import { BLAS_LIBRARY_ENV, KMP_BLOCKTIME_ENV, pickBlasLibrary } from './blas-library';

/** The addon's exports; see native/backend_native.c for the exact contracts. */
export interface NativeAddon {
  gemm(
    heap: ArrayBuffer, aOff: number, bOff: number, cOff: number, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, aStride: number, bStride: number,
    aIndex?: Int32Array | null, bIndex?: Int32Array | null,
  ): void;
  biasAct(heap: ArrayBuffer, cOff: number, rows: number, n: number, biasOff: number, act: number, alpha: number): void;
  reduceSum(heap: ArrayBuffer, xOff: number, outOff: number, outer: number, reduce: number, inner: number): void;
  transpose32(heap: ArrayBuffer, xOff: number, outOff: number, batch: number, rows: number, cols: number): void;
  /** out[b][c][r][0..inner) = x[b][r][c][0..inner) for 4-byte elements (e.g. attention's head split, perm [0,2,1,3]). */
  transposeBlocks32(heap: ArrayBuffer, xOff: number, outOff: number, batch: number, rows: number, cols: number, inner: number): void;
  gather32(
    heap: ArrayBuffer, xOff: number, idxOff: number, outOff: number, outer: number, n: number, inner: number, count: number,
  ): void;
  geluFwd(heap: ArrayBuffer, xOff: number, yOff: number, count: number): void;
  geluGrad(heap: ArrayBuffer, dyOff: number, xOff: number, dxOff: number, count: number): void;
  softmaxGrad(heap: ArrayBuffer, dyOff: number, yOff: number, dxOff: number, rows: number, n: number): void;
  layerNorm(
    heap: ArrayBuffer, xOff: number, gammaOff: number, betaOff: number, yOff: number, meanOff: number, rstdOff: number,
    rows: number, n: number, epsilon: number,
  ): void;
  layerNormGrad(
    heap: ArrayBuffer, dyOff: number, xOff: number, gammaOff: number, meanOff: number, rstdOff: number, dxOff: number,
    dgammaOff: number, dbetaOff: number, rows: number, n: number,
  ): void;
  adamW(
    heap: ArrayBuffer, pOff: number, gOff: number, mOff: number, vOff: number, pOutOff: number, mOutOff: number,
    vOutOff: number, count: number, lr: number, beta1: number, beta2: number, epsilon: number, weightDecay: number,
    step: number,
  ): void;
  dropoutMask(heap: ArrayBuffer, outOff: number, count: number, k1: number, k2: number, threshold: number, scale: number): void;
  scatterAddRows(heap: ArrayBuffer, dyOff: number, idsOff: number, outOff: number, count: number, width: number, rows: number): void;
  addLayerNorm(heap: ArrayBuffer, aOff: number, bOff: number, cOff: number, gammaOff: number, betaOff: number, yOff: number, rows: number, n: number, epsilon: number): void;
  bottleneck(
    heap: ArrayBuffer, hOff: number, xOff: number, wdOff: number, bdOff: number, wuOff: number, buOff: number, gammaOff: number,
    betaOff: number, preGammaOff: number, preBetaOff: number, yOff: number, rows: number, w: number, m: number, act: number,
    scale: number, epsilon: number, preEpsilon: number,
  ): void;
  attention(
    heap: ArrayBuffer, qOff: number, kOff: number, vOff: number, maskOff: number, pkOff: number, pvOff: number, outOff: number,
    batch: number, seq: number, heads: number, dh: number, prefix: number, scale: number,
  ): void;
  attentionTrain(
    heap: ArrayBuffer, qOff: number, kOff: number, vOff: number, maskOff: number, pkOff: number, pvOff: number, outOff: number,
    probsOff: number, batch: number, seq: number, heads: number, dh: number, prefix: number, perExample: boolean, scale: number,
    k1: number, k2: number, threshold: number, keepScale: number,
  ): void;
  attentionGrad(
    heap: ArrayBuffer, dyOff: number, qOff: number, kOff: number, vOff: number, pkOff: number, pvOff: number, probsOff: number,
    dqOff: number, dkOff: number, dvOff: number, dpkOff: number, dpvOff: number, batch: number, seq: number, heads: number,
    dh: number, prefix: number, perExample: boolean, scale: number, k1: number, k2: number, threshold: number, keepScale: number,
  ): void;
  stridedCopy32(heap: ArrayBuffer, srcOff: number, dstOff: number, outer: number, count: number, srcStride: number, dstStride: number): void;
  /** out[rows, n] = a ∘ b, op 0 add, 1 subtract, 2 multiply; kind 0 full [rows, n], 1 one row [n] broadcast, 2 one value. */
  binary32(
    heap: ArrayBuffer, op: number, aOff: number, aKind: number, bOff: number, bKind: number, outOff: number, rows: number, n: number,
  ): void;
  /** Maps a file read-only outside the wasm heap (external.h): kernels address it as region·2^40 + byte offset. */
  mapFile(path: string): { region: number; buffer: ArrayBuffer; bytes: number };
  /** Zeroed memory outside the wasm heap, addressed like a mapped file. */
  allocRegion(bytes: number): { region: number; buffer: ArrayBuffer; bytes: number };
  /** Live external regions (mapped files and allocations not yet collected). */
  externalRegions(): number;
  /** Threads of the element-wise kernels' pool (the caller included), set by setNumThreads. */
  parallelThreads(): number;
  /** Sets the pool's threads alone (1..16); setNumThreads sets them along with the BLAS's. */
  setParallelThreads(threads: number): void;
  /** library: the CBLAS loaded from ADAPTERS_BLAS_LIBRARY ('' = the linked OpenBLAS); libraryError: why it was not. */
  info(): { config: string; corename: string; threads: number; library?: string; libraryError?: string };
  setNumThreads(threads: number): void;
  /** The attention and bottleneck kernels' panels: 1 v16 (AVX-512's), 0 v8, -1 the CPU's choice (the default). */
  setPanelWidth(width: -1 | 0 | 1): void;
}

export type AddonLoad =
  | { addon: NativeAddon; path: string; blas: BlasCoreChoice }
  /** `fix`: the one command that makes the addon load (absent when the user turned it off). */
  | { addon?: undefined; reason: string; fix?: string; blas?: BlasCoreChoice };

/** Env var naming an addon file to load instead of the package's own build. */
export const ADDON_PATH_ENV = 'ADAPTERS_NATIVE_ADDON';
/** Set to 1 to keep the stock wasm kernels even when the addon is built. */
export const DISABLE_ENV = 'ADAPTERS_NATIVE_KERNELS_DISABLE';

/** Re-runs the package's install script (scripts/build-native.js), in a project or in this monorepo. */
export const REBUILD_COMMAND = 'npm rebuild @adapters/backend-native';
const sudo = typeof process.getuid === 'function' && process.getuid() !== 0 ? 'sudo ' : '';
const OPENBLAS_FIX = `${process.platform === 'darwin' ? 'brew install openblas' : `${sudo}apt-get install -y libopenblas-dev`} && ${REBUILD_COMMAND}`;

/**
 * What scripts/build-native.js recorded next to the addon (npm hides install-script output, so this is how a
 * failed build at install reaches the user). Undefined when there is no readable record.
 */
function buildStatus(addonFile: string): { ok: boolean; reason?: string; fix?: string } | undefined {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(path.dirname(addonFile), 'build-status.json'), 'utf8')) as Record<string, unknown>;
    if (typeof json['ok'] !== 'boolean') return undefined;
    return { ok: json['ok'], ...(typeof json['reason'] === 'string' ? { reason: json['reason'] } : {}), ...(typeof json['fix'] === 'string' ? { fix: json['fix'] } : {}) };
  } catch {
    return undefined;
  }
}

/** Long compiler output cut to something a one-line banner can carry. */
const clip = (s: string, n = 240) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The package root, from src/ (ts-jest, ts-node) or dist/ (built). */
const packageRoot = path.resolve(__dirname, '..');

export function defaultAddonPath(): string {
  return path.join(packageRoot, 'build', 'Release', 'backend_native.node');
}

const firstLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split('\n')[0]!.trim();

let cached: AddonLoad | undefined;

/** Loads the addon once; later calls return the same result (success or the one-line reason). */
export function loadAddon(env: Record<string, string | undefined> = process.env): AddonLoad {
  if (cached !== undefined) return cached;
  cached = probeAddon(env);
  return cached;
}

/** OpenBLAS's idle-spin setting: its workers spin 2^N cycles after a product before they sleep. */
export const BLAS_SPIN_ENV = 'OPENBLAS_THREAD_TIMEOUT';
/** 2^16 cycles ≈ 25 µs: back-to-back products (attention's per-head calls) still find the workers awake. */
export const BLAS_SPIN_DEFAULT = '16';

/**
 * OpenBLAS's default lets its workers spin ~0.1 s (2^28 cycles) after every product, on the cores our own
 * row-parallel kernels (AdaptersBottleneck) then want: measured right after an FFN-sized product, the
 * bottleneck kernel took 1.7 ms with the default and 1.0 ms with 2^16. OpenBLAS reads the variable once, when
 * the library loads (with this addon), so it is set here, before dlopen, unless the user set it.
 */
function keepBlasThreadsFromSpinning(env: Record<string, string | undefined>): void {
  if (env === process.env && process.env[BLAS_SPIN_ENV] === undefined) process.env[BLAS_SPIN_ENV] = BLAS_SPIN_DEFAULT;
}

/**
 * OpenBLAS falls back to generic SSE3 kernels on CPUs its model table does not know (a masked or newer model):
 * ~5× slower matmuls on an AVX-512 Xeon. chooseBlasCore picks and verifies a better core type in child
 * processes (cached); it is applied here, before dlopen, the only moment OpenBLAS reads it.
 */
function pickBlasKernels(file: string, env: Record<string, string | undefined>): BlasCoreChoice {
  const choice = chooseBlasCore(file, { env });
  if (env === process.env && choice.coretype !== undefined && choice.source !== 'user') process.env[CORETYPE_ENV] = choice.coretype;
  return choice;
}

/**
 * Another BLAS library (MKL fetched by scripts/fetch-blas.js, or the user's ADAPTERS_BLAS_LIBRARY), verified and
 * raced in child processes (cached); applied by setting ADAPTERS_BLAS_LIBRARY before dlopen, which the addon reads
 * in its init. A rejected user value is removed from the environment so the addon uses the linked OpenBLAS.
 */
function pickLibrary(file: string, env: Record<string, string | undefined>, blas: BlasCoreChoice): string | undefined {
  const lib = pickBlasLibrary(file, blas.coretype, env);
  if (lib.spec !== undefined) {
    blas.library = lib.spec.split(':').pop() ?? lib.spec;
    blas.note = `${lib.note ?? lib.spec}; fallback ${blas.note}`;
    if (lib.rejected !== undefined) blas.rejected = [...(blas.rejected ?? []), ...lib.rejected];
  } else if (lib.note !== undefined) {
    blas.note = `${blas.note}; ${lib.note}`;
  }
  if (env === process.env) {
    if (lib.spec !== undefined) {
      process.env[BLAS_LIBRARY_ENV] = lib.spec;
      // Intel OpenMP spins 200 ms after each product by default, on the cores our row-parallel kernels (bottleneck,
      // attention) want right after an FFN product; 0 = sleep at once (a wake-up costs µs against ms-long products).
      if (process.env[KMP_BLOCKTIME_ENV] === undefined) process.env[KMP_BLOCKTIME_ENV] = '0';
    } else {
      delete process.env[BLAS_LIBRARY_ENV];
    }
  }
  return lib.spec;
}

/** Tries to load the addon now (uncached); loadAddon() is the cached entry point. */
export function probeAddon(env: Record<string, string | undefined>): AddonLoad {
  if (env[DISABLE_ENV] === '1') return { reason: `disabled by ${DISABLE_ENV}=1` };
  const file = env[ADDON_PATH_ENV] || defaultAddonPath();
  if (!fs.existsSync(file)) {
    const rel = path.relative(process.cwd(), file);
    const shown = rel === '' || rel.startsWith('..') ? file : rel;
    const status = buildStatus(file);
    if (status?.ok === false && status.reason !== undefined) {
      return { reason: `native addon not built: the build at install failed (${clip(status.reason)})`, fix: status.fix ?? REBUILD_COMMAND };
    }
    return { reason: `native addon not built (${shown} is missing)`, fix: REBUILD_COMMAND };
  }
  keepBlasThreadsFromSpinning(env);
  const blas = pickBlasKernels(file, env);
  const spec = blas.broken === undefined ? pickLibrary(file, env, blas) : undefined;
  if (blas.broken !== undefined) return { reason: blas.broken, fix: `set ${CORETYPE_ENV} to a core type that passes, or reinstall OpenBLAS and run ${REBUILD_COMMAND}`, blas };
  // process.dlopen rather than require: works the same under jest's module registry and needs no resolver.
  const mod: { exports: Partial<NativeAddon> } = { exports: {} };
  try {
    process.dlopen(mod, file);
  } catch (e) {
    // Typically "libopenblas.so.0: cannot open shared object file" when OpenBLAS was removed after the build.
    const message = firstLine(e);
    return { reason: `native addon failed to load: ${message}`, fix: /openblas/i.test(message) ? OPENBLAS_FIX : REBUILD_COMMAND, blas };
  }
  const a = mod.exports;
  const required: Array<keyof NativeAddon> = ['gemm', 'biasAct', 'reduceSum', 'transpose32', 'gather32', 'geluFwd',
    'geluGrad', 'softmaxGrad', 'layerNorm', 'layerNormGrad', 'adamW', 'dropoutMask', 'scatterAddRows', 'addLayerNorm', 'bottleneck', 'attention', 'attentionTrain', 'attentionGrad', 'stridedCopy32', 'binary32', 'transposeBlocks32', 'parallelThreads', 'setParallelThreads', 'info', 'setNumThreads', 'mapFile', 'allocRegion', 'externalRegions'];
  if (required.some((name) => typeof a[name] !== 'function')) {
    return { reason: `native addon at ${file} is stale (missing exports)`, fix: REBUILD_COMMAND, blas };
  }
  const info = (a as NativeAddon).info();
  if (spec !== undefined && info.library !== spec.split(':').pop()) {
    // Loud: the verified library did not load in this process (the addon fell back to the linked OpenBLAS).
    blas.note = `linked OpenBLAS ${info.corename}: ${BLAS_LIBRARY_ENV} was verified but not loaded here (${info.libraryError || 'set too late?'})`;
    delete blas.library;
    return { addon: a as NativeAddon, path: file, blas };
  }
  if (spec !== undefined) return { addon: a as NativeAddon, path: file, blas };
  const loaded = info.corename;
  if (blas.coretype !== undefined && loaded.toLowerCase() !== blas.coretype.toLowerCase()) {
    // Either this OpenBLAS does not know the name, or the variable never reached the C environment (under jest,
    // process.env is a copy) or the library was loaded before.
    blas.note = `OpenBLAS ${loaded} (${CORETYPE_ENV}=${blas.coretype} was not applied)`;
  }
  return { addon: a as NativeAddon, path: file, blas };
}

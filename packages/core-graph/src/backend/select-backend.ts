// Picks the fastest TensorFlow.js backend available: native GPU -> native CPU -> wasm -> plain JS cpu.
import * as tf from '@tensorflow/tfjs';
import { AdapterGraphError } from '../errors';
// Importing the wasm package registers the 'wasm' backend as a side effect.
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { guardWasmAllocations } from './wasm-heap-guard';
import type { WeightMapper } from './weight-mapper';
import { setWeightMapper } from './weight-mapper';
import { enableZeroCopyKernels, zeroCopyKernelsEnabled } from './wasm-zero-copy';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendChoice {
  name: BackendName;
  /** The name tfjs knows the backend by (both native packages register 'tensorflow'). */
  tfBackend: string;
  /** Backends tried before the chosen one, with why each was skipped. */
  tried: Array<{ name: string; reason: string }>;
  /** On wasm: whether @adapters/backend-native's OpenBLAS kernels replaced the stock ones. */
  nativeKernels?: NativeKernelStatus;
}

export interface SelectBackendOptions {
  /** Force one backend; wins over ADAPTERS_BACKEND (an explicit flag beats the environment). */
  prefer?: string;
  env?: Record<string, string | undefined>;
  /** Receives exactly one line naming the chosen backend. Default: silent. */
  log?: (line: string) => void;
  /** Loads the optional native packages; defaults to Node's require. Tests inject fakes here. */
  requireModule?: (id: string) => unknown;
  /** Use @adapters/backend-native's kernels on wasm when installed (default true; ADAPTERS_NATIVE_KERNELS_DISABLE=1 turns them off). */
  nativeKernels?: boolean;
}

export class BackendUnavailableError extends AdapterGraphError {
  /** What was asked for, as given (e.g. 'node'); undefined when auto-selection found nothing. */
  readonly requested?: string;

  constructor(message: string, requested?: string) {
    super(message, 'E_BACKEND');
    if (requested !== undefined) this.requested = requested;
  }
}

export const ENV_VAR = 'ADAPTERS_BACKEND';

/** Accepted spellings, in the order shown to users. */
const ALIASES: Readonly<Record<string, BackendName>> = {
  gpu: 'tensorflow-gpu',
  'tensorflow-gpu': 'tensorflow-gpu',
  node: 'tensorflow',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};
export const VALID_BACKEND_NAMES: readonly string[] = Object.keys(ALIASES);

interface Candidate {
  name: BackendName;
  tfBackend: string;
  /** npm package that must be loaded to register the backend. */
  pkg?: string;
  remedy: string;
}

const CANDIDATES: readonly Candidate[] = [
  { name: 'tensorflow-gpu', tfBackend: 'tensorflow', pkg: '@tensorflow/tfjs-node-gpu', remedy: 'install @tensorflow/tfjs-node-gpu (needs CUDA)' },
  { name: 'tensorflow', tfBackend: 'tensorflow', pkg: '@tensorflow/tfjs-node', remedy: 'install @tensorflow/tfjs-node' },
  { name: 'wasm', tfBackend: 'wasm', remedy: 'reinstall @tensorflow/tfjs-backend-wasm (its .wasm files must be readable)' },
  { name: 'cpu', tfBackend: 'cpu', remedy: 'reinstall @tensorflow/tfjs' },
];

/** Which native package provided the current 'tensorflow' backend, for describeBackend(). */
let nativePackage: string | undefined;

const firstLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split('\n')[0]!.trim();

function isMissingModule(e: unknown, pkg: string): boolean {
  // Only "this package is missing" counts; a missing transitive dependency is a load failure.
  return (e as { code?: unknown })?.code === 'MODULE_NOT_FOUND' && firstLine(e).includes(`'${pkg}'`);
}

/** Tries to make `c` the active backend. Returns why it failed, or undefined on success. */
async function activate(c: Candidate, load: (id: string) => unknown): Promise<string | undefined> {
  if (c.pkg !== undefined) {
    try {
      load(c.pkg);
    } catch (e) {
      return isMissingModule(e, c.pkg) ? `${c.pkg} is not installed` : `${c.pkg} failed to load: ${firstLine(e)}`;
    }
  }
  if (tf.findBackendFactory(c.tfBackend) == null) {
    return c.pkg !== undefined
      ? `${c.pkg} loaded but did not register the '${c.tfBackend}' backend with this copy of @tensorflow/tfjs`
      : `the '${c.tfBackend}' backend is not registered`;
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(c.tfBackend);
  } catch (e) {
    return `tf.setBackend('${c.tfBackend}') threw: ${firstLine(e)}`;
  }
  // setBackend reports init failure only via `false`; tfjs then silently falls back on the next use.
  if (!ok) return `tf.setBackend('${c.tfBackend}') returned false (initialisation failed)`;
  await tf.ready();
  const active = tf.getBackend();
  if (active !== c.tfBackend) return `tfjs fell back to '${active}' after setBackend('${c.tfBackend}')`;
  nativePackage = c.pkg ?? nativePackage;
  return undefined;
}

function parseRequest(options: SelectBackendOptions): { raw: string; via: 'prefer' | 'env' } | undefined {
  const prefer = options.prefer?.trim();
  if (prefer) return { raw: prefer, via: 'prefer' };
  const fromEnv = (options.env ?? process.env)[ENV_VAR]?.trim();
  if (fromEnv) return { raw: fromEnv, via: 'env' };
  return undefined;
}

/**
 * Activates the best available backend (or the forced one) and reports what happened.
 * Safe to call repeatedly: re-selecting an initialised backend is cheap.
 */
/** What the optional OpenBLAS kernels (@adapters/backend-native) did on the wasm backend. */
export interface NativeKernelStatus {
  readonly enabled: boolean;
  readonly reason?: string;
  readonly kernels: readonly string[];
  /** The one command that turns them on, when they are off. */
  readonly fix?: string;
  /** OpenBLAS's kernel set, one line (e.g. "OpenBLAS SkylakeX (chosen: OpenBLAS detected Prescott, …)"). */
  readonly blas?: string;
}

/**
 * How much slower the stock wasm kernels are than the native ones: `npm run run -w @adapters/bench -- --task unpaired --index 2`
 * on a 2-core AVX-512 Xeon (OpenBLAS Cooperlake, chosen by backend-native), back to back, two pairs on a machine
 * shared with other jobs: Pfeiffer training step 16 × 128 5.7× and 5.0×, base inference 6.4× and 5.4×.
 */
export const STOCK_WASM_SLOWDOWN = '~5–6×';

/** The one line the CLI prints when the native kernels are off for a reason the user can fix. */
export function nativeKernelsOffLine(status: NativeKernelStatus): string | undefined {
  if (status.enabled || status.fix === undefined) return undefined;
  return `native kernels off (${status.reason ?? 'unknown reason'}): training and inference run ${STOCK_WASM_SLOWDOWN} slower on stock wasm; fix: ${status.fix}`;
}

let nativeStatus: NativeKernelStatus | undefined;

/** On wasm: shares buffers in Identity/Cast (see wasm-zero-copy) and registers @adapters/backend-native's kernels when that package is installed and its addon built. */
function enableWasmKernels(load: (id: string) => unknown, options: SelectBackendOptions): NativeKernelStatus | undefined {
  const env = options.env ?? process.env;
  if (env['ADAPTERS_ZERO_COPY_DISABLE'] !== '1') enableZeroCopyKernels();
  guardWasmAllocations();
  if (options.nativeKernels === false || env['ADAPTERS_NATIVE_KERNELS_DISABLE'] === '1') return undefined;
  let mod: { enableNativeKernels?: () => NativeKernelStatus; weightMapper?: WeightMapper };
  try {
    mod = load(NATIVE_PACKAGE) as typeof mod;
  } catch (e) {
    nativeStatus = isMissingModule(e, NATIVE_PACKAGE)
      ? { enabled: false, reason: `${NATIVE_PACKAGE} is not installed`, kernels: [], fix: `npm install ${NATIVE_PACKAGE}` }
      : { enabled: false, reason: `${NATIVE_PACKAGE} failed to load: ${firstLine(e)}`, kernels: [] };
    return nativeStatus;
  }
  nativeStatus = mod.enableNativeKernels?.() ?? { enabled: false, reason: `${NATIVE_PACKAGE} has no enableNativeKernels()`, kernels: [] };
  // Its kernels read mapped weights in place, so the loaders may map the base instead of copying it into the heap.
  setWeightMapper(nativeStatus.enabled ? mod.weightMapper : undefined);
  return nativeStatus;
}

const NATIVE_PACKAGE = '@adapters/backend-native';

function logNativeOff(native: NativeKernelStatus | undefined, options: SelectBackendOptions): void {
  const line = native !== undefined ? nativeKernelsOffLine(native) : undefined;
  if (line !== undefined) options.log?.(line);
}

export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendChoice> {
  // A plain require with a variable id: TypeScript needs no typings for optional peers that may be absent.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = options.requireModule ?? ((id: string) => require(id) as unknown);
  const request = parseRequest(options);

  if (request !== undefined) {
    const origin = request.via === 'env' ? `${ENV_VAR}=${request.raw}` : `prefer: '${request.raw}'`;
    const undo = request.via === 'env' ? `unset ${ENV_VAR}` : 'choose another backend';
    const name = ALIASES[request.raw.toLowerCase()];
    if (name === undefined) {
      throw new BackendUnavailableError(
        `unknown backend '${request.raw}' (from ${origin}); valid names: ${VALID_BACKEND_NAMES.join(', ')}`,
        request.raw,
      );
    }
    const c = CANDIDATES.find((x) => x.name === name)!;
    const previous = tf.getBackend() as string | null; // null until some backend was initialised
    const reason = await activate(c, load);
    if (reason !== undefined) {
      // Don't leave tfjs pointing at a half-initialised backend.
      if (previous && tf.getBackend() !== previous) await tf.setBackend(previous).catch(() => false);
      throw new BackendUnavailableError(
        `backend '${name}' requested by ${origin} is unavailable: ${reason}; ${c.remedy}, or ${undo}`,
        request.raw,
      );
    }
    const native = name === 'wasm' ? enableWasmKernels(load, options) : undefined;
    options.log?.(`backend: ${describeBackend()} (forced by ${origin})`);
    logNativeOff(native, options);
    return { name, tfBackend: c.tfBackend, tried: [], ...(native ? { nativeKernels: native } : {}) };
  }

  const tried: BackendChoice['tried'] = [];
  for (const c of CANDIDATES) {
    const reason = await activate(c, load);
    if (reason === undefined) {
      const native = c.name === 'wasm' ? enableWasmKernels(load, options) : undefined;
      const skipped = tried.map((t) => `${t.name} (${t.reason})`).join(', ');
      options.log?.(`backend: ${describeBackend()}${skipped ? `; skipped ${skipped}` : ''}`);
      logNativeOff(native, options);
      return { name: c.name, tfBackend: c.tfBackend, tried, ...(native ? { nativeKernels: native } : {}) };
    }
    tried.push({ name: c.name, reason });
  }
  throw new BackendUnavailableError(
    `no TensorFlow.js backend could be initialised: ${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')}`,
  );
}

/** Reads an already-evaluated tfjs flag without forcing async evaluation (which would throw). */
function evaluatedFlag(name: string): unknown {
  try {
    return tf.env().getFlags()[name];
  } catch {
    return undefined;
  }
}

/** Human-readable summary of the active backend, e.g. "wasm (SIMD, 1 thread)" or "cpu". */
export function describeBackend(): string {
  const name = tf.getBackend() as string | null;
  if (!name) return 'none';
  if (name === 'tensorflow') return nativePackage ? `tensorflow (${nativePackage})` : 'tensorflow';
  if (name !== 'wasm') return name;
  const parts: string[] = [];
  const simd = evaluatedFlag('WASM_HAS_SIMD_SUPPORT');
  if (typeof simd === 'boolean') parts.push(simd ? 'SIMD' : 'no SIMD');
  let threads: number | undefined;
  try {
    threads = getThreadsCount(); // the count actually in use; throws before wasm is initialised
  } catch {
    if (evaluatedFlag('WASM_HAS_MULTITHREAD_SUPPORT') === false) threads = 1;
  }
  if (threads !== undefined) parts.push(`${threads} thread${threads === 1 ? '' : 's'}`);
  if (zeroCopyKernelsEnabled()) parts.push('zero-copy Identity/Cast');
  if (nativeStatus?.enabled && nativeStatus.blas !== undefined) parts.push(nativeStatus.blas);
  if (nativeStatus) parts.push(nativeStatus.enabled ? `OpenBLAS kernels: ${nativeStatus.kernels.join(', ')}` : `stock kernels: ${nativeStatus.reason ?? 'native kernels off'}`);
  return parts.length > 0 ? `wasm (${parts.join(', ')})` : 'wasm';
}

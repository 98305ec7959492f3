// `adapters doctor`: what the engine runs on here (backend, kernels, threads, BLAS library and core, heap
// limits) and, for anything slow or off, the one command or setting that fixes it.
import * as os from 'os';
import { getHeapStatistics } from 'v8';
import * as tf from '@tensorflow/tfjs';
import type { CommandSpec, ParsedArgs } from './args';
import type { CliContext } from './commands';
import type { NativeKernelStatus } from '@adapters/core-graph';
import { describeBackend, MAP_WEIGHTS_ENV, nativeKernelsOffLine, selectBackend, STOCK_WASM_SLOWDOWN, weightMapper } from '@adapters/core-graph';

export const DOCTOR_SPEC: CommandSpec = {
  name: 'doctor',
  brief: 'check the engine: backend, kernels, threads, BLAS core, heap; and what to fix',
  summary: 'Report the backend, the native kernels and OpenBLAS kernel set, threads and memory limits, and the one command that fixes each problem found.',
  usage: '',
  options: [],
};

/** What @adapters/backend-native reports, read through its public entry (an optional package). */
interface NativeModule {
  nativeInfo?: () => { config: string; corename: string; threads: number; path: string; blas: { note: string; source: string; detected?: string; coretype?: string; library?: string } } | undefined;
  readCpuFeatures?: () => { vendor: string; flags: ReadonlySet<string> } | undefined;
  candidateCores?: (cpu: { vendor: string; flags: ReadonlySet<string> }) => string[];
}

function loadNative(): NativeModule | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@adapters/backend-native') as NativeModule;
  } catch {
    return undefined;
  }
}

/**
 * tfjs-backend-wasm 4.22's heap grows to wasm32's 4 GiB (npm run capacity reached 3.97 GiB before an allocation
 * failed); the module does not expose the maximum at runtime.
 */
const WASM_HEAP_LIMIT = 4 * 1024 ** 3;
const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(bytes < 1024 ** 3 ? 2 : 1)} GiB`;

export async function doctorCommand(_args: ParsedArgs, ctx: CliContext): Promise<void> {
  const out = (label: string, text: string) => ctx.stdout.write(`${`${label}:`.padEnd(11)}${text}\n`);
  const fixes: string[] = [];
  const choice = await selectBackend({ env: ctx.env });
  // The kernel list and the BLAS core get their own lines below.
  out('backend', describeBackend().replace(/, (OpenBLAS|MKL|stock) .*\)$/, ')'));
  for (const t of choice.tried) out('skipped', `${t.name}: ${t.reason}`);

  const status: NativeKernelStatus | undefined = choice.nativeKernels;
  const native = status?.enabled ? loadNative() : undefined;
  const info = native?.nativeInfo?.();
  if (choice.name !== 'wasm') {
    out('kernels', `${choice.name} backend's own`);
  } else if (status === undefined) {
    out('kernels', 'stock wasm (native kernels turned off by ADAPTERS_NATIVE_KERNELS_DISABLE=1 or the caller)');
  } else if (!status.enabled) {
    out('kernels', `stock wasm: ${status.reason ?? 'native kernels off'}`);
    const line = nativeKernelsOffLine(status);
    if (line !== undefined) fixes.push(`${STOCK_WASM_SLOWDOWN} slower until fixed: ${status.fix}`);
  } else {
    out('kernels', `native (${info?.corename === 'MKL' ? 'MKL' : 'OpenBLAS'}) for ${status.kernels.join(', ')}`);
  }

  if (info !== undefined) {
    out('BLAS', `${info.config}${info.blas.library ? ` (${info.blas.library})` : ''}`);
    out('BLAS core', info.blas.note);
    const cpu = native?.readCpuFeatures?.();
    const best = cpu !== undefined ? native?.candidateCores?.(cpu)[0] : undefined;
    if (cpu !== undefined) out('CPU', `${os.cpus()[0]?.model ?? 'unknown'} (${cpu.vendor}; best OpenBLAS core for its features: ${best ?? 'generic'})`);
    if (info.blas.source === 'detected' && best !== undefined && info.corename.toLowerCase() !== best.toLowerCase() && /generic/.test(info.blas.note)) {
      fixes.push(`OpenBLAS runs generic ${info.corename} kernels: install a newer OpenBLAS (BACKEND_NATIVE_BLAS=wheel npm rebuild @adapters/backend-native fetches one with pip), or try OPENBLAS_CORETYPE=${best}`);
    }
    // MKL's GEMMs took ~0.8× OpenBLAS's on an AVX-512 Xeon (packages/backend-native README); optional, fetched.
    if (cpu?.vendor === 'GenuineIntel' && info.corename !== 'MKL' && process.platform === 'linux' && process.arch === 'x64' && !/MKL/.test(info.blas.note)) {
      out('option', 'Intel MKL may run the matmuls faster here: npm run fetch:blas -w @adapters/backend-native (pip; verified and raced against OpenBLAS at the next start)');
    }
    out('threads', `${info.corename === 'MKL' ? 'MKL' : 'OpenBLAS'} ${info.threads}, CPUs ${os.cpus().length}${process.env['OPENBLAS_NUM_THREADS'] ? ` (OPENBLAS_NUM_THREADS=${process.env['OPENBLAS_NUM_THREADS']})` : ''}`);
  } else {
    out('threads', `CPUs ${os.cpus().length}`);
  }

  if (tf.getBackend() === 'wasm') {
    const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer.byteLength ?? 0;
    const mapped = weightMapper() !== undefined && ctx.env[MAP_WEIGHTS_ENV] !== '0';
    out('heap', `wasm ${gib(heap)} in use of ${gib(WASM_HEAP_LIMIT)} (tfjs-backend-wasm's limit: ${mapped ? 'activations and trained weights' : 'model weights + activations'} must fit); JS ${gib(getHeapStatistics().heap_size_limit)} limit`);
    out('weights', mapped
      ? 'base models\' float32 matrices are mapped from model.safetensors, outside the wasm heap (shared by processes; ADAPTERS_MAP_WEIGHTS=0 copies them in)'
      : `copied into the wasm heap (${ctx.env[MAP_WEIGHTS_ENV] === '0' ? 'ADAPTERS_MAP_WEIGHTS=0' : 'mapping needs the native kernels'})`);
  } else {
    out('heap', `JS ${gib(getHeapStatistics().heap_size_limit)} limit`);
  }
  if (fixes.length === 0) out('fix', 'nothing: the engine runs its fastest kernels here');
  for (const f of fixes) out('fix', f);
}

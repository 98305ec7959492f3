// `npm run profile -w @adapters/bench -- [--method NAME_PREFIX] [--batch B] [--seq S] [--inference] [--ab KERNEL[,KERNEL]] [--checkpoint]`:
// one training step (or one forward pass) under tf.profile, kernel time summed by kernel name. Shows where a
// step's time goes before and after an engine change. Profiling reads every kernel's output back, so the
// wall time printed is inflated; the kernel shares are what to compare. `--ab` times the step with and without
// the named fused kernels (unregistered from the active backend in between), alternating in one process, and
// profiles both ways: a before/after of one kernel in the same window of a shared machine (a kernel backend-native
// replaced runs its stock config instead; `--ab pool` runs the native element-wise kernels on 1 thread instead of 2). `--checkpoint` trains
// with gradient checkpointing (compare the printed peak memory with a run without it).
import * as tf from '@tensorflow/tfjs';
import type { TrainExample } from '@adapters/core-graph';
import { addHead, buildEncoder, describeBackend, Executor, MINILM_L6, selectBackend, train, WeightStore } from '@adapters/core-graph';
import { METHODS } from './methods';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const [batch, seq] = [Number(flag('--batch') ?? 8), Number(flag('--seq') ?? 128)];
const top = Number(flag('--top') ?? 25);

export interface KernelShare {
  readonly kernel: string;
  readonly calls: number;
  readonly ms: number;
  readonly share: number;
}

/** Sums profiled kernel time by kernel name, largest first. */
export function kernelShares(kernels: readonly { name: string; kernelTimeMs: number | { error: string } }[]): KernelShare[] {
  const byName = new Map<string, { calls: number; ms: number }>();
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const entry = byName.get(k.name) ?? { calls: 0, ms: 0 };
    entry.calls += 1;
    entry.ms += ms;
    byName.set(k.name, entry);
  }
  const total = [...byName.values()].reduce((s, e) => s + e.ms, 0);
  return [...byName.entries()].map(([kernel, e]) => ({ kernel, calls: e.calls, ms: e.ms, share: total > 0 ? e.ms / total : 0 })).sort((a, b) => b.ms - a.ms);
}

/**
 * customGrad records its whole forward as one pseudo-kernel ('forward', 'unnamed scope', or the op's
 * scope such as 'fusedMatMul__op') around the kernels it runs, which are profiled too: leave those out
 * so no time counts twice.
 */
const isWrapper = (name: string): boolean => name === 'forward' || name === 'unnamed scope' || name.endsWith('__op');

async function main(): Promise<void> {
  await selectBackend({ log: (l) => console.error(l) });
  const encoder = buildEncoder(MINILM_L6);
  const base = addHead(encoder, { type: 'classification', name: 'task', numLabels: 2, pooling: 'cls' });
  const prefix = flag('--method') ?? 'full';
  const method = METHODS.find((m) => m.name.startsWith(prefix));
  if (!method) throw new Error(`--method: no method starts with '${prefix}' (have: ${METHODS.map((m) => m.name).join(', ')})`);
  const built = method.build(base, encoder);
  if (typeof built === 'string') throw new Error(built);
  const examples: TrainExample[] = Array.from({ length: batch }, (_v, i) => ({
    inputIds: [101, ...Array.from({ length: seq - 2 }, (_w, j) => 1000 + ((i * 7919 + j * 104729) % 28000)), 102],
    label: i % 2,
  }));
  const store = WeightStore.create(built.graph, 1);
  const skip = Number(flag('--skip') ?? 0);
  let run: () => void;
  if (args.includes('--inference')) {
    const ex = new Executor(built.graph, store);
    const ids = examples.map((e) => [...e.inputIds]);
    run = () => {
      const out = ex.run({ input_ids: ids }, { outputs: [built.output], ...(skip ? { skipLayers: skip } : {}) });
      tf.dispose(Object.values(out));
    };
  } else {
    run = () => void train({ graph: built.graph, store, output: built.output, train: examples, maxSteps: 1, batchSize: batch, policy: built.policy, ...(skip ? { skipLayers: () => skip } : {}), ...(args.includes('--checkpoint') ? { checkpointLayers: true } : {}) });
  }
  const ab = flag('--ab')?.split(',');
  if (ab) {
    await compareWithout(ab, run, `${method.name}, ${args.includes('--inference') ? 'inference' : 'training step'}, batch ${batch} × ${seq}`);
  } else {
    await profileOnce(run, method.name);
  }
  store.dispose();
}

/** Wall time of `run` (after one warm-up), then its kernel shares under tf.profile. */
async function profileOnce(run: () => void, name: string): Promise<{ wall: number; total: number; matmulShare: number }> {
  run();
  const t0 = Date.now();
  run();
  const wall = Date.now() - t0;
  const info = await tf.profile(run);
  const kernels = await Promise.all(info.kernels.map(async (k) => ({ name: k.name, kernelTimeMs: await k.kernelTimeMs, shapes: `${JSON.stringify(k.inputShapes)} → ${JSON.stringify(k.outputShapes)}` })));
  const shares = kernelShares(kernels.filter((k) => !isWrapper(k.name)));
  const total = shares.reduce((s, e) => s + e.ms, 0);
  console.log(`${name}, ${args.includes('--inference') ? 'inference' : 'training step'}, batch ${batch} × ${seq}, ${describeBackend()}`);
  console.log(`wall (unprofiled) ${wall} ms; kernel time ${total.toFixed(0)} ms over ${kernels.length} kernel calls; peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB\n`);
  console.log('| kernel | calls | ms | share |\n|---|---|---|---|');
  for (const s of shares.slice(0, top)) console.log(`| ${s.kernel} | ${s.calls} | ${s.ms.toFixed(1)} | ${(100 * s.share).toFixed(1)}% |`);
  const detail = flag('--detail');
  if (detail) {
    // Which shapes a kernel ran on: finds the op that produced it.
    const byShape = kernelShares(kernels.filter((k) => k.name === detail).map((k) => ({ name: k.shapes, kernelTimeMs: k.kernelTimeMs })));
    console.log(`\n${detail} by input → output shapes:`);
    for (const s of byShape.slice(0, top)) console.log(`  ${s.calls} × ${s.kernel}: ${s.ms.toFixed(1)} ms`);
  }
  const matmulShare = shares.filter((s) => MATMUL_KERNELS.has(s.kernel)).reduce((t, s) => t + s.share, 0);
  console.log(`matmul share ${(100 * matmulShare).toFixed(1)}%, non-matmul ${(100 * (1 - matmulShare)).toFixed(1)}%`);
  return { wall, total, matmulShare };
}

const MATMUL_KERNELS = new Set(['BatchMatMul', '_FusedMatMul', 'AdaptersBottleneck']);

/** @adapters/backend-native's hooks for --ab, when installed (an optional engine, loaded like core-graph does). */
interface NativeHooks {
  stockKernel?: (name: string) => tf.KernelConfig | undefined;
  setElementwiseThreads?: (threads: number) => boolean;
}

function nativeHooks(): NativeHooks {
  try {
    return require('@adapters/backend-native') as NativeHooks; // eslint-disable-line @typescript-eslint/no-require-imports
  } catch {
    return {};
  }
}

/**
 * Median wall times of `run` with the kernels registered and without, alternating, then both profiles. A kernel
 * the native package replaced (Add, BatchMatMul, ...) is swapped for its stock config rather than unregistered;
 * `pool` stands for the native element-wise thread pool (without = 1 thread).
 */
async function compareWithout(kernels: readonly string[], run: () => void, title: string): Promise<void> {
  const backend = tf.getBackend();
  const hooks = nativeHooks();
  const pool = kernels.includes('pool');
  if (pool && hooks.setElementwiseThreads?.(2) !== true) throw new Error('--ab pool: @adapters/backend-native is not available');
  const named = kernels.filter((k) => k !== 'pool');
  const configs = named.map((k) => {
    const c = tf.getKernel(k, backend);
    if (!c) throw new Error(`--ab: no kernel '${k}' is registered on backend '${backend}'`);
    return { c, stock: hooks.stockKernel?.(k) };
  });
  const without = <T>(f: () => T): T => {
    for (const { c, stock } of configs) {
      tf.unregisterKernel(c.kernelName, backend);
      if (stock) tf.registerKernel(stock);
    }
    if (pool) hooks.setElementwiseThreads?.(1);
    try {
      return f();
    } finally {
      if (pool) hooks.setElementwiseThreads?.(2);
      for (const { c, stock } of configs) {
        if (stock) tf.unregisterKernel(c.kernelName, backend);
        tf.registerKernel(c);
      }
    }
  };
  const reps = Number(flag('--reps') ?? 7);
  const time = (): number => {
    const t0 = process.hrtime.bigint();
    run();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  run();
  without(run);
  const [on, off]: [number[], number[]] = [[], []];
  for (let i = 0; i < reps; i++) {
    // Alternate which goes first, so a slow stretch of the shared machine hits both sides.
    if (i % 2 === 0) {
      on.push(time());
      without(() => off.push(time()));
    } else {
      without(() => off.push(time()));
      on.push(time());
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  console.log(`${title}: median of ${reps} alternating runs: with ${kernels.join(', ')} ${median(on).toFixed(0)} ms, ` +
    `without ${median(off).toFixed(0)} ms (with/without ${(median(on) / median(off)).toFixed(3)}); fastest ${Math.min(...on).toFixed(0)} vs ` +
    `${Math.min(...off).toFixed(0)} ms (${(Math.min(...on) / Math.min(...off)).toFixed(3)}: the least disturbed runs, on a loaded machine)\n`);
  console.log('--- with');
  await profileOnce(run, `with ${kernels.join(', ')}`);
  console.log('\n--- without');
  // tf.profile runs its query synchronously, before its first await: every run happens inside `without`.
  await without(() => profileOnce(run, `without ${kernels.join(', ')}`));
}

main().catch((e: unknown) => {
  console.error(`profile: error: ${(e as Error).message}`);
  process.exit(1);
});

// What the CPU can run, read from /proc/cpuinfo (Linux exposes cpuid's feature bits there as `flags`), and
// which OpenBLAS core types those features allow. OpenBLAS's DYNAMIC_ARCH picks kernels from cpuid's
// family/model table; a CPU newer than the library (or one whose model a hypervisor masks) falls back to
// generic SSE3 kernels ("Prescott") even when it has AVX-512. The features, not the model, say what is safe.
import * as fs from 'fs';

export interface CpuFeatures {
  /** cpuid vendor string, e.g. GenuineIntel, AuthenticAMD. */
  vendor: string;
  flags: ReadonlySet<string>;
}

/** Parses the first processor block of /proc/cpuinfo; undefined when there is no x86 `flags` line. */
export function parseCpuInfo(text: string): CpuFeatures | undefined {
  const field = (name: string) => text.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
  const flags = field('flags');
  if (flags === undefined) return undefined;
  return { vendor: field('vendor_id') ?? 'unknown', flags: new Set(flags.split(/\s+/).filter(Boolean)) };
}

/** This machine's features (Linux x86-64 only; elsewhere undefined). */
export function readCpuFeatures(file = '/proc/cpuinfo'): CpuFeatures | undefined {
  if (process.arch !== 'x64') return undefined;
  try {
    return parseCpuInfo(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Instruction-set level of an OpenBLAS x86 core name: 1 SSE-class generic kernels, 2 SSE4.2, 3 AVX, 4 AVX2+FMA,
 * 5 AVX-512. Undefined for names outside this table (other architectures, future cores): never second-guessed.
 */
const CORE_LEVELS: Readonly<Record<string, number>> = {
  katmai: 1, coppermine: 1, northwood: 1, prescott: 1, banias: 1, atom: 1, core2: 1, penryn: 1, dunnington: 1,
  athlon: 1, opteron: 1, opteron_sse3: 1, barcelona: 1, nano: 1,
  nehalem: 2,
  sandybridge: 3, bulldozer: 3, piledriver: 3, steamroller: 3, excavator: 3,
  haswell: 4, zen: 4,
  skylakex: 5, cooperlake: 5, sapphirerapids: 5,
};

export function coreLevel(corename: string): number | undefined {
  return CORE_LEVELS[corename.toLowerCase()];
}

/** OpenBLAS core types whose kernels these features can run, best first (names as OPENBLAS_CORETYPE takes them). */
export function candidateCores(cpu: CpuFeatures): string[] {
  const has = (...names: string[]) => names.every((n) => cpu.flags.has(n));
  const amd = /AMD|Hygon/i.test(cpu.vendor);
  const out: string[] = [];
  if (has('avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl')) {
    if (has('avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16')) out.push('SapphireRapids');
    if (has('avx512_bf16')) out.push('Cooperlake');
    out.push('SkylakeX');
  }
  if (has('avx2', 'fma')) out.push(...(amd ? ['Zen', 'Haswell'] : ['Haswell']));
  if (has('avx')) out.push('Sandybridge');
  if (has('sse4_2')) out.push('Nehalem');
  return out;
}

/** Core types worth trying instead of `detected`: a higher instruction-set level, best first. */
export function upgradesFor(detected: string, cpu: CpuFeatures): string[] {
  const level = coreLevel(detected);
  if (level === undefined) return [];
  return candidateCores(cpu).filter((c) => (coreLevel(c) ?? 0) > level);
}

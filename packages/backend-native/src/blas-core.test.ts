import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultAddonPath } from './addon';
import type { Probe, ProbeReport } from './blas-core';
import { AUTO_CORE_ENV, chooseBlasCore, CORETYPE_ENV, probeInChild } from './blas-core';
import type { CpuFeatures } from './cpu-features';
import { candidateCores, coreLevel, parseCpuInfo, upgradesFor } from './cpu-features';

// A /proc/cpuinfo block in the kernel's format (trimmed): the AVX-512 Xeon whose model a hypervisor masks.
const XEON = `processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 207
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8

processor\t: 1
vendor_id\t: GenuineIntel
`;
const ZEN2 = 'vendor_id\t: AuthenticAMD\nflags\t\t: sse sse2 sse4_1 sse4_2 avx avx2 fma\n';
const OLD = 'vendor_id\t: GenuineIntel\nflags\t\t: sse sse2 sse3 ssse3\n';

describe('CPU features → OpenBLAS core types', () => {
  it('reads vendor and flags from the first processor block', () => {
    const cpu = parseCpuInfo(XEON)!;
    expect(cpu.vendor).toBe('GenuineIntel');
    expect(cpu.flags.has('avx512f')).toBe(true);
    expect(cpu.flags.has('model')).toBe(false);
    expect(parseCpuInfo('processor : 0\nBogoMIPS : 50\n')).toBeUndefined(); // e.g. arm64: no x86 flags line
  });

  it('lists the cores the features allow, best first, vendor-aware at AVX2', () => {
    expect(candidateCores(parseCpuInfo(XEON)!)).toEqual(['SapphireRapids', 'Cooperlake', 'SkylakeX', 'Haswell', 'Sandybridge', 'Nehalem']);
    expect(candidateCores(parseCpuInfo(ZEN2)!)).toEqual(['Zen', 'Haswell', 'Sandybridge', 'Nehalem']);
    expect(candidateCores(parseCpuInfo(OLD)!)).toEqual([]);
  });

  it('only upgrades a known x86 core that sits below what the CPU can run', () => {
    const xeon = parseCpuInfo(XEON)!;
    expect(upgradesFor('Prescott', xeon).slice(0, 3)).toEqual(['SapphireRapids', 'Cooperlake', 'SkylakeX']);
    expect(upgradesFor('SkylakeX', xeon)).toEqual([]); // same level: OpenBLAS's own pick stands
    expect(upgradesFor('NEOVERSEN1', xeon)).toEqual([]); // unknown name: never second-guessed
    expect(upgradesFor('Haswell', parseCpuInfo(ZEN2)!)).toEqual([]);
    expect(coreLevel('cooperlake')).toBe(5);
  });
});

const XEON_CPU: CpuFeatures = parseCpuInfo(XEON)!;

/** A probe that behaves like a given OpenBLAS build: which names it knows, which compute wrong results. */
function fakeOpenBlas(spec: { detected: string; known: string[]; wrong?: string[]; crash?: string[] }): Probe & { calls: Array<string | undefined> } {
  const calls: Array<string | undefined> = [];
  const probe = ((_file: string, coretype: string | undefined) => {
    calls.push(coretype);
    if (coretype !== undefined && spec.crash?.includes(coretype)) return { error: 'killed by SIGILL' };
    const corename = coretype !== undefined && spec.known.includes(coretype) ? coretype : spec.detected;
    const ok = !spec.wrong?.includes(corename);
    const report: ProbeReport = {
      corename, config: `OpenBLAS 0.3.21 DYNAMIC_ARCH ${corename}`, threads: 2,
      selfTest: ok ? { ok, worst: 0.003 } : { ok, worst: 1e6, failure: '[17,31]·[31,23]: element 5 is 3, expected 1' },
      gflops: corename === spec.detected ? 30 : 200,
    };
    return report;
  }) as Probe & { calls: Array<string | undefined> };
  probe.calls = calls;
  return probe;
}

describe('chooseBlasCore', () => {
  let dir: string;
  let addon: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blas-core-'));
    addon = path.join(dir, 'addon.node');
    fs.writeFileSync(addon, 'x');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('upgrades a generic detection to the best core the library knows and verifies, skipping names it does not know', () => {
    const probe = fakeOpenBlas({ detected: 'Prescott', known: ['Cooperlake', 'SkylakeX', 'Haswell'] });
    const c = chooseBlasCore(addon, { env: {}, cpu: XEON_CPU, cacheDir: dir, probe });
    expect(c.coretype).toBe('Cooperlake');
    expect(c.source).toBe('auto');
    expect(c.detected).toBe('Prescott');
    expect(c.rejected).toEqual(['SapphireRapids: this OpenBLAS loaded Prescott instead']);
    expect(c.note).toMatch(/^OpenBLAS Cooperlake \(chosen: OpenBLAS detected Prescott, sgemm 30 → 200 GFLOP\/s; self-test passed\)$/);
    expect(probe.calls).toEqual([undefined, 'SapphireRapids', 'Cooperlake']);
  });

  it('rejects a core type that computes wrong results or crashes, and keeps the detected one when none passes', () => {
    const probe = fakeOpenBlas({ detected: 'Prescott', known: ['SapphireRapids', 'Cooperlake', 'SkylakeX'], wrong: ['Cooperlake'], crash: ['SapphireRapids'] });
    const c = chooseBlasCore(addon, { env: {}, cpu: XEON_CPU, cacheDir: dir, probe });
    expect(c.coretype).toBe('SkylakeX');
    expect(c.rejected).toEqual(['SapphireRapids: killed by SIGILL', 'Cooperlake: wrong sgemm results ([17,31]·[31,23]: element 5 is 3, expected 1)']);
    const none = fakeOpenBlas({ detected: 'Prescott', known: ['SapphireRapids', 'Cooperlake', 'SkylakeX'], wrong: ['SapphireRapids', 'Cooperlake', 'SkylakeX'] });
    const d = chooseBlasCore(addon, { env: {}, cpu: XEON_CPU, cacheDir: fs.mkdtempSync(path.join(dir, 'b')), probe: none });
    expect(d.coretype).toBeUndefined();
    expect(d.source).toBe('detected');
    expect(d.note).toMatch(/^OpenBLAS Prescott \(generic kernels: this CPU could run SapphireRapids but none verified; rejected /);
  });

  it('reports a library whose own core is wrong (the loader then refuses it)', () => {
    const probe = fakeOpenBlas({ detected: 'Haswell', known: [], wrong: ['Haswell'] });
    const c = chooseBlasCore(addon, { env: {}, cpu: parseCpuInfo(ZEN2)!, cacheDir: dir, probe });
    expect(c.broken).toMatch(/^OpenBLAS Haswell computes wrong sgemm results/);
  });

  it('caches the verdict per addon build and CPU, and probes again when the addon changes', () => {
    const probe = fakeOpenBlas({ detected: 'Prescott', known: ['SkylakeX'] });
    const first = chooseBlasCore(addon, { env: {}, cpu: XEON_CPU, cacheDir: dir, probe });
    const calls = probe.calls.length;
    const second = chooseBlasCore(addon, { env: {}, cpu: XEON_CPU, cacheDir: dir, probe });
    expect(probe.calls.length).toBe(calls);
    expect(second).toEqual({ ...first, source: 'cached' });
    const otherCpu: CpuFeatures = { vendor: 'GenuineIntel', flags: new Set([...XEON_CPU.flags].filter((f) => !f.startsWith('avx512') && !f.startsWith('amx'))) };
    expect(chooseBlasCore(addon, { env: {}, cpu: otherCpu, cacheDir: dir, probe }).source).toBe('detected'); // Prescott, but no verified Haswell
    expect(probe.calls.length).toBeGreaterThan(calls);
    const before = probe.calls.length;
    fs.writeFileSync(addon, 'rebuilt');
    fs.utimesSync(addon, new Date(), new Date(Date.now() + 5000));
    chooseBlasCore(addon, { env: {}, cpu: XEON_CPU, cacheDir: dir, probe });
    expect(probe.calls.length).toBeGreaterThan(before);
  });

  it('does not cache a probe that failed to run (a timeout is not a verdict)', () => {
    let n = 0;
    const probe: Probe = () => (n++, { error: 'spawnSync ETIMEDOUT' });
    expect(chooseBlasCore(addon, { env: {}, cpu: XEON_CPU, cacheDir: dir, probe }).note).toBe('OpenBLAS core not checked (probe failed: spawnSync ETIMEDOUT)');
    chooseBlasCore(addon, { env: {}, cpu: XEON_CPU, cacheDir: dir, probe });
    expect(n).toBe(2);
  });

  it("respects the user's OPENBLAS_CORETYPE and the off switch without probing", () => {
    const probe = fakeOpenBlas({ detected: 'Prescott', known: ['SkylakeX'] });
    expect(chooseBlasCore(addon, { env: { [CORETYPE_ENV]: 'Haswell' }, cpu: XEON_CPU, cacheDir: dir, probe })).toEqual({
      coretype: 'Haswell', source: 'user', note: `OpenBLAS Haswell (${CORETYPE_ENV} set by you)`,
    });
    expect(chooseBlasCore(addon, { env: { [AUTO_CORE_ENV]: '0' }, cpu: XEON_CPU, cacheDir: dir, probe }).source).toBe('off');
    expect(probe.calls).toEqual([]);
  });
});

const built = fs.existsSync(defaultAddonPath());
if (!built) console.log(`blas-core: real-probe tests skipped: ${defaultAddonPath()} is not built`);

(built ? describe : describe.skip)('the real probe (child process, this machine)', () => {
  it("runs OpenBLAS's own core through the sgemm self-test and reports the library it loaded", () => {
    const r = probeInChild(defaultAddonPath(), undefined, { ...process.env, [CORETYPE_ENV]: 'ignored: the probe sets its own' });
    if ('error' in r) throw new Error(r.error);
    expect(r.selfTest.ok).toBe(true);
    expect(r.selfTest.worst).toBeLessThan(0.1); // real rounding errors sit far inside the tolerance
    expect(r.corename.length).toBeGreaterThan(0);
    expect(r.config).toContain('OpenBLAS');
    if (process.platform === 'linux') expect(r.library?.path).toMatch(/openblas/i);
    expect(r.gflops).toBeGreaterThan(0);
  });
});

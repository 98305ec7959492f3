import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultAddonPath } from './addon';
import type { ProbeReport } from './blas-core';
import type { BlasLibraryCandidate, LibraryProbe } from './blas-library';
import { AUTO_LIBRARY_ENV, BLAS_LIBRARY_ENV, chooseBlasLibrary, findBlasLibraries, pickBlasLibrary } from './blas-library';

const MKL: BlasLibraryCandidate = { name: 'MKL 2026.2.1', spec: '/x/libiomp5.so:/x/libmkl_rt.so.3' };

/** A probe per library: its step GFLOP/s, or a crash, or wrong results, or a library that did not load. */
function fakeProbe(by: Record<string, { gflops?: number; crash?: boolean; wrong?: boolean; notLoaded?: string }>): LibraryProbe & { calls: Array<string | undefined> } {
  const calls: Array<string | undefined> = [];
  const probe = ((spec: string | undefined) => {
    calls.push(spec);
    const b = by[spec ?? 'linked'] ?? {};
    if (b.crash === true) return { error: 'killed by SIGABRT' };
    const report: ProbeReport = {
      corename: spec === undefined ? 'Cooperlake' : 'MKL', config: '', threads: 2,
      selfTest: b.wrong === true ? { ok: false, worst: 12, failure: '[17,31]·[31,23]: element 3 is 0, expected 1.5' } : { ok: true, worst: 0.003 },
      ...(b.gflops !== undefined ? { stepGflops: b.gflops } : {}),
      ...(b.notLoaded !== undefined ? { libraryError: b.notLoaded } : {}),
    };
    return report;
  }) as LibraryProbe & { calls: Array<string | undefined> };
  probe.calls = calls;
  return probe;
}

describe('BLAS library choice (fake probes)', () => {
  it('probes nothing when no other library is found (a plain install pays nothing)', () => {
    const probe = fakeProbe({});
    expect(chooseBlasLibrary({}, probe, [])).toEqual({});
    expect(probe.calls).toEqual([]);
  });

  it('keeps the faster of the linked OpenBLAS and a verified candidate', () => {
    const faster = chooseBlasLibrary({}, fakeProbe({ linked: { gflops: 150 }, [MKL.spec]: { gflops: 190 } }), [MKL]);
    expect(faster.spec).toBe(MKL.spec);
    expect(faster.note).toMatch(/^MKL 2026\.2\.1 \(chosen: step sgemm OpenBLAS 150 vs MKL 2026\.2\.1 190 GFLOP\/s; self-test passed\)$/);
    const slower = chooseBlasLibrary({}, fakeProbe({ linked: { gflops: 200 }, [MKL.spec]: { gflops: 190 } }), [MKL]);
    expect(slower.spec).toBeUndefined();
    expect(slower.note).toMatch(/linked OpenBLAS \(faster than MKL/);
  });

  it('rejects, loudly, a candidate that crashes, computes wrong results or does not load', () => {
    for (const [fault, why] of [[{ crash: true }, /killed by SIGABRT/], [{ wrong: true }, /wrong sgemm results/], [{ notLoaded: 'cannot load: x.so' }, /cannot load/]] as const) {
      const c = chooseBlasLibrary({}, fakeProbe({ linked: { gflops: 100 }, [MKL.spec]: { gflops: 500, ...fault } }), [MKL]);
      expect(c.spec).toBeUndefined();
      expect(c.note).toMatch(why);
      expect(c.rejected).toHaveLength(1);
    }
  });

  it('uses a user-set library that passes even when slower, and falls back with the reason when it fails', () => {
    const env = { [BLAS_LIBRARY_ENV]: '/opt/blis/libblis.so' };
    const ok = chooseBlasLibrary(env, fakeProbe({ linked: { gflops: 200 }, '/opt/blis/libblis.so': { gflops: 50 } }));
    expect(ok.spec).toBe('/opt/blis/libblis.so');
    expect(ok.note).toMatch(/set by you; self-test passed/);
    const bad = chooseBlasLibrary(env, fakeProbe({ '/opt/blis/libblis.so': { wrong: true } }));
    expect(bad.spec).toBeUndefined();
    expect(bad.note).toMatch(/^linked OpenBLAS: ADAPTERS_BLAS_LIBRARY rejected \(libblis\.so: wrong sgemm results/);
    expect(chooseBlasLibrary({ [BLAS_LIBRARY_ENV]: 'openblas' }, fakeProbe({}), [MKL]).spec).toBeUndefined();
    expect(chooseBlasLibrary({ [AUTO_LIBRARY_ENV]: '0' }, fakeProbe({}), [MKL])).toEqual({});
  });

  it('finds fetched MKL directories only when both libraries are there, and caches the verdict', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blas-lib-'));
    try {
      const env = { ADAPTERS_CACHE: dir };
      const lib = path.join(dir, 'blas', 'mkl-2026.2.1', 'lib');
      fs.mkdirSync(lib, { recursive: true });
      fs.writeFileSync(path.join(lib, 'libmkl_rt.so.3'), '');
      expect(findBlasLibraries(env)).toEqual([]); // no libiomp5.so: incomplete fetch
      fs.writeFileSync(path.join(lib, 'libiomp5.so'), '');
      const found = findBlasLibraries(env);
      expect(found).toEqual([{ name: 'MKL 2026.2.1', spec: `${path.join(lib, 'libiomp5.so')}:${path.join(lib, 'libmkl_rt.so.3')}` }]);
      const addon = path.join(dir, 'addon.node');
      fs.writeFileSync(addon, 'x');
      const probe = fakeProbe({ linked: { gflops: 100 }, [found[0]!.spec]: { gflops: 150 } });
      const first = pickBlasLibrary(addon, 'Cooperlake', env, { probe });
      expect(first.spec).toBe(found[0]!.spec);
      expect(probe.calls).toHaveLength(2);
      const again = pickBlasLibrary(addon, 'Cooperlake', env, { probe });
      expect(probe.calls).toHaveLength(2); // from the cache
      expect(again.spec).toBe(found[0]!.spec);
      expect(again.note).toMatch(/\(cached: /);
      fs.appendFileSync(path.join(lib, 'libmkl_rt.so.3'), 'upgraded');
      pickBlasLibrary(addon, 'Cooperlake', env, { probe });
      expect(probe.calls).toHaveLength(4); // a changed library is probed again
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const addonFile = defaultAddonPath();
const built = fs.existsSync(addonFile);
if (!built) console.log(`skipping the addon's ${BLAS_LIBRARY_ENV} tests: ${addonFile} is not built`);
const describeBuilt = built ? describe : describe.skip;

/** info() of the addon loaded in a child with `env` (the addon reads ADAPTERS_BLAS_LIBRARY once, at load). */
function childInfo(env: Record<string, string>): { corename: string; library: string; libraryError: string } {
  const code = `const m={exports:{}};process.dlopen(m,${JSON.stringify(addonFile)});console.log(JSON.stringify(m.exports.info()))`;
  const r = spawnSync(process.execPath, ['-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return JSON.parse(r.stdout.trim()) as { corename: string; library: string; libraryError: string };
}

describeBuilt('ADAPTERS_BLAS_LIBRARY in the addon (child processes)', () => {
  it('resolves cblas_sgemm from the named library, and falls back to the linked OpenBLAS saying why', () => {
    // The linked OpenBLAS itself, loaded a second way: what CI's fresh machine has.
    const linked = childInfo({}).library;
    expect(linked).toBe('');
    const so = ['/usr/lib/x86_64-linux-gnu/libopenblas.so.0', '/usr/lib/aarch64-linux-gnu/libopenblas.so.0'].find((f) => fs.existsSync(f));
    if (so !== undefined) {
      const viaDlopen = childInfo({ [BLAS_LIBRARY_ENV]: so });
      expect(viaDlopen.library).toBe(so);
      expect(viaDlopen.libraryError).toBe('');
    }
    const missing = childInfo({ [BLAS_LIBRARY_ENV]: '/nonexistent/libnothing.so' });
    expect(missing.library).toBe('');
    expect(missing.libraryError).toMatch(/^cannot load: .*libnothing\.so/);
    const noSgemm = childInfo({ [BLAS_LIBRARY_ENV]: process.platform === 'linux' ? 'libm.so.6' : '/usr/lib/libSystem.B.dylib' });
    expect(noSgemm.library).toBe('');
    expect(noSgemm.libraryError).toMatch(/no cblas_sgemm/);
  });
});

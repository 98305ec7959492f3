import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ADDON_PATH_ENV, BLAS_SPIN_DEFAULT, BLAS_SPIN_ENV, DISABLE_ENV, probeAddon, REBUILD_COMMAND } from './addon';

describe('addon loading', () => {
  it('gives a one-line reason when the addon is not built', () => {
    const r = probeAddon({ [ADDON_PATH_ENV]: path.join(__dirname, 'no-such-dir', 'backend_native.node') });
    expect(r.addon).toBeUndefined();
    const reason = (r as { reason: string }).reason;
    expect(reason).toMatch(/not built/);
    expect(reason).not.toMatch(/\n/);
    expect((r as { fix?: string }).fix).toBe(REBUILD_COMMAND);
  });

  it('reports why the build at install failed, and the command that fixes it, when OpenBLAS is missing', () => {
    // A real run of the install hook against a library that does not exist (-O0: only the link matters here).
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-native-noblas-'));
    try {
      const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'build-native.js'), '--install'], {
        encoding: 'utf8',
        env: { ...process.env, BACKEND_NATIVE_OUT_DIR: out, BACKEND_NATIVE_BLAS: 'system', BACKEND_NATIVE_LIBS: '-lopenblas_missing_for_test', BACKEND_NATIVE_CFLAGS: '-O0' },
      });
      expect(r.status).toBe(0); // the install hook never fails the install
      expect(r.stderr).toMatch(/native kernels not built .*openblas_missing_for_test.*Fix: .*npm rebuild @adapters\/backend-native/);
      const load = probeAddon({ [ADDON_PATH_ENV]: path.join(out, 'backend_native.node') });
      expect(load.addon).toBeUndefined();
      const failed = load as { reason: string; fix?: string };
      expect(failed.reason).toMatch(/^native addon not built: the build at install failed \(.*cannot find -lopenblas_missing_for_test/);
      expect(failed.reason).not.toMatch(/\n/);
      expect(failed.fix).toMatch(/apt-get install -y libopenblas-dev && npm rebuild @adapters\/backend-native$|brew install openblas/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('gives a one-line reason when the file is not a loadable addon', () => {
    const r = probeAddon({ [ADDON_PATH_ENV]: __filename });
    expect((r as { reason: string }).reason).toMatch(/^native addon failed to load: [^\n]+$/);
  });

  it("sets OpenBLAS's spin time before loading, in the process environment only and only when unset", () => {
    const env: Record<string, string | undefined> = { [ADDON_PATH_ENV]: __filename };
    probeAddon(env);
    expect(env[BLAS_SPIN_ENV]).toBeUndefined();
    const saved = process.env[BLAS_SPIN_ENV];
    try {
      delete process.env[BLAS_SPIN_ENV];
      process.env[ADDON_PATH_ENV] = __filename;
      probeAddon(process.env);
      expect(process.env[BLAS_SPIN_ENV]).toBe(BLAS_SPIN_DEFAULT);
      process.env[BLAS_SPIN_ENV] = '20';
      probeAddon(process.env);
      expect(process.env[BLAS_SPIN_ENV]).toBe('20');
    } finally {
      delete process.env[ADDON_PATH_ENV];
      if (saved === undefined) delete process.env[BLAS_SPIN_ENV];
      else process.env[BLAS_SPIN_ENV] = saved;
    }
  });

  it('can be switched off by the environment', () => {
    expect((probeAddon({ [DISABLE_ENV]: '1' }) as { reason: string }).reason).toBe(`disabled by ${DISABLE_ENV}=1`);
  });
});

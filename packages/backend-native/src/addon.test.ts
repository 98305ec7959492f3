import * as path from 'path';
import { ADDON_PATH_ENV, BLAS_SPIN_DEFAULT, BLAS_SPIN_ENV, DISABLE_ENV, probeAddon } from './addon';

describe('addon loading', () => {
  it('gives a one-line reason when the addon is not built', () => {
    const r = probeAddon({ [ADDON_PATH_ENV]: path.join(__dirname, 'no-such-dir', 'backend_native.node') });
    expect(r.addon).toBeUndefined();
    const reason = (r as { reason: string }).reason;
    expect(reason).toMatch(/not built/);
    expect(reason).toMatch(/npm run build:native -w @adapters\/backend-native/);
    expect(reason).not.toMatch(/\n/);
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

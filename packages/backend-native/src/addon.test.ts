import * as path from 'path';
import { ADDON_PATH_ENV, DISABLE_ENV, probeAddon } from './addon';

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

  it('can be switched off by the environment', () => {
    expect((probeAddon({ [DISABLE_ENV]: '1' }) as { reason: string }).reason).toBe(`disabled by ${DISABLE_ENV}=1`);
  });
});

// The CLI's one line when the native kernels are off: the real @adapters/backend-native, pointed at an addon
// file that does not exist (what a fresh machine without OpenBLAS ends up with after `npm ci`).
import * as os from 'os';
import * as path from 'path';
import { describeBackend, selectBackend, STOCK_WASM_SLOWDOWN } from './select-backend';

const saved = process.env['ADAPTERS_NATIVE_ADDON'];
beforeAll(() => {
  // Set before the package first loads its addon (loading happens once per module registry).
  process.env['ADAPTERS_NATIVE_ADDON'] = path.join(os.tmpdir(), 'no-such-dir-for-native-off-test', 'backend_native.node');
});
afterAll(() => {
  if (saved === undefined) delete process.env['ADAPTERS_NATIVE_ADDON'];
  else process.env['ADAPTERS_NATIVE_ADDON'] = saved;
});

it('says at start, in one line, that the native kernels are off, what it costs and the command that fixes it', async () => {
  const lines: string[] = [];
  const choice = await selectBackend({ prefer: 'wasm', env: {}, log: (l) => lines.push(l) });
  expect(choice.nativeKernels?.enabled).toBe(false);
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^backend: wasm \(.*stock kernels: native addon not built/);
  expect(lines[1]).toBe(`native kernels off (${choice.nativeKernels!.reason}): training and inference run ${STOCK_WASM_SLOWDOWN} slower on stock wasm; fix: npm rebuild @adapters/backend-native`);
  expect(lines[1]).toMatch(/^native kernels off \(native addon not built \(.*backend_native\.node is missing\)\): .* ~[\d.–]+× slower/);
  expect(describeBackend()).not.toMatch(/OpenBLAS kernels/);
});

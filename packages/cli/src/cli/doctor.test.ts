// `adapters doctor` on a machine where the native addon is missing (the real @adapters/backend-native, pointed
// at an addon file that does not exist): it must name the stock kernels, the cost and the fix.
import * as os from 'os';
import * as path from 'path';
import { STOCK_WASM_SLOWDOWN } from '@adapters/core-graph';
import { main } from './main';

const saved = process.env['ADAPTERS_NATIVE_ADDON'];
beforeAll(() => {
  process.env['ADAPTERS_NATIVE_ADDON'] = path.join(os.tmpdir(), 'no-such-dir-for-doctor-test', 'backend_native.node');
});
afterAll(() => {
  if (saved === undefined) delete process.env['ADAPTERS_NATIVE_ADDON'];
  else process.env['ADAPTERS_NATIVE_ADDON'] = saved;
});

it('reports backend, kernels, threads and heap, and the one command that turns the native kernels on', async () => {
  let stdout = '';
  let stderr = '';
  const code = await main(['doctor'], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
  });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const lines = stdout.trimEnd().split('\n');
  const field = (label: string) => lines.filter((l) => l.startsWith(`${label}:`)).map((l) => l.slice(label.length + 1).trim());
  expect(field('backend')[0]).toMatch(/^wasm \((no )?SIMD, \d+ threads?/);
  expect(field('kernels')).toEqual([expect.stringMatching(/^stock wasm: native addon not built \(.*backend_native\.node is missing\)$/)]);
  expect(field('threads')[0]).toMatch(/^CPUs \d+$/);
  expect(field('heap')[0]).toMatch(/^wasm [\d.]+ GiB in use of 4\.0 GiB .*model weights \+ activations must fit\); JS [\d.]+ GiB limit$/);
  expect(field('weights')).toEqual(['copied into the wasm heap (mapping needs the native kernels)']);
  expect(field('fix')).toEqual([`${STOCK_WASM_SLOWDOWN} slower until fixed: npm rebuild @adapters/backend-native`]);
  expect(field('BLAS')).toEqual([]); // nothing loaded, nothing claimed
});

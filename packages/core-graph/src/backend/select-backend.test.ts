import * as tf from '@tensorflow/tfjs';
import { BackendUnavailableError, describeBackend, selectBackend, VALID_BACKEND_NAMES } from './select-backend';
import { disableZeroCopyKernels, zeroCopyKernelsEnabled } from './wasm-zero-copy';

const GPU = '@tensorflow/tfjs-node-gpu';
const NODE = '@tensorflow/tfjs-node';

/** Whether a package resolves here (the native ones normally don't). */
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const nativeAbsent = !installed(GPU) && !installed(NODE);

/** Like Node's error for a missing package. */
function notFound(id: string): Error {
  return Object.assign(new Error(`Cannot find module '${id}'\nRequire stack:\n- x.js`), { code: 'MODULE_NOT_FOUND' });
}

/** A fake native package: loading it registers a 'tensorflow' backend built by `factory`. */
function fakeNative(pkg: string, factory: () => tf.KernelBackend): (id: string) => unknown {
  return (id) => {
    if (id !== pkg) throw notFound(id);
    if (!tf.findBackendFactory('tensorflow')) tf.registerBackend('tensorflow', factory);
    return {};
  };
}

/** A working stand-in backend: a fresh instance of the cpu backend's class. */
function cpuLike(): tf.KernelBackend {
  const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
  return new Cpu();
}

async function expectUnavailable(p: Promise<unknown>): Promise<BackendUnavailableError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendUnavailableError);
  const e = err as BackendUnavailableError;
  expect(e.message).not.toContain('\n'); // one line, so CLIs can print it as is
  return e;
}

let warn: jest.SpyInstance;
beforeAll(async () => {
  // Make sure the cpu backend is initialised so cpuLike() can borrow its class.
  expect(await tf.setBackend('cpu')).toBe(true);
  await tf.setBackend('wasm');
});
beforeEach(() => {
  warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined); // tfjs warns on failed init
});
afterEach(() => {
  warn.mockRestore();
  if (tf.findBackendFactory('tensorflow')) tf.removeBackend('tensorflow');
});
afterAll(async () => {
  // Leave tfjs as the rest of the suite expects it.
  expect(await tf.setBackend('wasm')).toBe(true);
  expect(tf.getBackend()).toBe('wasm');
});

describe('automatic selection', () => {
  (nativeAbsent ? it : it.skip)('picks wasm here and records the two skipped native backends', async () => {
    const lines: string[] = [];
    const choice = await selectBackend({ env: {}, log: (l) => lines.push(l) });
    expect(choice.name).toBe('wasm');
    expect(choice.tfBackend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.tried).toEqual([
      { name: 'tensorflow-gpu', reason: `${GPU} is not installed` },
      { name: 'tensorflow', reason: `${NODE} is not installed` },
    ]);
    // A second line only when the native kernels are off (machines without OpenBLAS): their cost and fix.
    expect(lines.slice(1).every((l) => l.startsWith('native kernels off ('))).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(2);
    expect(lines[0]).not.toContain('\n');
    expect(lines[0]).toMatch(/^backend: wasm .*; skipped tensorflow-gpu \(.*not installed\), tensorflow \(.*not installed\)$/);
  });

  it('is idempotent and silent by default', async () => {
    const spies = (['log', 'error', 'info'] as const).map((m) => jest.spyOn(console, m).mockImplementation(() => undefined));
    const first = await selectBackend({ env: {} });
    const second = await selectBackend({ env: {} });
    expect(second).toEqual(first);
    expect(tf.getBackend()).toBe(first.tfBackend);
    for (const s of [...spies, warn]) expect(s).not.toHaveBeenCalled();
    spies.forEach((s) => s.mockRestore());
  });

  it('prefers a working native package and stops there', async () => {
    const choice = await selectBackend({ env: {}, requireModule: fakeNative(NODE, cpuLike) });
    expect(choice).toEqual({ name: 'tensorflow', tfBackend: 'tensorflow', tried: [{ name: 'tensorflow-gpu', reason: `${GPU} is not installed` }] });
    expect(tf.getBackend()).toBe('tensorflow');
    expect(describeBackend()).toBe(`tensorflow (${NODE})`);
  });

  it('names the GPU package when it is the one that works', async () => {
    const lines: string[] = [];
    const choice = await selectBackend({ env: {}, requireModule: fakeNative(GPU, cpuLike), log: (l) => lines.push(l) });
    expect(choice).toEqual({ name: 'tensorflow-gpu', tfBackend: 'tensorflow', tried: [] });
    expect(lines).toEqual([`backend: tensorflow (${GPU})`]);
  });

  it('checks the result of tf.setBackend instead of trusting a silent fallback', async () => {
    const broken = fakeNative(NODE, () => {
      throw new Error('libtensorflow.so: cannot open shared object file');
    });
    const choice = await selectBackend({ env: {}, requireModule: broken });
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.tried[1]).toEqual({ name: 'tensorflow', reason: "tf.setBackend('tensorflow') returned false (initialisation failed)" });
  });

  it('reports packages that fail to load (not just missing) with the first line of the error', async () => {
    const choice = await selectBackend({
      env: {},
      requireModule: (id) => {
        if (id === GPU) throw new Error('libcudart.so.11.0: cannot open shared object file\n    at Module._extensions');
        if (id === NODE) throw notFound('node-pre-gyp'); // a missing dependency of an installed package
        return {};
      },
    });
    expect(choice.tried).toEqual([
      { name: 'tensorflow-gpu', reason: `${GPU} failed to load: libcudart.so.11.0: cannot open shared object file` },
      { name: 'tensorflow', reason: `${NODE} failed to load: Cannot find module 'node-pre-gyp'` },
    ]);
  });

  it('notices a package that loads but registers nothing', async () => {
    const choice = await selectBackend({ env: {}, requireModule: (id) => (id === NODE ? {} : (() => { throw notFound(id); })()) });
    expect(choice.tried[1]!.reason).toMatch(/loaded but did not register the 'tensorflow' backend/);
    expect(choice.name).toBe('wasm');
  });

  it('treats an empty ADAPTERS_BACKEND as unset', async () => {
    const choice = await selectBackend({ env: { ADAPTERS_BACKEND: '  ' }, requireModule: (id) => { throw notFound(id); } });
    expect(choice.name).toBe('wasm');
  });
});

describe('forcing a backend', () => {
  afterEach(async () => {
    await tf.setBackend('wasm');
  });

  it('prefer: cpu gives cpu', async () => {
    const lines: string[] = [];
    const choice = await selectBackend({ prefer: 'cpu', env: {}, log: (l) => lines.push(l) });
    expect(choice).toEqual({ name: 'cpu', tfBackend: 'cpu', tried: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(describeBackend()).toBe('cpu');
    expect(lines).toEqual(["backend: cpu (forced by prefer: 'cpu')"]);
  });

  it('ADAPTERS_BACKEND works, case- and space-insensitively', async () => {
    expect((await selectBackend({ env: { ADAPTERS_BACKEND: ' CPU ' } })).name).toBe('cpu');
    expect((await selectBackend({ env: { ADAPTERS_BACKEND: 'wasm' } })).name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('prefer wins over the environment', async () => {
    expect((await selectBackend({ prefer: 'cpu', env: { ADAPTERS_BACKEND: 'wasm' } })).name).toBe('cpu');
  });

  (nativeAbsent ? it : it.skip)('node when @tensorflow/tfjs-node is missing: says what and what to do', async () => {
    const e = await expectUnavailable(selectBackend({ env: { ADAPTERS_BACKEND: 'node' } }));
    expect(e.message).toContain(`${NODE} is not installed`);
    expect(e.message).toContain(`install ${NODE}`);
    expect(e.message).toContain('ADAPTERS_BACKEND=node');
    expect(e.message).toContain('unset ADAPTERS_BACKEND');
    expect(e.requested).toBe('node');
    expect(tf.getBackend()).toBe('wasm'); // untouched
  });

  it('gpu via prefer names the GPU package and suggests another choice', async () => {
    const e = await expectUnavailable(selectBackend({ prefer: 'gpu', env: {}, requireModule: (id) => { throw notFound(id); } }));
    expect(e.message).toMatch(/backend 'tensorflow-gpu' requested by prefer: 'gpu' is unavailable/);
    expect(e.message).toContain(`install ${GPU}`);
    expect(e.message).toContain('choose another backend');
  });

  it('a forced backend whose init fails throws and restores the previous backend', async () => {
    const broken = fakeNative(NODE, () => {
      throw new Error('boom');
    });
    const e = await expectUnavailable(selectBackend({ prefer: 'tensorflow', env: {}, requireModule: broken }));
    expect(e.message).toContain('returned false');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('forcing a working native package selects it without trying others', async () => {
    const choice = await selectBackend({ env: { ADAPTERS_BACKEND: 'tensorflow' }, requireModule: fakeNative(NODE, cpuLike) });
    expect(choice).toEqual({ name: 'tensorflow', tfBackend: 'tensorflow', tried: [] });
  });

  it.each([
    [{ prefer: 'tpu', env: {} }, "prefer: 'tpu'"],
    [{ env: { ADAPTERS_BACKEND: 'webgpu' } }, 'ADAPTERS_BACKEND=webgpu'],
  ])('an unknown name lists the valid ones (%j)', async (options, origin) => {
    const e = await expectUnavailable(selectBackend(options));
    expect(e.message).toContain(origin);
    expect(e.message).toContain('valid names: gpu, tensorflow-gpu, node, tensorflow, wasm, cpu');
    expect(VALID_BACKEND_NAMES).toEqual(['gpu', 'tensorflow-gpu', 'node', 'tensorflow', 'wasm', 'cpu']);
  });
});

describe('describeBackend', () => {
  it('reports SIMD and thread count for wasm', async () => {
    await selectBackend({ prefer: 'wasm', env: {} });
    // With the native kernels: the OpenBLAS kernel set, then the replaced kernels.
    // The kernel set may carry how it was chosen in parentheses (a forced core) or not (OpenBLAS's own detection).
    expect(describeBackend()).toMatch(/^wasm \((no )?SIMD, \d+ threads?, zero-copy Identity\/Cast(, (OpenBLAS \w+( \(.*\))?, )?(OpenBLAS|stock) kernels: .*)?\)$/);
  });

  it('shares buffers in Identity/Cast on wasm unless ADAPTERS_ZERO_COPY_DISABLE=1', async () => {
    disableZeroCopyKernels();
    await selectBackend({ prefer: 'wasm', env: { ADAPTERS_ZERO_COPY_DISABLE: '1', ADAPTERS_NATIVE_KERNELS_DISABLE: '1' } });
    expect(zeroCopyKernelsEnabled()).toBe(false);
    expect(describeBackend()).not.toContain('zero-copy');
    await selectBackend({ prefer: 'wasm', env: { ADAPTERS_NATIVE_KERNELS_DISABLE: '1' } });
    expect(zeroCopyKernelsEnabled()).toBe(true);
    disableZeroCopyKernels();
  });

  it('turns on @adapters/backend-native on wasm when it loads, and says why not when it does not', async () => {
    const status = { enabled: true, kernels: ['BatchMatMul'] };
    // The node packages stay absent; only the native-kernel package is faked.
    const absent = (id: string) => Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    const withNative = await selectBackend({ prefer: 'wasm', env: {}, requireModule: (id) => { if (id === '@adapters/backend-native') return { enableNativeKernels: () => status }; throw absent(id); } });
    expect(withNative.nativeKernels).toBe(status);
    expect(describeBackend()).toContain('OpenBLAS kernels: BatchMatMul');
    const without = await selectBackend({ prefer: 'wasm', env: {}, requireModule: (id) => { throw absent(id); } });
    expect(without.nativeKernels).toEqual({ enabled: false, reason: '@adapters/backend-native is not installed', kernels: [], fix: 'npm install @adapters/backend-native' });
    const off = await selectBackend({ prefer: 'wasm', env: { ADAPTERS_NATIVE_KERNELS_DISABLE: '1' } });
    expect(off.nativeKernels).toBeUndefined();
  });
});

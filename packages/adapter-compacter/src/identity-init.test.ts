// Identity at initialisation: with init_weights 'mam_adapter' (ours for PHM layers: the up-projection's W_right, or W,
// starts at zero) both presets reproduce the base model bit for bit; AdapterHub's default init is only near-identity
// (the shared rule starts at N(0, 1e-4²)), and the measured distance is asserted.
import { compacterConfig } from './config';
import { compacter, compacterRule } from './plugin';
import { adapted, baseStore, bitEqual, FEEDS, maxAbsDiff, run, tinyBase } from './__tests__/helpers';

describe('identity at initialisation', () => {
  const base = tinyBase();
  let baseOut: Float32Array;
  beforeAll(() => {
    const { store } = baseStore(base, 3);
    baseOut = run(base, store, FEEDS);
    store.dispose();
  });

  test.each(['compacter', 'compacter++'])("%s with init_weights 'mam_adapter': bit-for-bit the base model's output", (preset) => {
    const overrides = { reduction_factor: 4, init_weights: 'mam_adapter' };
    expect(compacter.isIdentityAtInit?.(compacterConfig(preset, overrides))).toBe(true);
    for (const strategy of ['kron', 'factors']) {
      const graph = adapted(base, [compacterRule('a', preset, { ...overrides, phm_strategy: strategy })]);
      const { store } = baseStore(graph, 3);
      expect(bitEqual(run(graph, store, FEEDS), baseOut)).toBe(true);
      store.dispose();
    }
    // The PHM-Adapter form (full W) too.
    const full = adapted(base, [compacterRule('a', preset, { ...overrides, factorized_phm_W: false })]);
    const { store } = baseStore(full, 3);
    expect(bitEqual(run(full, store, FEEDS), baseOut)).toBe(true);
    store.dispose();
  });

  test.each([
    ['compacter', 2e-6],
    ['compacter++', 2e-6],
  ] as const)('%s with the default init is near, not exactly, the identity (max |Δ| < %p; measured 2.4e-7 and 4.8e-7)', (preset, bound) => {
    const config = compacterConfig(preset, { reduction_factor: 4 });
    expect(compacter.isIdentityAtInit?.(config)).toBe(false);
    const graph = adapted(base, [compacterRule('a', preset, { reduction_factor: 4 })]);
    const { store } = baseStore(graph, 3);
    const diff = maxAbsDiff(run(graph, store, FEEDS), baseOut);
    if (process.env['COMPACTER_REPORT']) console.log(`${preset} default init: max |adapted - base| = ${diff}`);
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(bound);
    store.dispose();
  });
});

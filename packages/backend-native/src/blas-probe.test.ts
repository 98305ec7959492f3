// The self-test that decides whether an OpenBLAS core type may be used (scripts/blas-probe.js): it must pass a
// correct sgemm and catch a wrong one.
import { loadAddon } from './addon';
import type { NativeAddon } from './addon';

interface ProbeModule {
  SHAPES: Array<[number, number, number, boolean, boolean]>;
  referenceGemm(a: Float32Array, b: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean): { c: Float64Array; scale: Float64Array };
  selfTest(addon: Pick<NativeAddon, 'gemm'>, shapes?: ProbeModule['SHAPES']): { ok: boolean; worst: number; failure?: string };
}
// A plain CommonJS script (it runs as a child process without ts-node), loaded here for its exports.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const probe = require('../scripts/blas-probe.js') as ProbeModule;

/** sgemm in JS (float32 storage, float64 sums) with the addon's argument convention, for checking the checker. */
function jsGemm(perturb?: (c: Float32Array, m: number, n: number, k: number) => void): Pick<NativeAddon, 'gemm'> {
  return {
    gemm(heap, aOff, bOff, cOff, _batch, m, n, k, transA, transB) {
      const a = new Float32Array(heap, aOff, m * k);
      const b = new Float32Array(heap, bOff, k * n);
      const c = new Float32Array(heap, cOff, m * n);
      c.set(probe.referenceGemm(a, b, m, n, k, transA, transB).c);
      perturb?.(c, m, n, k);
    },
  };
}

describe('sgemm self-test', () => {
  it('has a hand-checked reference: [2,3]ᵀ-free and transposed operands', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]); // [2,3]
    const b = Float32Array.from([1, 0, 0, 1, 1, 1]); // [3,2]
    expect([...probe.referenceGemm(a, b, 2, 2, 3, false, false).c]).toEqual([4, 5, 10, 11]);
    // aᵀ stored [3,2] = same numbers read as Aᵀ: op(A) = [[1,3,5],[2,4,6]]
    expect([...probe.referenceGemm(a, b, 2, 2, 3, true, false).c]).toEqual([6, 8, 8, 10]);
    // bᵀ: B stored [2,3] (n=2, k=3) = [[1,0,0],[1,1,1]] → op(B) = [[1,1],[0,1],[0,1]]
    expect([...probe.referenceGemm(a, b, 2, 2, 3, false, true).c]).toEqual([1, 6, 4, 15]);
  });

  it('passes a correct product on every shape and transpose combination', () => {
    const r = probe.selfTest(jsGemm());
    expect(r.ok).toBe(true);
    expect(r.worst).toBeLessThan(0.01);
    const combos = new Set(probe.SHAPES.map((s) => `${s[3]}${s[4]}`));
    expect(combos.size).toBe(4);
  });

  it('catches one wrong element, a skipped element, and swapped transposes', () => {
    const shape: ProbeModule['SHAPES'] = [[64, 80, 120, true, false]];
    // Tolerance here is 1e-5·√120·Σ|a·b| ≈ 1e-5·11·30 ≈ 3e-3; 0.05 is ~15× that, the size of one dropped term.
    const oneOff = probe.selfTest(jsGemm((c) => { c[4321] = c[4321]! + 0.05; }), shape);
    expect(oneOff.ok).toBe(false);
    expect(oneOff.failure).toMatch(/element 4321/);
    expect(probe.selfTest(jsGemm((c) => { c[0] = Number.NaN; }), shape).ok).toBe(false);
    const swapped: Pick<NativeAddon, 'gemm'> = {
      gemm: (heap, aOff, bOff, cOff, batch, m, n, k, transA, transB) => jsGemm().gemm(heap, aOff, bOff, cOff, batch, m, n, k, transA, !transB, 0, 0),
    };
    expect(probe.selfTest(swapped, [[33, 65, 129, false, true]]).ok).toBe(false);
  });

  const loaded = loadAddon();
  (loaded.addon ? it : it.skip)('passes the loaded OpenBLAS kernels (whatever core type this process runs)', () => {
    const r = probe.selfTest(loaded.addon!);
    expect(r).toEqual({ ok: true, worst: expect.any(Number) });
    expect(r.worst).toBeLessThan(0.1);
  });
});

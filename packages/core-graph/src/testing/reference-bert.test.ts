import fc from 'fast-check';
import {
  type RefBertConfig,
  type RefWeights,
  randomRefWeights,
  refActivation,
  refAttention,
  refBertForward,
  refBertWeightShapes,
  refErf,
  refErfc,
  refGelu,
  refGeluNew,
  refLayerNorm,
  refLinear,
  refSoftmax,
} from './reference-bert';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** Concatenated H-vectors of the [B, S, H] positions selected by keep. */
const slicePositions = (x: Float64Array, B: number, S: number, H: number, keep: (b: number, s: number) => boolean): number[] => {
  const out: number[] = [];
  for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) if (keep(b, s)) out.push(...x.subarray((b * S + s) * H, (b * S + s + 1) * H));
  return out;
};

describe('refErf / refErfc', () => {
  it.each([
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [-2, -0.9953222650189527],
    [3, 0.9999779095030014],
    [0.1, 0.1124629160182849], // series branch
    [2.5, 0.999593047982555], // continued-fraction branch, at the switch point
    [1e-8, 1.1283791670955125e-8],
    [5, 0.9999999999984625],
  ])('erf(%p) matches the high-precision value to 1e-14', (x, expected) => {
    expect(Math.abs(refErf(x) - expected)).toBeLessThanOrEqual(1e-14);
  });

  it('is odd, saturates, and is continuous across the series/continued-fraction switch', () => {
    expect(refErf(0)).toBe(0);
    expect(refErf(Infinity)).toBe(1);
    expect(refErf(-Infinity)).toBe(-1);
    expect(Number.isNaN(refErf(NaN))).toBe(true);
    expect(Math.abs(refErf(2.5 - 1e-12) - refErf(2.5))).toBeLessThan(1e-14);
    for (let x = -6; x <= 6; x += 0.37) expect(refErf(-x)).toBe(-refErf(x));
  });

  it('erfc keeps relative accuracy in the tail and erf + erfc = 1', () => {
    expect(Math.abs(refErfc(5) / 1.5374597944280347e-12 - 1)).toBeLessThan(1e-13);
    expect(Math.abs(refErfc(10) / 2.088487583762545e-45 - 1)).toBeLessThan(1e-13);
    expect(Math.abs(refErfc(-1) - 1.842700792949715)).toBeLessThan(1e-15);
    for (let x = -6; x <= 6; x += 0.13) expect(Math.abs(refErf(x) + refErfc(x) - 1)).toBeLessThan(2e-15);
  });
});

describe('activations', () => {
  it('gelu is the exact erf form and gelu_new the tanh form', () => {
    // x·Φ(x) and 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) from 40-digit evaluation.
    expect(Math.abs(refGelu(1) - 0.8413447460685429)).toBeLessThan(1e-15);
    expect(Math.abs(refGelu(0.5) - 0.34573123063700656)).toBeLessThan(1e-15);
    expect(Math.abs(refGelu(-3) / -0.004049694094890284 - 1)).toBeLessThan(1e-13);
    expect(Math.abs(refGelu(-10) / -7.619853024160526e-23 - 1)).toBeLessThan(1e-12);
    expect(Math.abs(refGeluNew(1) - 0.8411919906082767)).toBeLessThan(1e-15);
    expect(Math.abs(refGeluNew(-3) - -0.003637392081773019)).toBeLessThan(1e-15);
    expect(refActivation('relu')(-2)).toBe(0);
    expect(refActivation('relu')(2)).toBe(2);
    expect(refActivation('gelu')).toBe(refGelu);
    expect(refActivation('gelu_new')).toBe(refGeluNew);
  });
});

describe('refLinear', () => {
  it('uses the nn.Linear [out, in] layout', () => {
    // W = [[1,2,3],[4,5,6]], x = [1,1,0]: y = [1+2, 4+5] + b = [3, 9] + [0.5, -1].
    const y = refLinear([1, 1, 0, 0, 0, 1], 3, 2, [1, 2, 3, 4, 5, 6], [0.5, -1]);
    expect(Array.from(y)).toEqual([3.5, 8, 3.5, 5]);
    expect(() => refLinear([1, 2], 3, 2, [1, 2, 3, 4, 5, 6])).toThrow(/divisible/);
  });
});

describe('refSoftmax', () => {
  it('rows are probability vectors, shift-invariant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.array(fc.double({ min: -80, max: 80, noNaN: true }), { minLength: 1, maxLength: 40 }), (dim, raw) => {
        const x = raw.slice(0, raw.length - (raw.length % dim));
        if (x.length === 0) return;
        const p = refSoftmax(x, dim);
        for (let base = 0; base < x.length; base += dim) {
          let sum = 0;
          for (let i = 0; i < dim; i++) {
            expect(p[base + i]).toBeGreaterThanOrEqual(0);
            sum += p[base + i]!;
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
        }
        expect(maxAbsDiff(refSoftmax(x.map((v) => v + 3.25), dim), p)).toBeLessThan(1e-12);
      }),
    );
  });

  it('is stable for large logits', () => {
    const p = refSoftmax([1000, 1001], 2);
    expect(p[0]).toBeCloseTo(1 / (1 + Math.E), 15);
    expect(p[1]).toBeCloseTo(Math.E / (1 + Math.E), 15);
  });
});

describe('refLayerNorm', () => {
  it('weight 1, bias 0: each row has mean 0 and (biased) variance var/(var+eps) ≈ 1', () => {
    const arb = fc.integer({ min: 2, max: 16 }).chain((dim) =>
      fc.tuple(fc.constant(dim), fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: dim, maxLength: dim * 3 })),
    );
    fc.assert(
      fc.property(arb, ([dim, raw]) => {
        const x = raw.slice(0, raw.length - (raw.length % dim));
        const y = refLayerNorm(x, dim, 1e-12, new Array(dim).fill(1), new Array(dim).fill(0));
        for (let base = 0; base < y.length; base += dim) {
          const stats = (row: number[]) => {
            const mean = row.reduce((a, v) => a + v, 0) / dim;
            return { mean, variance: row.reduce((a, v) => a + (v - mean) ** 2, 0) / dim };
          };
          const out = stats(Array.from(y.subarray(base, base + dim)));
          // x − mean cancels: its float64 rounding (~1e-16·|x|) is amplified by 1/std, so the bound scales with both.
          const input = stats(x.slice(base, base + dim));
          const maxAbs = Math.max(...x.slice(base, base + dim).map(Math.abs), 1);
          expect(Math.abs(out.mean)).toBeLessThan(1e-12 + (1e-14 * maxAbs) / Math.sqrt(input.variance + 1e-12));
          // The output variance is var/(var + eps): ≈ 1 unless the input row is (nearly) constant.
          if (stats(x.slice(base, base + dim)).variance > 1e-2) expect(Math.abs(out.variance - 1)).toBeLessThan(1e-9);
        }
      }),
    );
  });

  it('applies eps inside the sqrt and the affine per feature', () => {
    // Row [1, 3]: mean 2, biased var 1, eps 3 -> (∓1)/2; then ·[2, 4] + [0.5, -0.5].
    expect(Array.from(refLayerNorm([1, 3], 2, 3, [2, 4], [0.5, -0.5]))).toEqual([-0.5, 1.5]);
  });
});

describe('refAttention', () => {
  it('gives padded keys exactly zero probability and averages equal keys uniformly', () => {
    const q = [1, 2, 3, 4]; // B=1, S=2, H=2, 1 head
    const k = [0.5, 0.5, 0.5, 0.5];
    const v = [1, 10, 3, 30];
    const full = refAttention(q, k, v, { batch: 1, numHeads: 1, queryLen: 2 });
    expect(Array.from(full.probs)).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(Array.from(full.context)).toEqual([2, 20, 2, 20]);
    const masked = refAttention(q, [9, 9, 0.5, 0.5], v, { batch: 1, numHeads: 1, queryLen: 2, keyMask: [0, 1] });
    expect(Array.from(masked.probs)).toEqual([0, 1, 0, 1]);
    expect(Array.from(masked.context)).toEqual([3, 30, 3, 30]);
  });
});

describe('randomRefWeights', () => {
  const cfg: RefBertConfig = { vocabSize: 7, hiddenSize: 4, numLayers: 2, numHeads: 2, intermediateSize: 6, maxPositions: 5, typeVocabSize: 2, layerNormEps: 1e-12, hiddenAct: 'gelu' };

  it('is deterministic per seed, covers every HF parameter, and has non-trivial LayerNorm params', () => {
    const a = randomRefWeights(cfg, 42);
    const b = randomRefWeights(cfg, 42);
    const c = randomRefWeights(cfg, 43);
    const shapes = refBertWeightShapes(cfg);
    expect(Object.keys(a).sort()).toEqual(shapes.map(([n]) => n).sort());
    expect(shapes).toContainEqual(['encoder.layer.1.intermediate.dense.weight', [6, 4]]);
    for (const [name, shape] of shapes) {
      expect(a[name]!.shape).toEqual(shape);
      expect(Array.from(a[name]!.values)).toEqual(Array.from(b[name]!.values));
      expect(maxAbsDiff(a[name]!.values, c[name]!.values)).toBeGreaterThan(0);
      const vals = Array.from(a[name]!.values);
      if (name.endsWith('LayerNorm.weight')) vals.forEach((v) => expect(Math.abs(v - 1)).toBeLessThanOrEqual(0.1));
      if (name.endsWith('LayerNorm.bias')) vals.forEach((v) => expect(Math.abs(v)).toBeLessThanOrEqual(0.1));
      if (name.includes('LayerNorm')) expect(new Set(vals).size).toBe(vals.length);
    }
    expect(randomRefWeights(cfg, 1, { pooler: false })['pooler.dense.weight']).toBeUndefined();
  });
});

describe('refBertForward: hand-computed 1-layer, H=2, 1-head example', () => {
  // For H = 2 LayerNorm reduces to: d = (x0 - x1)/2, x̂ = (d, -d)/√(d² + eps). We use eps = 1, so the
  // 3-4-5 triangle gives exact values: d = 3/4 -> 0.6, d = 4/3 -> 0.8.
  const cfg: RefBertConfig = { vocabSize: 2, hiddenSize: 2, numLayers: 1, numHeads: 1, intermediateSize: 2, maxPositions: 2, typeVocabSize: 1, layerNormEps: 1, hiddenAct: 'relu' };
  const t = (shape: number[], values: number[]) => ({ shape, values: Float64Array.from(values) });
  const w: RefWeights = {
    'embeddings.word_embeddings.weight': t([2, 2], [0.75, -0.75, 1, 1]),
    'embeddings.position_embeddings.weight': t([2, 2], [0, 0, 4 / 3, -4 / 3]),
    'embeddings.token_type_embeddings.weight': t([1, 2], [0.25, 0.25]),
    'embeddings.LayerNorm.weight': t([2], [1, 1]),
    'embeddings.LayerNorm.bias': t([2], [0, 0]),
    'encoder.layer.0.attention.self.query.weight': t([2, 2], [0, 0, 0, 0]),
    'encoder.layer.0.attention.self.query.bias': t([2], [Math.SQRT2 * Math.log(3), 0]),
    'encoder.layer.0.attention.self.key.weight': t([2, 2], [5, 0, 1, 0]),
    'encoder.layer.0.attention.self.key.bias': t([2], [-3, 0]),
    'encoder.layer.0.attention.self.value.weight': t([2, 2], [1, 0, 1, 2]),
    'encoder.layer.0.attention.self.value.bias': t([2], [0, 0]),
    'encoder.layer.0.attention.output.dense.weight': t([2, 2], [1, 0.5, 0, 1]),
    'encoder.layer.0.attention.output.dense.bias': t([2], [0.1, -0.1]),
    'encoder.layer.0.attention.output.LayerNorm.weight': t([2], [2, 1]),
    'encoder.layer.0.attention.output.LayerNorm.bias': t([2], [0, 0.5]),
    'encoder.layer.0.intermediate.dense.weight': t([2, 2], [1, 0, -1, 0]),
    'encoder.layer.0.intermediate.dense.bias': t([2], [0.5, 0]),
    'encoder.layer.0.output.dense.weight': t([2, 2], [1, 3, 0.5, 1]),
    'encoder.layer.0.output.dense.bias': t([2], [0, -0.25]),
    'encoder.layer.0.output.LayerNorm.weight': t([2], [1.5, 0.5]),
    'encoder.layer.0.output.LayerNorm.bias': t([2], [0.1, -0.1]),
    'pooler.dense.weight': t([2, 2], [1, 0, 1, 1]),
    'pooler.dense.bias': t([2], [0, 0.5]),
  };
  const n = (d: number) => d / Math.sqrt(d * d + 1);

  // Embeddings (ids [0, 1], type 0):
  //   pos 0: (0.75, -0.75) + (0, 0) + (0.25, 0.25) = (1, -0.5),          d = 3/4 -> h0 = (0.6, -0.6)
  //   pos 1: (1, 1) + (4/3, -4/3) + (0.25, 0.25) = (2.5833, -0.0833),   d = 4/3 -> h1 = (0.8, -0.8)
  // Attention: q = bq = (√2·ln3, 0) for every query; k = (5·h[0] - 3, h[0]) -> k0 = (0, 0.6), k1 = (1, 0.8);
  //   scores = q·k/√2 = (0, ln 3) -> probs (1/4, 3/4); v = (h0, h0 + 2h1) = h.
  //   row 0 (mask [1,1]): ctx = 0.25·(0.6,-0.6) + 0.75·(0.8,-0.8) = (0.75, -0.75)  [c = 0.75]
  //   row 1 (mask [1,0]): ctx = v0 = (0.6, -0.6)                                     [c = 0.6]
  // dense(ctx = (c,-c)) = (c - 0.5c + 0.1, -c - 0.1); + residual (p,-p) -> d = 0.75c + 0.1 + p;
  //   r = n(d); attention LN: a = (2r, 0.5 - r).
  // FFN: intermediate = relu(a0 + 0.5, -a0) = (2r + 0.5, 0) (the relu matters: -2r < 0);
  //   output.dense = (2r + 0.5, 0.5(2r + 0.5) - 0.25) = (2r + 0.5, r); + a = (4r + 0.5, 0.5) -> d = 2r.
  //   out = (1.5·n(2r) + 0.1, -0.5·n(2r) - 0.1).
  // Pooler on out at position 0: (tanh(o0), tanh(o0 + o1 + 0.5)).
  //   row 0 pos 0: c=0.75, p=0.6: d=1.2625, r=0.78388842, n(2r)=0.84309499, out=(1.36464249, -0.52154750),
  //                pooled=(0.87746545, 0.87241362)
  //   row 0 pos 1: c=0.75, p=0.8: d=1.4625, r=0.82548028, n(2r)=0.85533149, out=(1.38299723, -0.52766574)
  //   row 1 pos 0: c=0.6,  p=0.6: d=1.15,   r=0.75460552, n(2r)=0.83361243, out=(1.35041865, -0.51680622)
  //   row 1 pos 1: c=0.6,  p=0.8: d=1.35,   r=0.80355719, n(2r)=0.84905241, out=(1.37357861, -0.52452620)
  const out = (c: number, p: number): [number, number] => {
    const r2 = n(2 * n(0.75 * c + 0.1 + p));
    return [1.5 * r2 + 0.1, -0.5 * r2 - 0.1];
  };

  it('matches the hand derivation', () => {
    const res = refBertForward(cfg, w, [[0, 1], [0, 1]], [[1, 1], [1, 0]]);
    expect(res.layerOutputs).toHaveLength(2);
    expect(res.lastHidden).toBe(res.layerOutputs[1]);
    expect(maxAbsDiff(res.layerOutputs[0]!, [0.6, -0.6, 0.8, -0.8, 0.6, -0.6, 0.8, -0.8])).toBeLessThan(1e-15);
    const expected = [...out(0.75, 0.6), ...out(0.75, 0.8), ...out(0.6, 0.6), ...out(0.6, 0.8)];
    expect(maxAbsDiff(res.lastHidden, expected)).toBeLessThan(1e-14);
    expect(maxAbsDiff(res.lastHidden.subarray(0, 2), [1.3646424857132635, -0.5215474952377545])).toBeLessThan(1e-14);
    const [o0, o1] = out(0.75, 0.6);
    const [p0, p1] = out(0.6, 0.6);
    expect(maxAbsDiff(res.pooled!, [Math.tanh(o0), Math.tanh(o0 + o1 + 0.5), Math.tanh(p0), Math.tanh(p0 + p1 + 0.5)])).toBeLessThan(1e-14);
  });

  it('rejects missing or mis-shaped weights and out-of-range inputs', () => {
    const { 'encoder.layer.0.output.dense.bias': _dropped, ...missing } = w;
    expect(() => refBertForward(cfg, missing, [[0, 1]])).toThrow(/missing encoder\.layer\.0\.output\.dense\.bias/);
    expect(() => refBertForward(cfg, { ...w, 'pooler.dense.weight': t([4], [1, 0, 1, 1]) }, [[0, 1]])).toThrow(/pooler\.dense\.weight has shape \[4\]/);
    expect(() => refBertForward(cfg, w, [[0, 2]])).toThrow(/inputIds/);
    expect(() => refBertForward(cfg, w, [[0, 1, 1]])).toThrow(/maxPositions/);
    expect(() => refBertForward(cfg, w, [[0, 1], [0]])).toThrow(/row 1/);
    expect(() => refBertForward({ ...cfg, numHeads: 3 }, w, [[0, 1]])).toThrow(/divisible/);
  });
});

describe('refBertForward properties', () => {
  const baseCfg = (numHeads: number, hiddenAct: RefBertConfig['hiddenAct'], positionOffset: number): RefBertConfig => ({
    vocabSize: 11, hiddenSize: 4, numLayers: 2, numHeads, intermediateSize: 6, maxPositions: 10, typeVocabSize: 2, layerNormEps: 1e-12, hiddenAct, positionOffset,
  });
  /** std 0.02 makes attention nearly uniform; scale non-LN tensors up so token changes matter. */
  const strong = (cfg: RefBertConfig, seed: number): RefWeights => {
    const w = randomRefWeights(cfg, seed);
    for (const [name, tensor] of Object.entries(w)) if (!name.includes('LayerNorm')) tensor.values = tensor.values.map((v) => v * 40);
    return w;
  };
  const arbCase = fc.record({
    seed: fc.integer(),
    numHeads: fc.constantFrom(1, 2, 4),
    act: fc.constantFrom<RefBertConfig['hiddenAct']>('gelu', 'gelu_new', 'relu'),
    offset: fc.constantFrom(0, 2),
    seqLen: fc.integer({ min: 2, max: 6 }),
    rows: fc.array(fc.record({ len: fc.integer({ min: 1, max: 6 }), tokens: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 12, maxLength: 12 }), types: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 6, maxLength: 6 }) }), { minLength: 1, maxLength: 3 }),
  });

  it('changing tokens at padded positions leaves non-padded outputs (and the pooled CLS) unchanged', () => {
    fc.assert(
      fc.property(arbCase, ({ seed, numHeads, act, offset, seqLen, rows }) => {
        const cfg = baseCfg(numHeads, act, offset);
        const w = strong(cfg, seed);
        const S = seqLen;
        const lens = rows.map((r) => Math.min(r.len, S));
        const ids = rows.map((r) => r.tokens.slice(0, S));
        const altered = rows.map((r, b) => r.tokens.slice(0, S).map((tok, s) => (s < lens[b]! ? tok : r.tokens[6 + s]!)));
        const types = rows.map((r) => r.types.slice(0, S));
        const mask = lens.map((len) => Array.from({ length: S }, (_, s) => (s < len ? 1 : 0)));
        const a = refBertForward(cfg, w, ids, mask, types);
        const b = refBertForward(cfg, w, altered, mask, types);
        const real = (bi: number, s: number) => s < lens[bi]!;
        for (let l = 0; l <= cfg.numLayers; l++) {
          expect(maxAbsDiff(slicePositions(a.layerOutputs[l]!, ids.length, S, 4, real), slicePositions(b.layerOutputs[l]!, ids.length, S, 4, real))).toBe(0);
        }
        expect(maxAbsDiff(a.pooled!, b.pooled!)).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('negative control: without the mask the same padded-token change is visible', () => {
    const cfg = baseCfg(2, 'gelu', 0);
    const w = strong(cfg, 7);
    const a = refBertForward(cfg, w, [[1, 2, 3, 4]]);
    const b = refBertForward(cfg, w, [[1, 2, 3, 9]]);
    const first3 = (_b: number, s: number) => s < 3;
    expect(maxAbsDiff(slicePositions(a.lastHidden, 1, 4, 4, first3), slicePositions(b.lastHidden, 1, 4, 4, first3))).toBeGreaterThan(1e-3);
  });

  it('with identical position embeddings, permuting non-padded tokens permutes their outputs', () => {
    fc.assert(
      fc.property(arbCase, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 6 }), ({ seed, numHeads, act, offset, seqLen, rows }, keys) => {
        const cfg = baseCfg(numHeads, act, offset);
        const w = strong(cfg, seed);
        const pos = w['embeddings.position_embeddings.weight']!.values;
        for (let i = 4; i < pos.length; i++) pos[i] = pos[i % 4]!;
        const S = seqLen;
        const lens = rows.map((r) => Math.min(r.len, S));
        const mask = lens.map((len) => Array.from({ length: S }, (_, s) => (s < len ? 1 : 0)));
        // perm[b] sorts the first len positions by the random keys; padded positions stay put.
        const perms = lens.map((len) => Array.from({ length: S }, (_, s) => s).sort((x, y) => (x < len && y < len ? keys[x]! - keys[y]! || x - y : x - y)));
        const ids = rows.map((r) => r.tokens.slice(0, S));
        const types = rows.map((r) => r.types.slice(0, S));
        const pIds = ids.map((row, b) => perms[b]!.map((j) => row[j]!));
        const pTypes = types.map((row, b) => perms[b]!.map((j) => row[j]!));
        const a = refBertForward(cfg, w, ids, mask, types).lastHidden;
        const p = refBertForward(cfg, w, pIds, mask, pTypes).lastHidden;
        for (let b = 0; b < ids.length; b++) {
          for (let s = 0; s < S; s++) {
            // Padded rows attend to the same set of keys, so they are unchanged too.
            const src = perms[b]![s]!;
            expect(maxAbsDiff(p.subarray((b * S + s) * 4, (b * S + s + 1) * 4), a.subarray((b * S + src) * 4, (b * S + src + 1) * 4))).toBeLessThan(1e-10);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('positionOffset reads position rows offset, offset + 1, …', () => {
    const cfg2 = baseCfg(2, 'gelu_new', 2);
    const cfg0 = baseCfg(2, 'gelu_new', 0);
    const w2 = strong(cfg2, 3);
    const shifted = w2['embeddings.position_embeddings.weight']!.values.slice();
    shifted.copyWithin(0, 2 * 4);
    const w0: RefWeights = { ...w2, 'embeddings.position_embeddings.weight': { shape: [10, 4], values: shifted } };
    const ids = [[1, 5, 7, 2, 0, 3, 9, 4]];
    expect(maxAbsDiff(refBertForward(cfg2, w2, ids).lastHidden, refBertForward(cfg0, w0, ids).lastHidden)).toBe(0);
    expect(() => refBertForward(cfg2, w2, [[1, 2, 3, 4, 5, 6, 7, 8, 9]])).toThrow(/maxPositions/);
  });

  it('defaults: no mask = all ones, no token types = all zeros', () => {
    const cfg = baseCfg(4, 'relu', 0);
    const w = strong(cfg, 11);
    const ids = [[3, 1, 4], [1, 5, 9]];
    const a = refBertForward(cfg, w, ids);
    const b = refBertForward(cfg, w, ids, [[1, 1, 1], [1, 1, 1]], [[0, 0, 0], [0, 0, 0]]);
    expect(maxAbsDiff(a.lastHidden, b.lastHidden)).toBe(0);
  });
});

// The NICE block: inverse(forward(e)) = e for random weights and inputs (property), forward matches a float64
// reference, log|det J| = 0 (finite differences in float64), and in the model the inverse before the masked-LM
// decoder undoes the forward on the embeddings.
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { GraphBuilder, WeightStore, Executor } from '@adapters/core-graph';
import { createRefRng } from '@adapters/core-graph/testing';
import { buildNiceForward, buildNiceInverse, declareNiceParams, niceDims, niceParamCount } from './invertible';
import { buildMadx } from './madx';
import { baseStore, FEEDS, maxAbsDiff, maxRelDiff, randomize, runValues, tinyBase } from './__tests__/helpers';
import type { Nice64 } from './__tests__/reference';
import { logAbsDet, nice64, niceForward64, niceInverse64 } from './__tests__/reference';

/** A graph x → forward → inverse (outputs `y` = forward(x), `z` = inverse(y), `w` = forward(inverse(x))). */
function niceGraph(d: number, rf: number) {
  const b = new GraphBuilder();
  const x = b.input('x', ['batch', 'seq', d], 'float32');
  const dims = niceDims(d, rf);
  const fwd = b.scope('fwd', 'adapter:a');
  const params = declareNiceParams(fwd, 'invertible_adapters.a', dims);
  const y = buildNiceForward(fwd, x, dims, params, 'relu');
  const z = buildNiceInverse(b.scope('inv', 'adapter:a'), y, dims, params, 'relu');
  const w = buildNiceForward(b.scope('fwd2', 'adapter:a'), buildNiceInverse(b.scope('inv2', 'adapter:a'), x, dims, params, 'relu'), dims, params, 'relu');
  b.output('y', y);
  b.output('z', z);
  b.output('w', w);
  return { graph: b.build(), dims };
}

function randomWeights(store: WeightStore, keys: Iterable<string>, seed: number, scale: number): void {
  const rng = createRefRng(seed);
  for (const k of keys) {
    const v = store.get(k);
    const t = tf.tensor(Float32Array.from({ length: v.size }, () => scale * rng.normal()), v.shape);
    store.assign(k, t);
    t.dispose();
  }
}

describe('NICE coupling block', () => {
  test('inverse(forward(e)) = e and forward(inverse(o)) = o within 1e-5, for random weights and inputs (property)', () => {
    const arb = fc.record({
      d: fc.integer({ min: 2, max: 12 }),
      rf: fc.constantFrom(1, 1.5, 2, 3),
      batch: fc.integer({ min: 1, max: 3 }),
      seq: fc.integer({ min: 1, max: 4 }),
      seed: fc.integer({ min: 0, max: 1_000_000 }),
      scale: fc.constantFrom(0.1, 0.5, 1),
    });
    fc.assert(
      fc.property(arb, ({ d, rf, batch, seq, seed, scale }) => {
        fc.pre(Math.floor(Math.floor(d / 2) / rf) >= 1);
        const { graph, dims } = niceGraph(d, rf);
        const store = WeightStore.create(graph, seed);
        randomWeights(store, store.keys(), seed, scale);
        const rng = createRefRng(seed + 1);
        const input = Float32Array.from({ length: batch * seq * d }, () => 2 * rng.normal());
        const x = tf.tensor3d(input, [batch, seq, d]);
        const out = new Executor(graph, store).run({ x });
        const [y, z, w] = ['y', 'z', 'w'].map((k) => Float32Array.from((out[k] as tf.Tensor).dataSync()));
        tf.dispose([x, ...Object.values(out)]);
        // The float64 reference on the stored (float32) weights.
        const p = {
          d,
          F: { w0: f64(store, 'invertible_adapters.a.F.0.weight'), b0: f64(store, 'invertible_adapters.a.F.0.bias'), w2: f64(store, 'invertible_adapters.a.F.2.weight'), b2: f64(store, 'invertible_adapters.a.F.2.bias'), hidden: dims.hiddenF },
          G: { w0: f64(store, 'invertible_adapters.a.G.0.weight'), b0: f64(store, 'invertible_adapters.a.G.0.bias'), w2: f64(store, 'invertible_adapters.a.G.2.weight'), b2: f64(store, 'invertible_adapters.a.G.2.bias'), hidden: dims.hiddenG },
        };
        store.dispose();
        const ref = niceForward64(input, p);
        expect(maxAbsDiff(z as Float32Array, input)).toBeLessThanOrEqual(1e-5);
        expect(maxRelDiff(y as Float32Array, ref, 1)).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(niceInverse64(ref, p), input)).toBeLessThanOrEqual(1e-12);
        // The other order passes through inverse(x), which can be larger than x: float32 rounding scales with it.
        const e = niceInverse64(input, p);
        expect(maxAbsDiff(w as Float32Array, input) / Math.max(1, ...Array.from(e, Math.abs))).toBeLessThanOrEqual(1e-5);
      }),
      { numRuns: 30, seed: 20260, endOnFailure: true },
    );
  });

  test('the Jacobian is volume-preserving: log|det J| = 0 (central differences, float64, d = 5)', () => {
    const d = 5; // odd, so |e1| = 2 and |e2| = 3 differ
    const rng = createRefRng(11);
    const normal = (n: number, s: number) => Float64Array.from({ length: n }, () => s * rng.normal());
    // rf 0.5 (hidden = 2n) and positive first-layer biases keep ReLU units active, so F and G really couple the halves.
    const dims = niceDims(d, 0.5);
    const positive = (n: number) => normal(n, 1).map((v) => 0.2 + Math.abs(v));
    const p: Nice64 = {
      d,
      F: { w0: normal(dims.split2 * dims.hiddenF, 1), b0: positive(dims.hiddenF), w2: normal(dims.hiddenF * dims.split1, 1), b2: normal(dims.split1, 0.5), hidden: dims.hiddenF },
      G: { w0: normal(dims.split1 * dims.hiddenG, 1), b0: positive(dims.hiddenG), w2: normal(dims.hiddenG * dims.split2, 1), b2: normal(dims.split2, 0.5), hidden: dims.hiddenG },
    };
    const eps = 1e-6;
    for (let trial = 0; trial < 5; trial++) {
      const x = normal(d, 1.5);
      const J = new Float64Array(d * d);
      for (let j = 0; j < d; j++) {
        const plus = Float64Array.from(x);
        const minus = Float64Array.from(x);
        plus[j] = (plus[j] as number) + eps;
        minus[j] = (minus[j] as number) - eps;
        const [fp, fm] = [niceForward64(plus, p), niceForward64(minus, p)];
        for (let i = 0; i < d; i++) J[i * d + j] = ((fp[i] as number) - (fm[i] as number)) / ((plus[j] as number) - (minus[j] as number));
      }
      // Structure: J = [[I, F'], [G', I + G'F']] = [[I, 0], [G', I]] · [[I, F'], [0, I]]: two unit-triangular
      // factors, so det J = 1. The top-left block is the identity.
      for (let i = 0; i < dims.split1; i++) for (let j = 0; j < dims.split1; j++) expect(Math.abs((J[i * d + j] as number) - (i === j ? 1 : 0))).toBeLessThan(1e-8);
      // The map is far from the identity (so the test is not trivial) yet its volume change is exactly 0.
      const offDiagonal = Math.max(...Array.from(J, (v, k) => (Math.floor(k / d) === k % d ? 0 : Math.abs(v))));
      expect(offDiagonal).toBeGreaterThan(0.1);
      expect(Math.abs(logAbsDet(J, d))).toBeLessThan(1e-8);
    }
  });

  test('widths follow AdapterHub: split ⌊d/2⌋ / d − ⌊d/2⌋, hidden = int(n // rf); too large a factor is a ConfigError', () => {
    expect(niceDims(384, 2)).toEqual({ width: 384, split1: 192, split2: 192, hiddenF: 96, hiddenG: 96 });
    expect(niceDims(7, 2)).toEqual({ width: 7, split1: 3, split2: 4, hiddenF: 2, hiddenG: 1 });
    // F: 192→96→192, G: 192→96→192, each 2·192·96 + 96 + 192 = 37,152.
    expect(niceParamCount(niceDims(384, 2))).toBe(2 * (2 * 192 * 96 + 96 + 192));
    expect(() => niceDims(4, 3)).toThrow(/inv_adapter_reduction_factor.*leaves no hidden units/);
    expect(() => niceDims(1, 1)).toThrow(/at least 2/);
  });
});

describe('the invertible adapter in a model', () => {
  test('the inverse before the masked-LM decoder undoes the forward on the embeddings (same weights, exact up to 1e-5)', () => {
    const base = tinyBase();
    const { graph } = buildMadx(base, { language: 'en' });
    const { store } = baseStore(graph, 3);
    randomize(graph, store, 'adapter:en', 5, 0.5);
    const emb = runValues(graph, store, FEEDS, { outputs: [], nodes: ['embeddings.dropout', 'embeddings.adapters.en.out'] });
    const embeddings = emb['embeddings.dropout'] as Float32Array;
    const forward = emb['embeddings.adapters.en.out'] as Float32Array;
    expect(maxAbsDiff(forward, embeddings)).toBeGreaterThan(0.05);
    // Feed the forward output where the head's transform ends; read what the decoder reads.
    const constant = tf.tensor3d(forward, [2, 6, 16]);
    const inv = runValues(graph, store, FEEDS, { outputs: [], nodes: ['heads.mlm.decoder_input.adapters.en.out'], constants: new Map([['heads.mlm.cls.predictions.transform.LayerNorm', constant]]) });
    constant.dispose();
    expect(maxAbsDiff(inv['heads.mlm.decoder_input.adapters.en.out'] as Float32Array, embeddings)).toBeLessThanOrEqual(1e-5);
    // The decoder reads the inverse's output; the NICE forward of the embeddings matches the float64 reference.
    expect(graph.node('heads.mlm.cls.predictions.decoder').inputs).toEqual(['heads.mlm.decoder_input.splice.switch']);
    expect(maxRelDiff(forward, niceForward64(embeddings, nice64(store, 'en', 16)), 1)).toBeLessThanOrEqual(1e-5);
    store.dispose();
  });
});

function f64(store: WeightStore, key: string): Float64Array {
  return Float64Array.from(store.get(key).dataSync());
}

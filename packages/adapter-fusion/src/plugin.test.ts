import * as tf from '@tensorflow/tfjs';
import * as fc from 'fast-check';
import type { Graph, RunContext } from '@adapters/core-graph';
import { adapter, applyPlacements, describeTree, Executor, GraphError, ownersPolicy, PlacementError, Stack, WeightStore } from '@adapters/core-graph';
import type { FusionConfig } from './index';
import { applyFusion, Fuse, fuse, fusionCatalog, fusionProbsOp, resolveFusionConfig } from './index';
import { assignValues, baseGraph, bitEqual, D, fusedGraph, identity, maxAbsDiff, randomValues, registry, run, seqBn } from './__tests__/helpers';

const NO_TRAIN: RunContext = { training: false, nextSeed: () => 0 };

function siteOf(graph: Graph, name: string, site = 'layer.0.ffn') {
  const s = fusionCatalog(graph)[name]?.sites[site];
  if (!s) throw new Error(`no fusion ${name} at ${site}`);
  return s;
}

describe('Fuse block', () => {
  test('builds one fusion layer per FFN site, owned by fusion:NAME, with AdapterHub module names', () => {
    const graph = fusedGraph(baseGraph(), ['a', 'b', 'c']);
    const record = fusionCatalog(graph)['a,b,c'];
    expect(record?.adapters).toEqual(['a', 'b', 'c']);
    expect(Object.keys(record?.sites ?? {})).toEqual(['layer.0.ffn', 'layer.1.ffn']);
    const s = siteOf(graph, 'a,b,c');
    expect(Object.keys(s.params).sort()).toEqual(['key.bias', 'key.weight', 'query.bias', 'query.weight', 'value.weight']);
    for (const key of Object.values(s.params)) expect(graph.param(key).owner).toBe('fusion:a,b,c');
    expect(graph.param(s.params['value.weight'] as string).init).toEqual({ kind: 'identity', offDiagonal: 1e-6 });
    expect(graph.node(s.probs).type.shape).toEqual(['batch', 'seq', 3]);
    expect(graph.node(s.stacked).type.shape).toEqual(['batch', 'seq', 3, D]);
    const fusionParams = [...graph.params.values()].filter((p) => p.owner === 'fusion:a,b,c').reduce((n, p) => n + p.shape.reduce((x, y) => x * y, 1), 0);
    expect(fusionParams).toBe(2 * (3 * D * D + 2 * D));
    expect(graph.splices.map((sp) => sp.composition)).toEqual(['Fuse(a, b, c)', 'Fuse(a, b, c)']);
    // The static config has no V.
    const st = fusedGraph(baseGraph(), ['a', 'b'], 'static');
    expect(Object.keys(siteOf(st, 'a,b').params).sort()).toEqual(['key.bias', 'key.weight', 'query.bias', 'query.weight']);
  });

  test('V = I and K = 0 (equal scores): the output is the mean of the adapter outputs plus the residual', () => {
    for (const names of [['a', 'b'], ['a', 'b', 'c']]) {
      const graph = fusedGraph(baseGraph(), names);
      const store = WeightStore.create(graph, 3);
      const name = names.join(',');
      for (const site of Object.values(fusionCatalog(graph)[name]?.sites ?? {})) {
        assignValues(store, site.params['key.weight'] as string, new Float32Array(D * D));
        assignValues(store, site.params['key.bias'] as string, new Float32Array(D));
        assignValues(store, site.params['value.weight'] as string, identity(D));
      }
      for (const siteName of ['layer.0.ffn', 'layer.1.ffn']) {
        const s = siteOf(graph, name, siteName);
        const out = run(graph, store, undefined, { outputs: [], nodes: [s.output, s.residual, s.probs, ...s.ups] });
        const ups = s.ups.map((u) => out[u] as Float32Array);
        const r = out[s.residual] as Float32Array;
        const y = out[s.output] as Float32Array;
        for (const p of out[s.probs] as Float32Array) expect(p).toBe(Math.fround(1 / names.length));
        if (names.length === 2) {
          // 0.5·u1 + 0.5·u2 = fl(u1 + u2)/2 exactly, so the check is bit for bit.
          const expected = Float32Array.from(r, (ri, i) => Math.fround(Math.fround(Math.fround((ups[0]?.[i] as number) + (ups[1]?.[i] as number)) * 0.5) + ri));
          expect(bitEqual(y, expected)).toBe(true);
        } else {
          const expected = Float64Array.from(r, (ri, i) => ups.reduce((acc, u) => acc + (u[i] as number), 0) / ups.length + ri);
          expect(maxAbsDiff(y, expected)).toBeLessThan(1e-6);
        }
      }
      store.dispose();
    }
  });

  test('fusing one adapter with V = I equals that adapter alone, bit for bit', () => {
    const base = baseGraph();
    const alone = applyPlacements(base, [{ adapter: seqBn('a') }], registry).graph;
    const fused = fusedGraph(base, ['a']);
    const store = WeightStore.create(fused, 5);
    store.sync(alone, 5);
    for (const site of Object.values(fusionCatalog(fused)['a']?.sites ?? {})) assignValues(store, site.params['value.weight'] as string, identity(D));
    const a = run(alone, store);
    const f = run(fused, store);
    expect(bitEqual(f['last_hidden_state'] as Float32Array, a['last_hidden_state'] as Float32Array)).toBe(true);
    expect(bitEqual(f['tgt.logits'] as Float32Array, a['tgt.logits'] as Float32Array)).toBe(true);
    store.dispose();
  });

  test('forward matches a float64 reference of the fusion formula', () => {
    const variants: Array<Record<string, unknown>> = [
      { config: 'dynamic' },
      { config: 'static' },
      { config: 'dynamic', value_before_softmax: false },
      { config: 'dynamic', residual_before: true, query_before_ln: true },
      { config: 'dynamic', query: false },
    ];
    let worst = 0;
    let spread = 0;
    for (const [vi, variant] of variants.entries()) {
      const graph = fusedGraph(baseGraph(), ['a', 'b', 'c'], variant);
      const config = resolveFusionConfig(variant);
      const store = WeightStore.create(graph, 11 + vi);
      const record = fusionCatalog(graph)['a,b,c'];
      // Large random Q, K, V so the attention is far from uniform.
      Object.values(record?.sites ?? {}).forEach((site, si) => {
        for (const [local, key] of Object.entries(site.params)) {
          const n = store.get(key).size;
          assignValues(store, key, randomValues(n, 100 * vi + 10 * si + local.length, local.startsWith('value') ? 0.5 : 4));
        }
      });
      for (const siteName of ['layer.0.ffn', 'layer.1.ffn']) {
        const s = siteOf(graph, 'a,b,c', siteName);
        const out = run(graph, store, undefined, { outputs: [], nodes: [s.output, s.residual, s.query, s.probs, ...s.ups] });
        const w = (local: string) => (s.params[local] ? (store.get(s.params[local]).dataSync() as Float32Array) : undefined);
        const expected = referenceFusion(config, out[s.query] as Float32Array, s.ups.map((u) => out[u] as Float32Array), out[s.residual] as Float32Array, {
          q: w('query.weight'), qb: w('query.bias'), k: w('key.weight'), kb: w('key.bias'), v: w('value.weight'),
        });
        const y = out[s.output] as Float32Array;
        const scale = Math.max(...Array.from(expected.out, Math.abs));
        worst = Math.max(worst, maxAbsDiff(y, expected.out) / scale);
        expect(maxAbsDiff(out[s.probs] as Float32Array, expected.probs)).toBeLessThan(1e-5);
        spread = Math.max(spread, Math.max(...Array.from(expected.probs)) - Math.min(...Array.from(expected.probs)));
      }
      store.dispose();
    }
    expect(worst).toBeLessThan(1e-5);
    // Far from uniform attention: the check is not trivial.
    expect(spread).toBeGreaterThan(0.3);
  });

  test('softmax weights sum to one and are non-negative for random queries and keys (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double({ min: 0.01, max: 20, noNaN: true }),
        (n, seq, d, seed, scale) => {
          const [sums, min] = tf.tidy(() => {
            const q = tf.tensor(randomValues(seq * d, seed, scale), [1, seq, d]);
            const k = tf.tensor(randomValues(seq * n * d, seed + 1, scale), [1, seq, n, d]);
            const p = fusionProbsOp.run([q, k], {}, { dropout: 0 }, NO_TRAIN);
            expect(p.shape).toEqual([1, seq, n]);
            return [tf.sum(p, -1).dataSync(), tf.min(p).dataSync()[0] as number];
          });
          expect(min).toBeGreaterThanOrEqual(0);
          for (const s of sums) expect(Math.abs(s - 1)).toBeLessThan(1e-6);
        },
      ),
      { numRuns: 40, seed: 42 },
    );
    // And inside a model with random fusion weights.
    const graph = fusedGraph(baseGraph(), ['a', 'b', 'c']);
    const store = WeightStore.create(graph, 9);
    const s = siteOf(graph, 'a,b,c', 'layer.1.ffn');
    for (const key of Object.values(s.params)) assignValues(store, key, randomValues(store.get(key).size, 5, 2));
    const p = run(graph, store, undefined, { outputs: [], nodes: [s.probs] })[s.probs] as Float32Array;
    for (let i = 0; i < p.length; i += 3) expect(Math.abs((p[i] as number) + (p[i + 1] as number) + (p[i + 2] as number) - 1)).toBeLessThan(1e-6);
    store.dispose();
  });

  test('shape inference of the fusion ops rejects mismatched inputs', () => {
    const graph = fusedGraph(baseGraph(), ['a', 'b']);
    const s = siteOf(graph, 'a,b');
    expect(() => applyPlacements(graph, [], registry)).not.toThrow();
    const types = (ids: string[]) => ids.map((id) => graph.node(id).type);
    expect(() => fusionProbsOp.inferType({ nodeId: 'x', inputs: types([s.query, s.query]), inputIds: [s.query, s.query], attrs: {}, params: {} })).toThrow(GraphError);
    expect(fusionProbsOp.inferType({ nodeId: 'x', inputs: types([s.query, s.stacked]), inputIds: [s.query, s.stacked], attrs: {}, params: {} }).shape).toEqual(['batch', 'seq', 2]);
  });

  test('fusing adapters with different placements or input protocols is an error naming them', () => {
    const base = baseGraph();
    expect(() => fusedGraphOf(base, [seqBn('a'), adapter('bottleneck', 'h', { config: 'double_seq_bn', reduction_factor: 4 })])).toThrow(/'a' and 'h'.*placed differently/);
    expect(() => fusedGraphOf(base, [seqBn('a'), seqBn('b', { leave_out: [1] })])).toThrow(/'a' and 'b'/);
    // One explicit rule: the adapter left out of layer 1 is refused there, by name.
    expect(() => applyFusion(base, { adapters: [seqBn('a'), seqBn('b', { leave_out: [1] })], select: { kinds: ['ffn'] }, mode: 'wrap' }, registry)).toThrow(/at 'layer\.1\.ffn': 'b' gives no output to fuse/);
    // Same sites and mode, but a parallel adapter reads the sublayer input: refused at the site.
    const rule = { adapter: Fuse(seqBn('a'), adapter('bottleneck', 'p', { config: 'par_bn', reduction_factor: 4 })), select: { kinds: ['ffn'] }, mode: 'wrap' as const };
    expect(() => applyPlacements(base, [rule], registry)).toThrow(/'a' and 'p' are incompatible/);
    expect(() => applyPlacements(base, [{ adapter: Fuse(seqBn('a'), seqBn('b')), select: { kinds: ['ffn'] }, mode: 'parallel' }], registry)).toThrow(PlacementError);
  });

  test('Fuse composes inside Stack and fuses Stack children', () => {
    const base = baseGraph();
    const tree = Stack(fuse([seqBn('a'), Stack(seqBn('b'), seqBn('c'))], { name: 'f', config: 'static' }), seqBn('d'));
    expect(describeTree(tree)).toBe('Stack(Fuse(a, Stack(b, c)), d)');
    const graph = applyPlacements(base, [{ adapter: tree }], registry).graph;
    expect(fusionCatalog(graph)['f']?.sites['layer.0.ffn']?.children).toEqual(['a', 'c']);
    const store = WeightStore.create(graph, 1);
    const out = run(graph, store);
    expect(Array.from(out['tgt.logits'] as Float32Array).every(Number.isFinite)).toBe(true);
    store.dispose();
    expect(Fuse(seqBn('x'), Stack(seqBn('y'), seqBn('z'))).options?.['name']).toBe('x,z');
  });

  test('runs, training-mode runs and gradients leak no tensors', () => {
    const graph = fusedGraph(baseGraph(0.1), ['a', 'b']);
    const store = WeightStore.create(graph, 2);
    const before = tf.memory().numTensors;
    run(graph, store);
    run(graph, store, undefined, { training: true, seed: 3, nodes: [siteOf(graph, 'a,b').probs] });
    store.applyPolicy(graph, ownersPolicy(['fusion:a,b']));
    const vars = Object.values(siteOf(graph, 'a,b').params).map((k) => store.get(k));
    const { value, grads } = tf.variableGrads(() => {
      const out = run2(graph, store);
      return tf.sum(out) as tf.Scalar;
    }, vars);
    expect(Object.keys(grads)).toHaveLength(vars.length);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    store.dispose();
  });
});

function run2(graph: Graph, store: WeightStore): tf.Tensor {
  // Executor.forward without tidy, inside variableGrads.
  return new Executor(graph, store).forward({ input_ids: [[2, 5, 9, 3]] }, { outputs: ['tgt.logits'], training: true, seed: 1 })['tgt.logits'] as tf.Tensor;
}

function fusedGraphOf(base: Graph, uses: Parameters<typeof fuse>[0]) {
  return applyPlacements(base, [{ adapter: fuse(uses) }], registry).graph;
}

interface RefWeights {
  readonly q?: Float32Array | undefined;
  readonly qb?: Float32Array | undefined;
  readonly k?: Float32Array | undefined;
  readonly kb?: Float32Array | undefined;
  readonly v?: Float32Array | undefined;
}

/** Float64 AdapterFusion (BertFusion.forward) on row-major [T, d] inputs; kernels are [in, out]. */
function referenceFusion(c: FusionConfig, query: Float32Array, ups: Float32Array[], residual: Float32Array, w: RefWeights): { out: Float64Array; probs: Float64Array } {
  const d = D;
  const T = residual.length / d;
  const N = ups.length;
  const lin = (x: ArrayLike<number>, off: number, W: Float32Array, b?: Float32Array): Float64Array => {
    const y = new Float64Array(d);
    for (let o = 0; o < d; o++) {
      let s = b ? (b[o] as number) : 0;
      for (let i = 0; i < d; i++) s += (x[off + i] as number) * (W[i * d + o] as number);
      y[o] = s;
    }
    return y;
  };
  const out = new Float64Array(T * d);
  const probs = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    const z = ups.map((u) => Float64Array.from({ length: d }, (_v, i) => (u[t * d + i] as number) + (c.residual_before ? (residual[t * d + i] as number) : 0)));
    const q = c.query ? lin(query, t * d, w.q as Float32Array, w.qb) : Float64Array.from({ length: d }, (_v, i) => query[t * d + i] as number);
    const k = z.map((zn) => (c.key ? lin(zn, 0, w.k as Float32Array, w.kb) : zn));
    const v = z.map((zn) => (c.value && c.value_before_softmax ? lin(zn, 0, w.v as Float32Array) : zn));
    const scores = k.map((kn) => kn.reduce((s, x, i) => s + x * (q[i] as number), 0));
    const m = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - m));
    const sum = e.reduce((a, b) => a + b, 0);
    const p = e.map((x) => x / sum);
    p.forEach((pn, n) => (probs[t * N + n] = pn));
    let ctx: Float64Array = new Float64Array(d);
    for (let n = 0; n < N; n++) for (let i = 0; i < d; i++) ctx[i] = (ctx[i] as number) + (p[n] as number) * ((v[n] as Float64Array)[i] as number);
    if (c.value && !c.value_before_softmax) ctx = lin(ctx, 0, w.v as Float32Array);
    for (let i = 0; i < d; i++) out[t * d + i] = (ctx[i] as number) + (c.residual_before ? 0 : (residual[t * d + i] as number));
  }
  return { out, probs };
}

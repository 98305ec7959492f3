// Properties of the Graph → Graph passes on random adapted encoders (every splice mode and composition block):
// deterministic (same graph → identical printed IR), idempotent, and the lowered graph computes what the
// original does.
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import { GraphBuilder } from '../graph/builder';
import type { Graph } from '../graph/graph';
import type { EncoderConfig } from '../model/config';
import type { PlacementRule } from '../rewrite/apply-placements';
import { addHead } from '../model/heads';
import { buildEncoder } from '../model/encoder';
import { FUSED_KERNELS } from '../ops/fused';
import { defaultRuntime } from '../runtime/runtime';
import { ruleSetArb, smallEncoderConfigArb, tokenIdsArb } from '../testing/arbitraries';
import { registerReferenceFusedKernels } from '../testing/fused-reference';
import { toyRegistry, tryApply } from '../testing/run-helpers';
import { cse } from './cse';
import { lower } from './lower';

const registry = toyRegistry();
const lowerAll = (g: Graph, keep: readonly string[] = []): Graph => lower(g, defaultRuntime.lowerings, { keep });

const caseArb = smallEncoderConfigArb().chain((config) =>
  fc.record({
    config: fc.constant(config),
    ids: tokenIdsArb(config.vocabSize as number, 2, 4),
    rules: ruleSetArb({ numLayers: config.numLayers as number, batch: 2, plugin: 'toy' }),
  }),
);

/** Built from scratch each time, so equal printed IR means the passes are deterministic, not that a cache answered. */
function adaptedGraph(c: { config: Partial<EncoderConfig>; rules: PlacementRule[] }): Graph | undefined {
  const base = addHead(buildEncoder(c.config), { type: 'tokenClassification', name: 'tok', numLabels: 3 });
  return tryApply(base, c.rules, registry)?.graph;
}

function values(out: Record<string, tf.Tensor>): Record<string, number[]> {
  const v = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Array.from(t.dataSync())]));
  tf.dispose(Object.values(out));
  return v;
}

function maxDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  let m = 0;
  for (const k of Object.keys(a)) (a[k] as number[]).forEach((x, i) => (m = Math.max(m, Math.abs(x - (b[k] as number[])[i]!))));
  return m;
}

describe('cse and lower', () => {
  it('are deterministic and idempotent: same graph → identical printed IR; cse(cse(g)) = cse(g), lower(lower(g)) = lower(g)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const g1 = adaptedGraph(c);
        fc.pre(g1 !== undefined);
        const g2 = adaptedGraph(c) as Graph;
        const once = cse(g1);
        expect(cse(g2).toString()).toBe(once.toString());
        expect(cse(once).toString()).toBe(once.toString());
        const lowered = lowerAll(once);
        expect(lowerAll(cse(g2)).toString()).toBe(lowered.toString());
        expect(lowerAll(lowered).toString()).toBe(lowered.toString());
        expect(lowered.fingerprint()).toBe(lowerAll(lowered).fingerprint());
        // Only the LayerNorms change op; every output keeps its node.
        expect(Object.values(lowered.outputs).every((id) => lowered.has(id))).toBe(true);
        expect(lowered.nodes.filter((n) => n.op === 'addLayerNorm').length).toBeGreaterThan(0);
      }),
      { numRuns: 30 },
    );
  });

  it('the lowered graph gives the original outputs: bit for bit with stock kernels, within 1e-5 with the fused reference kernel', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: 1000 }), (c, seed) => {
        const g = adaptedGraph(c);
        fc.pre(g !== undefined);
        const store = WeightStore.create(g, seed);
        const ex = new Executor(g, store);
        const before = tf.memory().numTensors;
        // forward(…, true): the unlowered graph evaluated exactly as run() evaluates (no tape, early release).
        const original = values(tf.tidy(() => ex.forward({ input_ids: c.ids }, {}, true)));
        expect(values(ex.run({ input_ids: c.ids }))).toEqual(original);
        const unregister = registerReferenceFusedKernels(undefined, [FUSED_KERNELS.addLayerNorm]);
        try {
          // The reference kernel normalises in float64: LayerNorm outputs (|y| ≲ 10 here) agree to float32
          // rounding, which later layers carry on (1e-5 as the add+LayerNorm fusion test).
          expect(maxDiff(values(ex.run({ input_ids: c.ids })), original)).toBeLessThan(1e-5);
        } finally {
          unregister();
        }
        expect(tf.memory().numTensors).toBe(before);
        store.dispose();
      }),
      { numRuns: 20 },
    );
  });

  it('prints what changes: a residual LayerNorm before and after lowering', () => {
    const b = new GraphBuilder();
    const [x, y, z] = ['x', 'y', 'z'].map((n) => b.input(n, ['batch', 4], 'float32')) as [string, string, string];
    const s = b.scope('t', 'base');
    const dup = s.add('dup', x, y);
    b.output('out', s.layerNorm('norm', s.add('outer', s.add('inner', x, y), z), 1e-5));
    b.output('side', s.layerNorm('side_norm', dup, 1e-5));
    const g = b.build();
    const nodes = (graph: Graph) => graph.toString().split('\n').filter((l) => l.startsWith('  %t.'));
    expect(nodes(g)).toEqual([
      '  %t.dup = add(%inputs.x, %inputs.y) : [batch, 4] float32',
      '  %t.inner = add(%inputs.x, %inputs.y) : [batch, 4] float32',
      '  %t.outer = add(%t.inner, %inputs.z) : [batch, 4] float32',
      '  %t.norm = layerNorm(%t.outer) {eps=0.00001} params(weight=[4], bias=[4]) : [batch, 4] float32',
      '  %t.side_norm = layerNorm(%t.dup) {eps=0.00001} params(weight=[4], bias=[4]) : [batch, 4] float32',
    ]);
    // cse merges inner into dup (now read twice, so the inner add no longer joins the fused sum).
    expect(nodes(lowerAll(cse(g)))).toEqual([
      '  %t.dup = add(%inputs.x, %inputs.y) : [batch, 4] float32',
      '  %t.norm = addLayerNorm(%t.dup, %inputs.z) {eps=0.00001} params(weight=[4], bias=[4]) : [batch, 4] float32',
      '  %t.side_norm = layerNorm(%t.dup) {eps=0.00001} params(weight=[4], bias=[4]) : [batch, 4] float32',
    ]);
    // Without cse, both sums fuse; a kept node stays as written.
    expect(nodes(lowerAll(g)).map((l) => l.split(' =')[0])).toEqual(['  %t.norm', '  %t.side_norm']);
    expect(nodes(lowerAll(g, ['t.inner'])).map((l) => l.split(' {')[0])).toEqual([
      '  %t.inner = add(%inputs.x, %inputs.y) : [batch, 4] float32',
      '  %t.norm = addLayerNorm(%t.inner, %inputs.z)',
      '  %t.side_norm = addLayerNorm(%inputs.x, %inputs.y)',
    ]);
  });
});

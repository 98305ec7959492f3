import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { GraphBuilder } from '../graph/builder';
import { addHead } from '../model/heads';
import { buildEncoder } from '../model/encoder';
import { ruleSetArb, smallEncoderConfigArb, tokenIdsArb } from '../testing/arbitraries';
import { toyRegistry, tryApply } from '../testing/run-helpers';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import { cse, cseAliases } from './cse';

function duplicated() {
  const b = new GraphBuilder();
  const x = b.input('x', ['batch', 6], 'float32');
  const y = b.input('y', ['batch', 6], 'float32');
  const s = b.scope('t', 'base');
  const a1 = s.add('a1', x, y);
  const a2 = s.add('a2', x, y);
  const n1 = s.layerNorm('n1', a1, 1e-5);
  const ln = b.node(n1).params as { weight: string; bias: string };
  const n2 = s.layerNorm('n2', a2, 1e-5, { weight: ln.weight, bias: ln.bias });
  const n3 = s.layerNorm('n3', a2, 1e-5); // own parameters: a different value
  const d1 = s.dropout('d1', n1, 0.5);
  const d2 = s.dropout('d2', n1, 0.5);
  b.output('out', s.add('sum', s.add('s12', n2, n3), s.add('dd', d1, d2)));
  return b.build();
}

describe('common-subexpression merging', () => {
  it('merges same op, same (merged) inputs, same attrs and parameter keys; never random ops or other parameters', () => {
    const g = duplicated();
    const alias = cseAliases(g);
    expect([...alias.entries()]).toEqual([['t.a2', 't.a1'], ['t.n2', 't.n1']]);
    // The pass: a new graph without them, their readers reading the survivors; the input graph is unchanged.
    const merged = cse(g);
    expect(merged.has('t.a2') || merged.has('t.n2')).toBe(false);
    expect(merged.node('t.n3').inputs).toEqual(['t.a1']);
    expect(merged.node('t.s12').inputs).toEqual(['t.n1', 't.n3']);
    expect(merged.nodes.length).toBe(g.nodes.length - 2);
    expect(g.has('t.a2')).toBe(true);
  });

  it('evaluates a merged node once and gives the same outputs (bit for bit) and gradients (to float32 rounding) as without merging', async () => {
    const g = duplicated();
    const store = WeightStore.create(g, 3);
    store.applyPolicy(g, () => true);
    const feeds = { x: tf.randomNormal([4, 6], 0, 1, 'float32', 1), y: tf.randomNormal([4, 6], 0, 1, 'float32', 2) };
    const run = (merge: boolean) => {
      const ex = new Executor(g, store, { mergeCommonNodes: merge });
      const vars = [...store.keys()].map((k) => store.get(k));
      const { value, grads } = tf.variableGrads(() => tf.sum(ex.forward(feeds, { training: true, seed: 9 })['out'] as tf.Tensor), vars);
      const out = { value: value.dataSync()[0], grads: Object.keys(grads).sort().map((k) => Array.from((grads[k] as tf.Tensor).dataSync())) };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const [merged, separate] = [run(true), run(false)];
    expect(merged.value).toBe(separate.value);
    // A merged node sums its readers' gradients before backpropagating once; unmerged, the sums happen at the
    // weights instead: same value up to float32 rounding of the reordered additions.
    merged.grads.forEach((g, i) => g.forEach((v, j) => expect(Math.abs(v - (separate.grads[i]![j] as number))).toBeLessThan(1e-5 * Math.max(1, Math.abs(v)))));
    const kernels = async (merge: boolean) => (await tf.profile(() => tf.dispose(Object.values(new Executor(g, store, { mergeCommonNodes: merge }).run(feeds))))).kernels.length;
    // a2 (one Add) and n2 (a LayerNorm: several kernels) are not computed again.
    expect(await kernels(true)).toBeLessThan((await kernels(false)) - 1);
    tf.dispose(Object.values(feeds));
    store.dispose();
  });

  it('leaves every output of adapted random encoders bit-identical (all splice modes and compositions), and leaks nothing', () => {
    const registry = toyRegistry();
    fc.assert(
      fc.property(
        smallEncoderConfigArb().chain((config) => fc.record({ config: fc.constant(config), ids: tokenIdsArb(config.vocabSize as number, 2, 4), rules: ruleSetArb({ numLayers: config.numLayers as number, batch: 2, plugin: 'toy' }) })),
        ({ config, ids, rules }) => {
          const base = addHead(buildEncoder(config), { type: 'tokenClassification', name: 'tok', numLabels: 3 });
          const result = tryApply(base, rules, registry);
          fc.pre(result !== undefined);
          const store = WeightStore.create(result.graph, 5);
          const values = (merge: boolean) => {
            const out = new Executor(result.graph, store, { mergeCommonNodes: merge }).run({ input_ids: ids });
            const v = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Array.from(t.dataSync())]));
            tf.dispose(Object.values(out));
            return v;
          };
          const before = tf.memory().numTensors;
          expect(values(true)).toEqual(values(false));
          expect(tf.memory().numTensors).toBe(before);
          store.dispose();
        },
      ),
      { numRuns: 25 },
    );
  });
});

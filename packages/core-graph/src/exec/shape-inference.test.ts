// Shape inference (done when nodes are added) must agree with what tfjs actually computes.
import fc from 'fast-check';
import type { Dim } from '../graph/types';
import type { HeadSpec } from '../model/heads';
import { addHead } from '../model/heads';
import { buildEncoder } from '../model/encoder';
import { ruleSetArb, smallEncoderConfigArb, tokenIdsArb } from '../testing/arbitraries';
import { toyRegistry, tryApply } from '../testing/run-helpers';
import { Executor } from './executor';
import { WeightStore } from './weights';

const registry = toyRegistry();

const heads: (HeadSpec | undefined)[] = [
  undefined,
  { type: 'classification', name: 'c', numLabels: 3 },
  { type: 'classification', name: 'm', numLabels: 2, pooling: 'mean' },
  { type: 'tokenClassification', name: 't', numLabels: 5 },
  { type: 'maskedLM', name: 'lm' },
];

const caseArb = fc
  .record({ config: smallEncoderConfigArb({ architectures: ['bert', 'roberta'] }), batch: fc.integer({ min: 1, max: 3 }), seq: fc.integer({ min: 1, max: 6 }), head: fc.constantFrom(...heads) })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      ids: tokenIdsArb(c.config.vocabSize as number, c.batch, c.seq),
      // BatchSplit is left out on purpose: its sub-batches keep the symbolic 'batch' dim by design
      // (ops/shape.ts, slice), so their runtime dim 0 is a part of the batch.
      rules: ruleSetArb({ numLayers: c.config.numLayers as number, batch: c.batch, minRules: 0, compositions: ['single', 'Stack', 'Average'] }),
    }),
  );

describe('shape inference vs execution', () => {
  it('traceShapes equals the inferred type, with batch and seq substituted, for every evaluated node', () => {
    fc.assert(
      fc.property(caseArb, ({ c, ids, rules }) => {
        const encoder = buildEncoder(c.config);
        const base = c.head ? addHead(encoder, c.head) : encoder;
        const result = tryApply(base, rules, registry);
        fc.pre(result !== undefined);
        const graph = result.graph;
        const store = WeightStore.create(graph, 3);
        try {
          const shapes = new Executor(graph, store).traceShapes({ input_ids: ids });
          const subst = (d: Dim): number => (d === 'batch' ? c.batch : d === 'seq' ? c.seq : d);
          for (const [id, shape] of shapes) expect([id, shape]).toEqual([id, graph.node(id).type.shape.map(subst)]);
          // Every output node was evaluated (the trace is not vacuous).
          for (const id of Object.values(graph.outputs)) expect(shapes.has(id)).toBe(true);
        } finally {
          store.dispose();
        }
      }),
      { numRuns: 25 },
    );
  });
});

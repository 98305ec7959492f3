// Shape inference (done when nodes are added) must agree with what tfjs actually computes.
import fc from 'fast-check';
import type { Dim } from '../graph/types';
import type { HeadSpec } from '../model/heads';
import { addHead } from '../model/heads';
import { buildEncoder } from '../model/encoder';
import { ruleSetArb, smallEncoderConfigArb, tokenIdsArb } from '../testing/arbitraries';
import { toyRegistry, tryApply } from '../testing/run-helpers';
import type { Graph } from '../graph/graph';
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

/**
 * Rows of each node that runs on part of the batch. BatchSplit's slices keep the symbolic 'batch' dim
 * by design (ops/shape.ts), so between a split's slices and its concat dim 0 is the slice's size.
 */
function subBatchRows(graph: Graph, batch: number): Map<string, number> {
  const rows = new Map<string, number>();
  for (const n of graph.nodes) {
    let r: number | undefined;
    if (n.op === 'slice' && typeof n.attrs['total'] === 'number') r = n.attrs['size'] as number;
    else if (n.op === 'concat' && n.attrs['axis'] === 0 && n.inputs.every((i) => rows.has(i))) {
      r = n.inputs.reduce((sum, i) => sum + (rows.get(i) as number), 0);
      if (r === batch) r = undefined; // the split is closed: back to the whole batch
    } else r = n.inputs.map((i) => rows.get(i)).find((x) => x !== undefined);
    if (r !== undefined) rows.set(n.id, r);
  }
  return rows;
}

const caseArb = fc
  .record({ config: smallEncoderConfigArb({ architectures: ['bert', 'roberta'] }), batch: fc.integer({ min: 1, max: 3 }), seq: fc.integer({ min: 1, max: 6 }), head: fc.constantFrom(...heads) })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      ids: tokenIdsArb(c.config.vocabSize as number, c.batch, c.seq),
      rules: ruleSetArb({ numLayers: c.config.numLayers as number, batch: c.batch, minRules: 0 }),
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
          const part = subBatchRows(graph, c.batch);
          for (const [id, shape] of shapes) {
            const subst = (d: Dim): number => (d === 'batch' ? (part.get(id) ?? c.batch) : d === 'seq' ? c.seq : d);
            expect([id, shape]).toEqual([id, graph.node(id).type.shape.map(subst)]);
          }
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

// A zero-initialised adapter is an exact identity, whatever the splice mode or composition: the adapted
// model's outputs must equal the base model's bit for bit (same weights for the shared base keys).
import fc from 'fast-check';
import { addHead } from '../model/heads';
import { buildEncoder } from '../model/encoder';
import { ruleSetArb, smallEncoderConfigArb, tokenIdsArb } from '../testing/arbitraries';
import { maxAbsDiff, runValues, toyRegistry, tryApply } from '../testing/run-helpers';
import { WeightStore } from './weights';

const registry = toyRegistry();

const caseArb = (plugin: string) =>
  fc
    .record({ config: smallEncoderConfigArb({ architectures: ['bert', 'roberta'] }), batch: fc.integer({ min: 2, max: 3 }), seq: fc.integer({ min: 1, max: 5 }) })
    .chain((c) =>
      fc.record({
        c: fc.constant(c),
        ids: tokenIdsArb(c.config.vocabSize as number, c.batch, c.seq),
        // Only equal Average weights: 0.5·x + 0.5·x is exactly x in float32, other weights need not be.
        rules: ruleSetArb({ numLayers: c.config.numLayers as number, batch: c.batch, plugin, averageWeights: [undefined] }),
      }),
    );

describe('zero-initialised adapters', () => {
  it('leave every output exactly equal to the base model (after, before, parallel, wrap; Stack, Average, BatchSplit)', () => {
    fc.assert(
      fc.property(caseArb('toy-zero'), ({ c, ids, rules }) => {
        const base = addHead(buildEncoder(c.config), { type: 'tokenClassification', name: 'tok', numLabels: 3 });
        const result = tryApply(base, rules, registry);
        fc.pre(result !== undefined);
        const store = WeightStore.create(result.graph, 11);
        try {
          const expected = runValues(base, store, { input_ids: ids });
          const actual = runValues(result.graph, store, { input_ids: ids });
          for (const name of Object.keys(expected)) expect([name, maxAbsDiff(actual[name] as Float32Array, expected[name] as Float32Array)]).toEqual([name, 0]);
        } finally {
          store.dispose();
        }
      }),
      { numRuns: 20 },
    );
  });

  it('the same rule sets with the random-init toy adapter do change the output (the check above can fail)', () => {
    fc.assert(
      fc.property(caseArb('toy'), ({ c, ids, rules }) => {
        const base = buildEncoder(c.config);
        const result = tryApply(base, rules, registry);
        fc.pre(result !== undefined);
        const store = WeightStore.create(result.graph, 11);
        try {
          const expected = runValues(base, store, { input_ids: ids })['last_hidden_state'] as Float32Array;
          const actual = runValues(result.graph, store, { input_ids: ids })['last_hidden_state'] as Float32Array;
          expect(maxAbsDiff(actual, expected)).toBeGreaterThan(0);
        } finally {
          store.dispose();
        }
      }),
      { numRuns: 10 },
    );
  });
});

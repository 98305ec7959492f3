// The encoder graph run by the executor must reproduce the independent float64 reference
// (testing/reference-bert.ts) when loaded with the same Hugging Face-layout weights.
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { assignFromCheckpoint } from '../checkpoint/hf-keys';
import { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { smallEncoderConfigArb } from '../testing/arbitraries';
import type { RefBertConfig, RefWeights } from '../testing/reference-bert';
import { randomRefWeights, refBertForward } from '../testing/reference-bert';
import { runValues } from '../testing/run-helpers';
import type { EncoderConfig } from './config';
import { encoderConfig } from './config';
import { buildEncoder } from './encoder';
import { addHead } from './heads';

/**
 * |a - b| <= 1e-5·max(1, |b|): the executor computes in float32 (unit roundoff 6e-8) and accumulates
 * rounding over matmuls, softmax and LayerNorms (observed errors stay below 1e-6). 1e-5 still catches real
 * mistakes: one transposed kernel moves outputs by ~1e-4 (checked below), a wrong activation far more.
 */
function worstError(actual: ArrayLike<number>, expected: ArrayLike<number>, keep: (i: number) => boolean = () => true): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    if (!keep(i)) continue;
    const b = expected[i] as number;
    const err = Math.abs((actual[i] as number) - b) / Math.max(1, Math.abs(b));
    worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
  }
  return worst;
}
const TOL = 1e-5;

function refConfigOf(c: EncoderConfig): RefBertConfig {
  return {
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    intermediateSize: c.intermediateSize,
    maxPositions: c.maxPositions,
    typeVocabSize: c.typeVocabSize,
    layerNormEps: c.layerNormEps,
    hiddenAct: c.hiddenAct,
    // RoBERTa positions start at padding_idx + 1.
    positionOffset: c.architecture === 'roberta' ? c.padTokenId + 1 : 0,
  };
}

/** Loads reference weights (HF names without the model prefix) into the store: base parameters only. */
function load(graph: Graph, store: WeightStore, weights: RefWeights, prefix: string): void {
  const keys = [...graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
  assignFromCheckpoint(graph, store, (hf) => (hf.startsWith(`${prefix}.`) ? weights[hf.slice(prefix.length + 1)] : undefined), { keys, source: 'reference' });
}

interface Case {
  partial: Partial<EncoderConfig>;
  seed: number;
  ids: number[][];
  types: number[][];
  lengths: number[];
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({ partial: smallEncoderConfigArb({ architectures: ['bert', 'roberta'] }), batch: fc.integer({ min: 1, max: 3 }), seq: fc.integer({ min: 2, max: 6 }), seed: fc.integer({ min: 1, max: 1e6 }) })
  .chain(({ partial, batch, seq, seed }) => {
    const row = <T>(a: fc.Arbitrary<T>) => fc.array(fc.array(a, { minLength: seq, maxLength: seq }), { minLength: batch, maxLength: batch });
    return fc.record({
      partial: fc.constant(partial),
      seed: fc.constant(seed),
      // RoBERTa ids avoid the pad token, as real right-padded inputs only have it in the padding.
      ids: row(fc.integer({ min: 2, max: (partial.vocabSize as number) - 1 })),
      types: row(fc.integer({ min: 0, max: (partial.typeVocabSize as number) - 1 })),
      lengths: fc.array(fc.integer({ min: 1, max: seq }), { minLength: batch, maxLength: batch }),
    });
  });

/** Right padding: row b keeps lengths[b] tokens (mask 1), the rest are pad tokens (mask 0). */
function padded(c: Case, padId: number): { ids: number[][]; mask: number[][] } {
  const mask = c.ids.map((r, b) => r.map((_v, s) => (s < (c.lengths[b] as number) ? 1 : 0)));
  const ids = c.ids.map((r, b) => r.map((v, s) => ((mask[b] as number[])[s] ? v : padId)));
  return { ids, mask };
}

describe('encoder forward vs float64 reference', () => {
  it('last_hidden_state (and BERT pooler_output) match refBertForward within 1e-5 relative', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const config = encoderConfig(c.partial);
        const isBert = config.architecture === 'bert';
        const ref = refConfigOf(config);
        const weights = randomRefWeights(ref, c.seed, { pooler: isBert });
        const { ids, mask } = padded(c, config.padTokenId);
        const types = isBert ? c.types : c.types.map((r) => r.map(() => 0));
        const encoder = buildEncoder(c.partial);
        // A BERT classification head adds the pre-trained pooler (bert.pooler.dense) to the base model.
        const graph = isBert ? addHead(encoder, { type: 'classification', name: 'cls', numLabels: 2 }) : encoder;
        const store = WeightStore.create(graph, 1);
        try {
          load(graph, store, weights, config.architecture);
          const out = runValues(graph, store, { input_ids: ids, attention_mask: mask, token_type_ids: types });
          const expected = refBertForward(ref, weights, ids, mask, types);
          const H = config.hiddenSize;
          const S = ids[0]?.length as number;
          // RoBERTa gives padded positions position id padding_idx (the reference does not), so only real
          // tokens are compared there; they never attend to padding, so their values are fully determined.
          const real = (i: number) => isBert || (mask[Math.floor(i / (S * H))] as number[])[Math.floor(i / H) % S] === 1;
          expect(worstError(out['last_hidden_state'] as Float32Array, expected.lastHidden, real)).toBeLessThanOrEqual(TOL);
          if (isBert) expect(worstError(out['pooler_output'] as Float32Array, expected.pooled as Float64Array)).toBeLessThanOrEqual(TOL);
        } finally {
          store.dispose();
        }
      }),
      { numRuns: 20 },
    );
  });

  describe.each(['gelu', 'gelu_new', 'relu'] as const)('hidden_act %s', (hiddenAct) => {
    const partial: Partial<EncoderConfig> = { vocabSize: 30, hiddenSize: 16, numHeads: 4, numLayers: 2, intermediateSize: 24, maxPositions: 20, typeVocabSize: 2, hiddenAct };
    const ids = [
      [5, 9, 14, 2, 27, 3],
      [8, 1, 22, 0, 0, 0],
    ];
    const mask = [
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0],
    ];
    const types = [
      [0, 0, 0, 1, 1, 1],
      [0, 0, 1, 0, 0, 0],
    ];

    it('BERT: last_hidden_state and pooler_output match; the checkpoint kernels are transposed on load', () => {
      const config = encoderConfig(partial);
      const weights = randomRefWeights(refConfigOf(config), 42);
      const graph = addHead(buildEncoder(partial), { type: 'classification', name: 'cls', numLabels: 2 });
      const store = WeightStore.create(graph, 1);
      try {
        load(graph, store, weights, 'bert');
        const expected = refBertForward(refConfigOf(config), weights, ids, mask, types);
        const out = runValues(graph, store, { input_ids: ids, attention_mask: mask, token_type_ids: types });
        expect(worstError(out['last_hidden_state'] as Float32Array, expected.lastHidden)).toBeLessThanOrEqual(TOL);
        expect(worstError(out['pooler_output'] as Float32Array, expected.pooled as Float64Array)).toBeLessThanOrEqual(TOL);

        // Loading one square kernel without the [out, in] → [in, out] transpose must break the match.
        const q = weights['encoder.layer.1.attention.output.dense.weight'] as { shape: number[]; values: Float64Array };
        const raw = tf.tensor(Float32Array.from(q.values), [16, 16]);
        store.assign('encoder.layer.1.attention.output.dense.weight', raw);
        raw.dispose();
        const wrong = runValues(graph, store, { input_ids: ids, attention_mask: mask, token_type_ids: types });
        expect(worstError(wrong['last_hidden_state'] as Float32Array, expected.lastHidden)).toBeGreaterThan(10 * TOL);
      } finally {
        store.dispose();
      }
    });

    it('RoBERTa with right-padded input and attention mask: real tokens match', () => {
      const rp: Partial<EncoderConfig> = { ...partial, architecture: 'roberta', typeVocabSize: 1, padTokenId: 1, maxPositions: 12 };
      const config = encoderConfig(rp);
      const weights = randomRefWeights(refConfigOf(config), 7, { pooler: false });
      const graph = buildEncoder(rp);
      const store = WeightStore.create(graph, 1);
      try {
        load(graph, store, weights, 'roberta');
        const rIds = ids.map((r, b) => r.map((v, s) => ((mask[b] as number[])[s] ? Math.max(v, 2) : 1)));
        const expected = refBertForward(refConfigOf(config), weights, rIds, mask);
        const out = runValues(graph, store, { input_ids: rIds, attention_mask: mask });
        const real = (i: number) => (mask[Math.floor(i / 96)] as number[])[Math.floor(i / 16) % 6] === 1;
        expect(worstError(out['last_hidden_state'] as Float32Array, expected.lastHidden, real)).toBeLessThanOrEqual(TOL);
      } finally {
        store.dispose();
      }
    });
  });
});

// Shared fixtures for this package's tests (excluded from the build): a tiny BERT with a masked-LM head and a
// tagging head, base weights from core-graph's float64 reference generator, random adapter weights.
import type { EncoderConfig, Graph, WeightStore as Store } from '@adapters/core-graph';
import { addHead, buildEncoder } from '@adapters/core-graph';
import { randomizeOwned, refConfigOf, storeWithReferenceBase } from '@adapters/core-graph/testing';

/** Base weights from the float64 reference generator (core-graph's shared fixture). */
export const baseStore = storeWithReferenceBase;
export { refConfigOf };

export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16, hiddenDropout: 0, attentionDropout: 0 };

/** Encoder + masked-LM head `mlm` + token tagging head `tag` (3 labels), no adapters. */
export function tinyBase(): Graph {
  const withMlm = addHead(buildEncoder(TINY), { type: 'maskedLM', name: 'mlm' });
  return addHead(withMlm, { type: 'tokenClassification', name: 'tag', numLabels: 3, dropout: 0 });
}

export { TOY_IDS as IDS, TOY_MASK as MASK, TOY_FEEDS as FEEDS, bitEqual, changedKeys, maxAbsDiff, maxRelDiff, runOutputs as runValues, weight64 } from '@adapters/core-graph/testing';

/** Random, clearly non-zero values for every parameter with this owner (e.g. `adapter:en`, `head:mlm`). */
export function randomize(graph: Graph, store: Store, owner: string, seed: number, scale = 0.3): void {
  randomizeOwned(graph, store, owner, seed, {
    valueFor: (p, rng) => (p.kind === 'norm' ? undefined : (p.kind === 'bias' ? scale / 3 : scale) * rng.normal()),
  });
}


// Shared fixtures for this package's tests (excluded from the build).
import type { EncoderConfig, Graph, PlacementRule, RunOptions, WeightStore } from '@adapters/core-graph';
import { applyPlacements, buildEncoder, createRegistry } from '@adapters/core-graph';
import { maxRelDiff, randomizeOwned, refConfigOf, runOutput, storeWithReferenceBase, TOY_FEEDS } from '@adapters/core-graph/testing';

/** Base weights from the float64 reference generator (core-graph's shared fixture). */
export const baseStore = storeWithReferenceBase;
export { refConfigOf };
import { compacter } from '../plugin';

/** Hidden 32, so phm_dim 4 with reduction_factor 4 gives m = 8 (the default reduction 32 would give m = 1). */
export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 32, numLayers: 3, numHeads: 4, intermediateSize: 64, maxPositions: 16 };

export const registry = createRegistry([compacter]);


export { TOY_IDS as IDS, TOY_MASK as MASK, TOY_FEEDS as FEEDS, bitEqual, maxAbsDiff, setWeight, weight64 } from '@adapters/core-graph/testing';

export const tinyBase = (partial: Partial<EncoderConfig> = {}): Graph => buildEncoder({ ...TINY, ...partial });

export function adapted(base: Graph, rules: readonly PlacementRule[]): Graph {
  return applyPlacements(base, rules, registry).graph;
}


/** Random, clearly non-zero values for every parameter owned by `adapter:NAME`, shared ones included. */
export function randomizeAdapter(graph: Graph, store: WeightStore, name: string, seed: number, scale = 0.4): void {
  randomizeOwned(graph, store, `adapter:${name}`, seed, { scale });
}

export const run = (graph: Graph, store: WeightStore, feeds: Record<string, number[][]> = TOY_FEEDS, output = 'last_hidden_state', options: RunOptions = {}): Float32Array =>
  runOutput(graph, store, feeds, output, options);


/** max_i |got_i - ref_i| / max(1, |ref_i|): relative error, absolute near zero. */
export const maxRelErr = (got: ArrayLike<number>, ref: ArrayLike<number>): number => maxRelDiff(got, ref, 1);


/** The PHM nodes of `graph` (op `phm`). */
export const phmNodes = (graph: Graph) => graph.nodes.filter((n) => n.op === 'phm');

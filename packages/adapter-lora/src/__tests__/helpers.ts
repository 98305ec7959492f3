// Shared fixtures for this package's tests (excluded from the build).
import type { EncoderConfig, Graph, PlacementRule, RunOptions, WeightStore } from '@adapters/core-graph';
import { applyPlacements, buildEncoder, createRegistry } from '@adapters/core-graph';
import { maxRelDiff, randomizeOwned, runOutput, TOY_FEEDS } from '@adapters/core-graph/testing';
import { lora } from '../plugin';

export const registry = createRegistry([lora]);

/** Hidden 12 (3 heads), FFN 20: the FFN layers are not square, so in/out mix-ups fail. */
export const TINY: Partial<EncoderConfig> = { vocabSize: 40, hiddenSize: 12, numLayers: 2, numHeads: 3, intermediateSize: 20, maxPositions: 16 };

export { TOY_IDS as IDS, TOY_MASK as MASK, TOY_FEEDS as FEEDS, readWeight as read, setWeight } from '@adapters/core-graph/testing';

export const tinyBase = (partial: Partial<EncoderConfig> = {}): Graph => buildEncoder({ ...TINY, ...partial });

export const adapted = (base: Graph, rules: readonly PlacementRule[]): Graph => applyPlacements(base, rules, registry).graph;

/** Clearly non-zero values for every parameter of `adapter:NAME` (vectors around 1, so (IA)³ scales stay away from 0). */
export function randomizeAdapter(graph: Graph, store: WeightStore, name: string, seed: number, scale = 0.3): void {
  randomizeOwned(graph, store, `adapter:${name}`, seed, {
    valueFor: (p, rng) => (p.key.endsWith('.lora_B.scale') ? 1 + scale * (2 * rng.uniform() - 1) : scale * rng.normal()),
  });
}

export const run = (graph: Graph, store: WeightStore, feeds: Record<string, number[][]> = TOY_FEEDS, output = 'last_hidden_state', options: RunOptions = {}): Float32Array =>
  runOutput(graph, store, feeds, output, options);

/** max_i |got_i - ref_i| / max(1, |ref_i|): relative error, absolute near zero. */
export const maxRelErr = (got: ArrayLike<number>, ref: ArrayLike<number>): number => maxRelDiff(got, ref, 1);

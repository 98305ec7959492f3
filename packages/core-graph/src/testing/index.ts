// `@adapters/core-graph/testing`: independent float64 references and gradient checks for tests of
// core-graph and of adapter plugins (plain TypeScript loops, no tfjs), plus a toy adapter plugin and
// fast-check arbitraries for property tests (these need fast-check, a dev dependency).
export * from './reference-bert';
export { compareGradients, numericGradient } from './finite-differences';
export type { GradientComparison } from './finite-differences';
export { toyAdapter, toyAdapterWithModes, toyZeroAdapter } from './toy-adapter';
export type { ToyAdapterConfig } from './toy-adapter';
export { encoderSiteNames, ruleSetArb, siteSelectorArb, smallEncoderConfigArb, tokenIdsArb } from './arbitraries';
export type { CompositionKind, RuleSetOptions, SmallEncoderOptions } from './arbitraries';
export { registerReferenceFusedKernels } from './fused-reference';
export { refConfigOf, storeWithReferenceBase, writeTinyModelDir } from './fixtures';
export { jsonMutationArb } from './json-mutations';
export type { Json, JsonMutation } from './json-mutations';
export { bitEqual, changedKeys, maxAbsDiff, maxRelDiff } from './compare';
export { randomizeOwned, readWeight, runOutput, runOutputs, setWeight, TOY_FEEDS, TOY_IDS, TOY_MASK, weight64 } from './store-helpers';
export type { RandomizeOptions } from './store-helpers';
export { failForwardOnce } from './heap-exhaustion';
export type { ForwardFilter } from './heap-exhaustion';

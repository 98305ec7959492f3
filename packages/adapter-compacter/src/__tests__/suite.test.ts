// The adapter-tester conformance suite on `compacter` (config validation, placement shapes in every mode the
// presets support, param counts, identity at init, training isolation, save/load round trip).
import { runAdapterSuite } from '@adapters/adapter-tester';
import { smallEncoderConfigArb } from '@adapters/core-graph/testing';
import { compacter } from '../plugin';

// PHM layers need d and m divisible by phm_dim: hidden 8 or 16, reduction 2, n = 2.
const encoders = smallEncoderConfigArb({ architectures: ['bert', 'roberta'], maxLayers: 2 }).map((c) => ({ ...c, numHeads: 2, hiddenSize: (c.hiddenSize ?? 8) % 2 === 0 ? 8 : 16 }));
const small = { reduction_factor: 2, phm_dim: 2 };

// Shared (model-level) PHM parameters are paramCount's `shared` count: the suite checks Σ perSite + shared.
runAdapterSuite({
  plugin: compacter,
  encoders,
  numRuns: 2,
  seed: 7,
  cases: [
    { name: 'compacter', config: { config: 'compacter', ...small }, modes: ['wrap', 'after', 'before'] },
    { name: 'compacter++ (factors, rank 2)', config: { config: 'compacter++', ...small, phm_rank: 2, phm_strategy: 'factors' }, modes: ['wrap'] },
    { name: 'mam_adapter init (identity)', config: { config: 'compacter', ...small, init_weights: 'mam_adapter' }, modes: ['wrap'] },
  ],
  invalidConfigs: [{ config: { phm_dim: 0 }, path: 'phm_dim' }],
});

runAdapterSuite({
  plugin: compacter,
  encoders,
  numRuns: 2,
  seed: 8,
  cases: [
    { name: 'per-layer rules', config: { config: 'compacter', ...small, shared_phm_rule: false }, modes: ['wrap', 'after'] },
    { name: 'parallel, per-layer rules, full W', config: { config: 'compacter', ...small, is_parallel: true, shared_phm_rule: false, factorized_phm_W: false }, modes: ['parallel'] },
  ],
});

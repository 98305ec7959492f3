// The adapter-tester conformance suite on `prefix_tuning` at every layer's `prefix` site (mode after).
// param-count: the pool is model-level and sized by the model's depth (paramCount's numLayers).
import { runAdapterSuite } from '@adapters/adapter-tester';
import { prefixTuning } from '../plugin';

runAdapterSuite({
  plugin: prefixTuning,
  modes: ['after'],
  select: { after: [{ kinds: ['prefix'] }] },
  numRuns: 3,
  seed: 20,
  cases: [
    { name: 'defaults (MLP, prefix 30, bottleneck 512 → 16 for speed)', config: { bottleneck_size: 16 } },
    { name: 'flat, prefix 4', config: { flat: true, prefix_length: 4 } },
    { name: 'MLP relu, dropout 0.1', config: { prefix_length: 3, bottleneck_size: 8, non_linearity: 'relu', dropout: 0.1 } },
    { name: 'gated (UniPELT), one gate each for keys and values', config: { prefix_length: 3, bottleneck_size: 8, use_gating: true, shared_gating: false } },
  ],
  invalidConfigs: [
    { name: 'prefix_length 0', config: { prefix_length: 0 }, path: 'prefix_length' },
    { name: 'dropout 1', config: { dropout: 1 }, path: 'dropout' },
    { name: 'unknown activation', config: { non_linearity: 'cube' }, path: 'non_linearity' },
  ],
});

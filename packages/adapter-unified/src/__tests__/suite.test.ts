// The adapter-tester conformance suite on core-graph's ConfigUnion with the MAM and UniPELT presets exactly as
// AdapterHub defines them, and a hand-made union, each placed by its own default placement (the components choose
// their sites and modes). param-count checks the union's paramCount (each component counts the sites its default
// placement selects; param-count.test.ts also holds the placed graphs to AdapterHub's counts). Not applicable, so
// skipped by the suite itself: identity-at-init (prefix tuning's extra attended keys change every output, so neither
// preset starts as the identity; the union declares no isIdentityAtInit).
import { runAdapterSuite } from '@adapters/adapter-tester';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { configUnion } from '../index';

runAdapterSuite({
  plugin: configUnion,
  plugins: [bottleneck, lora, prefixTuning],
  defaultPlacementOnly: true,
  numRuns: 3,
  seed: 20,
  cases: [
    { name: 'mam (MAMConfig defaults)', config: { config: 'mam' } },
    { name: 'unipelt (UniPELTConfig defaults)', config: { config: 'unipelt' } },
    {
      name: 'LoRA on q, v + gated par_bn',
      config: { configs: [{ plugin: 'lora', config: { r: 2 } }, { plugin: 'bottleneck', config: { config: 'par_bn', use_gating: true } }] },
    },
  ],
  invalidConfigs: [
    { name: 'unknown preset', config: { config: 'pelt' }, path: 'config' },
    { name: 'unknown component plugin', config: { configs: [{ plugin: 'nope', config: {} }] }, path: 'configs[0].plugin' },
    { name: 'bad component field', config: { configs: [{ plugin: 'lora', config: { r: 0 } }] }, path: 'configs[0].config.r' },
    { name: 'no components', config: { config: null, configs: [] }, path: 'configs' },
    { name: 'nested union', config: { configs: [{ plugin: 'union', config: { config: 'mam' } }] }, path: 'configs[0].plugin' },
  ],
});

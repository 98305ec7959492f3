// The shared invariant suite for adapter plugins, on bottleneck_inv: its bottleneck part in the layers (wrap) and
// its invertible part on the embeddings (after).
import { runAdapterSuite } from '@adapters/adapter-tester';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { bottleneckInv } from './plugin';

runAdapterSuite({
  plugin: bottleneckInv,
  plugins: [bottleneck],
  modes: ['wrap'],
  select: { wrap: { kinds: ['ffn'] } },
  cases: [{ name: 'seq_bn_inv in the layers', config: { config: 'seq_bn_inv', reduction_factor: 2 } }],
  invalidConfigs: [
    { name: 'glow', config: { inv_adapter: 'glow' }, path: 'inv_adapter' },
    { name: 'zero reduction', config: { inv_adapter_reduction_factor: 0 }, path: 'inv_adapter_reduction_factor' },
  ],
});

// The invertible tensors are model-level (`invertible_adapters.NAME...`): the plugin's checkpointKeys hook names
// them, so core-graph's saveAdapter/loadAdapter round-trip them like any adapter's.
runAdapterSuite({
  plugin: bottleneckInv,
  plugins: [bottleneck],
  modes: ['after'],
  select: { after: { kinds: ['embeddings'] } },
  cases: [{ name: 'seq_bn_inv: the invertible block on the embeddings', config: { config: 'seq_bn_inv' } }],
});

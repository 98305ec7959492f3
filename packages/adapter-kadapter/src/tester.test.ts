// The shared invariant suite every adapter plugin runs (what trains, save → load, parameter counts, config
// validation, shapes, base untouched in tap mode).
import { runAdapterSuite } from '@adapters/adapter-tester';
import { kadapter } from './plugin';

runAdapterSuite({
  plugin: kadapter,
  configs: [
    { adapter_size: 4, adapter_heads: 2, adapter_intermediate_size: 6, adapter_transformer_layers: 1 },
    { adapter_size: 6, adapter_heads: 3, adapter_intermediate_size: 4, adapter_transformer_layers: 2, adapter_skip_layers: 1, mask_padding: false },
  ],
  invalidConfigs: [
    { config: { adapter_size: 0 }, path: 'adapter_size' },
    { config: { adapter_size: 6, adapter_heads: 4 }, path: 'adapter_heads' },
    { config: { adapter_list: [1, 0] }, path: 'adapter_list' },
  ],
});

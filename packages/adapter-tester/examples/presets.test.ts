import { runAdapterSuite } from '@adapters/adapter-tester';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { kadapter } from '@adapters/adapter-kadapter';
import { smallEncoderConfigArb } from '@adapters/core-graph/testing';

// Bottleneck: presets differ in the modes they support.
runAdapterSuite({
  plugin: bottleneck,
  cases: [
    { name: 'seq_bn', config: { config: 'seq_bn', reduction_factor: 2 }, modes: ['wrap'] },
    { name: 'double_seq_bn', config: { config: 'double_seq_bn', reduction_factor: 2 }, modes: ['wrap', 'after', 'before'] },
    { name: 'par_bn', config: { config: 'par_bn' }, modes: ['wrap', 'parallel'] },
    { name: 'bapna_firat', config: { config: 'bapna_firat', reduction_factor: 2 }, modes: ['after'] },
  ],
  timeout: 120_000,
});

// K-Adapter: tap mode over two layers of a two-layer encoder.
runAdapterSuite({
  plugin: kadapter,
  configs: [{ adapter_size: 8, adapter_heads: 2, adapter_intermediate_size: 8, adapter_list: [0, 1] }],
  select: { tap: { glob: 'layer.*.output', layers: [0, 1] } },
  encoders: smallEncoderConfigArb({ architectures: ['bert', 'roberta'], minLayers: 2, maxLayers: 2 }),
  timeout: 120_000,
});

// The suite run on core-graph's toy adapters: every check must pass on a correct plugin.
import { toyAdapter, toyZeroAdapter } from '@adapters/core-graph/testing';
import { runAdapterSuite } from '../index';

runAdapterSuite({
  plugin: toyAdapter,
  configs: [{}, { size: 2 }, { zeroInit: true, size: 3 }],
  invalidConfigs: [{ name: 'size 0', config: { size: 0 }, path: 'size' }],
});

runAdapterSuite({ plugin: toyZeroAdapter, modes: ['wrap', 'parallel'] });

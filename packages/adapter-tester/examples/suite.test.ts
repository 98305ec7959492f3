// A plugin package's conformance test, e.g. packages/adapter-foo/src/__tests__/suite.test.ts
import { runAdapterSuite } from '@adapters/adapter-tester';
import { bottleneck } from '@adapters/adapter-bottleneck';

runAdapterSuite({
  plugin: bottleneck,
  configs: [{ config: 'par_bn', reduction_factor: 2 }],               // tried in every mode listed
  modes: ['wrap', 'parallel'],
  cases: [{ name: 'Pfeiffer', config: { config: 'seq_bn' }, modes: ['wrap'] }], // only in these modes
  invalidConfigs: [{ config: { reduction_factor: 0 }, path: 'reduction_factor' }],
  timeout: 120_000,
});

// madxPackage: the bottleneck_inv plugin in a runtime built from it, and in no other.
import { createRuntime } from '@adapters/core-graph';
import { bottleneckInv, madxPackage } from './index';

describe('madxPackage', () => {
  it('gives a runtime the bottleneck_inv plugin; a runtime without it does not know the name', () => {
    expect(createRuntime([madxPackage]).plugins.get('bottleneck_inv')).toBe(bottleneckInv);
    expect(createRuntime().plugins.has('bottleneck_inv')).toBe(false);
  });
});

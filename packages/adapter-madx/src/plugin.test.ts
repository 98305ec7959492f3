// The bottleneck_inv plugin's configs: AdapterHub's SeqBnInvConfig / DoubleSeqBnInvConfig presets and aliases,
// schema errors naming the field, and the AdapterHub config round trip.
import { ConfigError, resolveConfig } from '@adapters/core-graph';
import { bottleneckConfig } from '@adapters/adapter-bottleneck';
import { bottleneckPart } from './config';
import type { BottleneckInvConfig } from './config';
import { bottleneckInv } from './plugin';
import { plugins } from './index';

const resolve = (input: Record<string, unknown>) => resolveConfig(bottleneckInv, input, 'lang.config') as unknown as BottleneckInvConfig;

describe('bottleneck_inv configs', () => {
  test('seq_bn_inv = seq_bn + NICE with reduction factor 2; aliases resolve; the bottleneck part is the bottleneck preset', () => {
    const c = resolve({ config: 'seq_bn_inv' });
    expect(c).toMatchObject({ config: 'seq_bn_inv', inv_adapter: 'nice', inv_adapter_reduction_factor: 2, reduction_factor: 16, original_ln_before: true, non_linearity: 'relu' });
    expect(bottleneckPart(c)).toEqual(bottleneckConfig('seq_bn'));
    expect(resolve({ config: 'pfeiffer+inv' })).toEqual(c);
    const houlsby = resolve({ config: 'houlsby+inv', reduction_factor: 2 });
    expect(bottleneckPart(houlsby)).toEqual(bottleneckConfig('double_seq_bn', { reduction_factor: 2 }));
    expect(houlsby.config).toBe('double_seq_bn_inv');
    expect(resolve({}).config).toBe('seq_bn_inv');
    expect(plugins).toContain(bottleneckInv);
  });

  test('invalid fields are ConfigErrors naming the field', () => {
    const fails = (input: Record<string, unknown>, path: RegExp) => {
      let error: unknown;
      try {
        resolve(input);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toMatch(path);
    };
    fails({ inv_adapter: 'glow' }, /^lang\.config\.inv_adapter: must be one of "nice"/);
    fails({ inv_adapter_reduction_factor: 0 }, /^lang\.config\.inv_adapter_reduction_factor: must be > 0/);
    fails({ reduction_factor: -1 }, /^lang\.config\.reduction_factor/);
    fails({ config: 'seq_bn' }, /^lang\.config\.config: must be one of/);
    fails({ inv_adapter_reduction: 2 }, /inv_adapter_reduction/);
  });

  test("AdapterHub's config dict round-trips; configs without an invertible adapter are not this plugin's", () => {
    const c = resolve({ config: 'seq_bn_inv', reduction_factor: 2, leave_out: [1] });
    const hub = bottleneckInv.toHubConfig?.(c) as Record<string, unknown>;
    expect(hub).toMatchObject({ architecture: 'bottleneck', inv_adapter: 'nice', inv_adapter_reduction_factor: 2, reduction_factor: 2, leave_out: [1] });
    expect(hub).not.toHaveProperty('config');
    const back = bottleneckInv.fromHubConfig?.({ ...hub, use_gating: false, phm_layer: false, phm_dim: 4, init_weights_seed: null }) as Record<string, unknown>;
    expect(resolve(back)).toEqual(c);
    expect(bottleneckInv.fromHubConfig?.({ architecture: 'bottleneck', reduction_factor: 16, inv_adapter: null })).toBeUndefined();
    expect(bottleneckInv.fromHubConfig?.({ architecture: 'lora', inv_adapter: 'nice' })).toBeUndefined();
    expect(() => bottleneckInv.fromHubConfig?.({ ...hub, use_gating: true })).toThrow(/use_gating/);
  });
});

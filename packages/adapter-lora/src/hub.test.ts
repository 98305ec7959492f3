// AdapterHub config mapping: LoRAConfig / IA3Config dicts in and out, unsupported fields as ConfigErrors.
import { ConfigError, resolveConfig } from '@adapters/core-graph';
import type { LoraConfig } from './config';
import { loraFromHubConfig, loraHubKeys, loraToHubConfig } from './hub';
import { lora } from './plugin';

const resolved = (input: Record<string, unknown>) => resolveConfig(lora, input, 'a.config') as unknown as LoraConfig;

describe('AdapterHub configs', () => {
  test('LoRAConfig and IA3Config defaults round-trip through the hub dict', () => {
    for (const preset of ['lora', 'ia3']) {
      const c = resolved({ config: preset });
      const hub = loraToHubConfig(c);
      expect(hub).toMatchObject({ architecture: 'lora', use_dora: false, vera_d: null, vera_b: null, init_weights_seed: null, dtype: null });
      expect(resolved(loraFromHubConfig(hub) as Record<string, unknown>)).toEqual(c);
    }
    expect(loraToHubConfig(resolved({ config: 'ia3' }))).toMatchObject({ r: 1, alpha: 1, attn_matrices: ['k', 'v'], composition_mode: 'scale', init_weights: 'ia3', intermediate_lora: true });
    expect(loraToHubConfig(resolved({}))).toMatchObject({ r: 8, alpha: 8, attn_matrices: ['q', 'v'], composition_mode: 'add', init_weights: 'lora', selfattn_lora: true, intermediate_lora: false, output_lora: false });
  });

  test('other architectures are not ours; DoRA, VeRA and unknown fields are ConfigErrors naming the field', () => {
    expect(loraFromHubConfig({ architecture: 'prefix_tuning' })).toBeUndefined();
    expect(loraFromHubConfig({ architecture: null, reduction_factor: 16 })).toBeUndefined();
    expect(() => loraFromHubConfig({ architecture: 'lora', use_dora: true })).toThrow(new ConfigError('config.use_dora', 'true is not supported by the lora plugin (DoRA / VeRA change the outputs)'));
    expect(() => loraFromHubConfig({ architecture: 'lora', vera_d: 0.1 })).toThrow(ConfigError);
    expect(() => loraFromHubConfig({ architecture: 'lora', init_weights: 'vera' })).toThrow(/'vera'/);
    expect(() => loraFromHubConfig({ architecture: 'lora', rank: 3 })).toThrow(new ConfigError('config.rank', 'unknown LoRAConfig field'));
  });

  test('PEFT-style targets become AdapterHub flags when AdapterHub can express them', () => {
    expect(loraToHubConfig(resolved({ target_modules: ['query', 'value', 'intermediate.dense'] }))).toMatchObject({ selfattn_lora: true, attn_matrices: ['q', 'v'], intermediate_lora: true, output_lora: false });
    expect(() => loraToHubConfig(resolved({ target_modules: ['dense'] }))).toThrow(/attention\.output\.dense/);
    expect(() => loraToHubConfig(resolved({ target_modules: 'query' }))).toThrow(ConfigError);
    expect(() => loraToHubConfig(resolved({ target_modules: ['encoder.layer.0.attention.self.query'] }))).toThrow(/'encoder\.layer\.0\.attention\.self\.query' has no AdapterHub/);
    expect(() => loraToHubConfig(resolved({ target_modules: ['query', 'pooler.dense'] }))).toThrow(/'pooler\.dense'/);
    expect(() => loraToHubConfig(resolved({ target_modules: ['query'], layers_to_transform: [1] }))).toThrow(/layers_to_transform/);
    expect(() => loraToHubConfig(resolved({ use_rslora: true }))).toThrow(/use_rslora/);
  });

  test('tensor names: lora_A, lora_B (LoRA and (IA)³), gate.weight / gate.bias', () => {
    expect(loraHubKeys('lora_A.weight')).toEqual(['lora_A']);
    expect(loraHubKeys('lora_B.weight')).toEqual(['lora_B']);
    expect(loraHubKeys('lora_B.scale')).toEqual(['lora_B']);
    expect(loraHubKeys('gate.weight')).toEqual(['gate.weight']);
  });
});

import { ConfigError } from '@adapters/core-graph';
import { FUSION_PRESETS, fusionParamCount, resolveFusionConfig, toHubFusionConfig } from './index';

describe('fusion configs', () => {
  test('presets match AdapterHub (dynamic default, static without V)', () => {
    expect(resolveFusionConfig()).toEqual(FUSION_PRESETS.dynamic);
    expect(resolveFusionConfig('static')).toEqual(FUSION_PRESETS.static);
    expect(FUSION_PRESETS.dynamic).toMatchObject({ key: true, query: true, value: true, regularization: true, value_initialized: true, temperature: false, dropout_prob: null });
    expect(FUSION_PRESETS.static).toMatchObject({ value: false, regularization: false, value_initialized: false });
    expect(resolveFusionConfig({ config: 'static', temperature: true }).temperature).toBe(true);
    expect(fusionParamCount(FUSION_PRESETS.dynamic, 384)).toBe(3 * 384 * 384 + 2 * 384);
  });

  test('an AdapterHub config dict reads back (architecture ignored, string value_initialized)', () => {
    const hub = { ...toHubFusionConfig(FUSION_PRESETS.dynamic), value_initialized: 'True' };
    expect(resolveFusionConfig(hub)).toEqual(FUSION_PRESETS.dynamic);
    expect(resolveFusionConfig({ ...hub, value_initialized: false }).value_initialized).toBe(false);
  });

  test('bad fields are errors naming them', () => {
    expect(() => resolveFusionConfig({ keys: true })).toThrow(ConfigError);
    expect(() => resolveFusionConfig({ keys: true })).toThrow(/fusion\.config\.keys: unknown field/);
    expect(() => resolveFusionConfig({ query: 1 })).toThrow(/fusion\.config\.query: must be a boolean/);
    expect(() => resolveFusionConfig({ dropout_prob: 1.5 })).toThrow(/dropout_prob/);
    expect(() => resolveFusionConfig({ config: 'fancy' })).toThrow(/unknown fusion preset "fancy"/);
  });
});

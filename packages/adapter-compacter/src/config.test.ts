// Presets and defaults as AdapterHub's CompacterConfig / CompacterPlusPlusConfig; errors naming the field;
// AdapterHub config round trip; saving and loading an adapter folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterCheckpointKeysOf, addHead, ConfigError, loadAdapter, readSafetensorsFile, saveAdapter, ADAPTER_WEIGHTS_FILE } from '@adapters/core-graph';
import { compacterConfig, COMPACTER_PRESETS } from './config';
import { compacterFromHubConfig, compacterToHubConfig } from './hub';
import { compacter, compacterRule } from './plugin';
import { adapted, baseStore, bitEqual, FEEDS, randomizeAdapter, registry, run, tinyBase } from './__tests__/helpers';

/** AdapterHub 1.3.0 BnConfig fields of CompacterConfig (DoubleSeqBnConfig + phm_layer, reduction 32, gelu). */
const HUB_COMPACTER = {
  mh_adapter: true, output_adapter: true, reduction_factor: 32, non_linearity: 'gelu',
  original_ln_before: false, original_ln_after: true, ln_before: false, ln_after: false, init_weights: 'bert',
  is_parallel: false, scaling: 1, residual_before_ln: true, adapter_residual_before_ln: false, leave_out: [], dropout: 0,
  phm_layer: true, phm_dim: 4, factorized_phm_W: true, shared_W_phm: false, shared_phm_rule: true, factorized_phm_rule: false,
  phm_c_init: 'normal', phm_init_range: 0.0001, learn_phm: true, hypercomplex_nonlinearity: 'glorot-uniform', phm_rank: 1, phm_bias: true,
};
/** CompacterPlusPlusConfig: SeqBnConfig (FFN only, original_ln_before) + phm_layer, reduction 32, gelu. */
const HUB_COMPACTER_PP = { ...HUB_COMPACTER, mh_adapter: false, original_ln_before: true };
const HUB_UNSUPPORTED = { init_weights_seed: null, use_gating: false, inv_adapter: null, inv_adapter_reduction_factor: null, cross_adapter: false, stochastic_depth: 0 };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('presets follow AdapterHub', () => {
  test.each([
    ['compacter', HUB_COMPACTER],
    ['compacter++', HUB_COMPACTER_PP],
  ] as const)('%s has AdapterHub’s field values', (preset, hub) => {
    const c = COMPACTER_PRESETS[preset];
    expect(c).toMatchObject({ ...hub, config: preset, layer_adapter: false, phm_strategy: 'kron' });
    expect(compacterConfig(preset)).toEqual(c);
  });

  test('the plugin: name, presets, default config, placement (Houlsby for compacter, Pfeiffer for compacter++)', () => {
    expect(compacter.name).toBe('compacter');
    expect(compacter.presets).toEqual(['compacter', 'compacter++']);
    expect(compacter.defaults.config).toBe('compacter');
    const g = tinyBase();
    expect(compacter.defaultPlacement?.(compacterConfig('compacter'), g)).toEqual({ select: { kinds: ['attention', 'ffn'] }, mode: 'wrap' });
    expect(compacter.defaultPlacement?.(compacterConfig('compacter++'), g)).toEqual({ select: { kinds: ['ffn'] }, mode: 'wrap' });
  });
});

describe('initialisation follows AdapterHub (init_shared_parameters, PHMLayer.reset_parameters, init_W)', () => {
  test('shared rule N(0, phm_init_range²); W slices Glorot-uniform over one slice’s fans; biases 0; per-layer rules N(0, 0.01²)', () => {
    const graph = adapted(tinyBase(), [compacterRule('a', 'compacter', { reduction_factor: 4 })]);
    // d = 32, m = 8, n = 4: down W_left [4, 8, 1], W_right [4, 1, 2]; up W_left [4, 2, 1], W_right [4, 1, 8].
    const p = (k: string) => graph.param(`layer.1.ffn.adapters.a.${k}`).init;
    expect(graph.param('shared.adapters.a.phm_rule').init).toEqual({ kind: 'normal', std: 1e-4 });
    expect(p('adapter_down.0.W_left')).toEqual({ kind: 'uniform', low: -Math.sqrt(6 / 9), high: Math.sqrt(6 / 9) });
    expect(p('adapter_down.0.W_right')).toEqual({ kind: 'uniform', low: -Math.sqrt(6 / 3), high: Math.sqrt(6 / 3) });
    expect(p('adapter_up.W_right')).toEqual({ kind: 'uniform', low: -Math.sqrt(6 / 9), high: Math.sqrt(6 / 9) });
    expect(p('adapter_up.b')).toEqual({ kind: 'zeros' });
    const perLayer = adapted(tinyBase(), [compacterRule('a', 'compacter++', { reduction_factor: 4, shared_phm_rule: false, hypercomplex_nonlinearity: 'glorot-normal' })]);
    expect(perLayer.param('layer.0.ffn.adapters.a.adapter_up.phm_rule').init).toEqual({ kind: 'normal', std: 0.01 });
    expect(perLayer.param('layer.0.ffn.adapters.a.adapter_up.W_left').init).toEqual({ kind: 'normal', std: Math.sqrt(2 / 3) });
    const uniform = adapted(tinyBase(), [compacterRule('a', 'compacter++', { reduction_factor: 4, phm_c_init: 'uniform', hypercomplex_nonlinearity: 'normal' })]);
    expect(uniform.param('shared.adapters.a.phm_rule').init).toEqual({ kind: 'uniform', low: -1, high: 1 });
    expect(uniform.param('layer.0.ffn.adapters.a.adapter_up.W_left').init).toEqual({ kind: 'normal', std: 1e-4 });
  });
});

describe('errors name the field', () => {
  test('k or d not divisible by phm_dim, at placement, with the sizes', () => {
    // d = 32, AdapterHub's reduction 32: m = 1, not divisible by phm_dim 4.
    const e1 = configError(() => adapted(tinyBase(), [compacterRule('a', 'compacter')]));
    expect(e1.path).toBe('a.config.phm_dim');
    expect(e1.message).toMatch(/down-projection 32 → 1: output size 1 is not divisible by phm_dim 4/);
    // d = 30 (heads 3), m = 10: the hidden size is not divisible by 4.
    const e2 = configError(() => adapted(tinyBase({ hiddenSize: 30, numHeads: 3 }), [compacterRule('b', 'compacter++', { reduction_factor: 3 })]));
    expect(e2.path).toBe('b.config.phm_dim');
    expect(e2.message).toMatch(/30 → 10: input size 30 is not divisible by phm_dim 4/);
    expect(() => compacter.paramCount?.({ config: compacterConfig('compacter'), sites: [{ name: 'layer.0.output', layer: 0, inWidth: 30, outWidth: 30 }], width: 30, numLayers: 2 })).toThrow(/phm_dim/);
  });

  test.each([
    [{ phm_dims: 4 }, 'config.phm_dims'],
    [{ phm_dim: 0 }, 'config.phm_dim'],
    [{ phm_rank: 1.5 }, 'config.phm_rank'],
    [{ phm_c_init: 'xavier' }, 'config.phm_c_init'],
    [{ hypercomplex_nonlinearity: 'kaiming' }, 'config.hypercomplex_nonlinearity'],
    [{ phm_layer: false }, 'config.phm_layer'],
    [{ init_weights: 'houlsby' }, 'config.init_weights'],
    [{ shared_W_phm: true, reduction_factor: { default: 8 } }, 'config.shared_W_phm'],
    [{ config: 'seq_bn' }, 'config.config'],
  ])('%j → %s', (overrides, path) => {
    expect(configError(() => compacterConfig('compacter', overrides)).path).toBe(path);
  });
});

describe('AdapterHub configs', () => {
  test('toHubConfig writes AdapterHub’s BnConfig dict (architecture null, phm_layer true); fromHubConfig reads it back', () => {
    for (const [preset, hub] of [['compacter', HUB_COMPACTER], ['compacter++', HUB_COMPACTER_PP]] as const) {
      const c = compacterConfig(preset, { phm_rank: 2, leave_out: [1] });
      const written = compacterToHubConfig(c);
      expect(written).toEqual({ architecture: null, ...hub, phm_rank: 2, leave_out: [1], ...HUB_UNSUPPORTED });
      const input = compacterFromHubConfig(written) as Record<string, unknown>;
      expect(compacterConfig(String(input['config']), input)).toEqual(c);
    }
    // A config AdapterHub itself saved for Compacter++ (its to_dict: every BnConfig field) resolves to the preset.
    const saved = compacterFromHubConfig({ architecture: null, ...HUB_COMPACTER_PP, ...HUB_UNSUPPORTED }) as Record<string, unknown>;
    expect(compacterConfig(String(saved['config']), saved)).toEqual(COMPACTER_PRESETS['compacter++']);
    // Not ours: a dense bottleneck, another method.
    expect(compacterFromHubConfig({ ...HUB_COMPACTER, phm_layer: false })).toBeUndefined();
    expect(compacterFromHubConfig({ ...HUB_COMPACTER, architecture: 'lora' })).toBeUndefined();
    expect(() => compacterFromHubConfig({ ...HUB_COMPACTER, use_gating: true })).toThrow(ConfigError);
  });

  test('saveAdapter / loadAdapter round trip; the checkpoint-key hook maps the shared rule to AdapterHub’s shared_parameters key', async () => {
    const withHead = addHead(tinyBase(), { type: 'classification', name: 'cls', numLabels: 2 });
    const graph = adapted(withHead, [compacterRule('a', 'compacter', { reduction_factor: 4 })]);
    const { store } = baseStore(graph, 5);
    randomizeAdapter(graph, store, 'a', 8);
    const want = run(graph, store, FEEDS);
    const dir = await mkdtemp(join(tmpdir(), 'compacter-'));
    try {
      await saveAdapter(dir, graph, store, 'a', { registry, head: 'cls' });
      const { tensors } = await readSafetensorsFile(join(dir, ADAPTER_WEIGHTS_FILE));
      expect(tensors.has('bert.shared.adapters.a.phm_rule')).toBe(true);
      expect(tensors.has('bert.encoder.layer.0.attention.output.adapters.a.adapter_down.0.W_left')).toBe(true);
      expect(tensors.has('bert.shared_parameters.a.phm_rule')).toBe(true);
      expect(adapterCheckpointKeysOf(graph, 'shared.adapters.a.phm_rule', 'a', { plugin: compacter })).toEqual(['bert.shared_parameters.a.phm_rule', 'bert.shared.adapters.a.phm_rule']);
      expect(adapterCheckpointKeysOf(graph, 'layer.0.ffn.adapters.a.adapter_up.b', 'a', { plugin: compacter, as: 'x' })).toEqual(['bert.encoder.layer.0.output.adapters.x.adapter_up.b']);
      const fresh = tinyBase();
      const freshStore = baseStore(fresh, 5).store;
      const loaded = await loadAdapter(dir, fresh, freshStore, registry);
      expect(loaded.head).toBe('cls');
      expect(bitEqual(run(loaded.graph, freshStore, FEEDS), want)).toBe(true);
      freshStore.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
      store.dispose();
    }
  });
});

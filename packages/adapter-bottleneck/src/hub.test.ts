// AdapterHub interoperability: adapter_config.json's BnConfig dict both ways, and AdapterHub's tensor names.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTER_WEIGHTS_FILE, ConfigError, loadAdapter, readSafetensorsFile, saveAdapter } from '@adapters/core-graph';
import { baseStore, bitEqual, adapted, randomizeAdapter, registry, run, tinyBase } from './__tests__/helpers';
import { BOTTLENECK_PRESETS, bottleneckConfig } from './config';
import { bottleneckFromHubConfig, bottleneckHubKeys, bottleneckToHubConfig } from './hub';
import { bottleneckDefaultPlacement, bottleneckRule } from './plugin';

/** `config` of adapter_config.json as adapters 1.3.0 writes it for SeqBnConfig(reduction_factor=4) (no `architecture`). */
const HUB_SEQ_BN = {
  adapter_residual_before_ln: false, cross_adapter: false, dropout: 0, factorized_phm_W: true, factorized_phm_rule: false,
  hypercomplex_nonlinearity: 'glorot-uniform', init_weights: 'bert', init_weights_seed: null, inv_adapter: null, inv_adapter_reduction_factor: null,
  is_parallel: false, learn_phm: true, leave_out: [], ln_after: false, ln_before: false, mh_adapter: false, non_linearity: 'relu',
  original_ln_after: true, original_ln_before: true, output_adapter: true, phm_bias: true, phm_c_init: 'normal', phm_dim: 4,
  phm_init_range: 0.0001, phm_layer: false, phm_rank: 1, reduction_factor: 4, residual_before_ln: true, scaling: 1, shared_W_phm: false,
  shared_phm_rule: true, stochastic_depth: 0, use_gating: false,
};

const resolved = (hub: Record<string, unknown>) => {
  const input = bottleneckFromHubConfig(hub);
  if (!input) throw new Error('not read as a bottleneck config');
  return bottleneckConfig(String(input['config']), input);
};

describe('AdapterHub adapter_config.json', () => {
  test("AdapterHub's BnConfig dict reads as the matching preset; fields that cannot change a loaded adapter are dropped", () => {
    expect(resolved(HUB_SEQ_BN)).toEqual({ ...BOTTLENECK_PRESETS.seq_bn, reduction_factor: 4 });
    expect(resolved({ ...HUB_SEQ_BN, architecture: null, init_weights_seed: 42, phm_dim: 8 })).toEqual({ ...BOTTLENECK_PRESETS.seq_bn, reduction_factor: 4 });
    expect(resolved({ ...HUB_SEQ_BN, mh_adapter: true, original_ln_before: false, non_linearity: 'swish' })).toEqual({ ...BOTTLENECK_PRESETS.double_seq_bn, reduction_factor: 4 });
    expect(resolved({ ...HUB_SEQ_BN, is_parallel: true, original_ln_before: false, scaling: 'learned', init_weights: 'mam_adapter' })).toEqual({ ...BOTTLENECK_PRESETS.scaled_par_bn, reduction_factor: 4 });
    expect(resolved({ ...HUB_SEQ_BN, non_linearity: 'SiLU' }).non_linearity).toBe('swish');
  });

  test('configs of other plugins are left to them; math we do not implement and unknown fields are errors naming the field', () => {
    expect(bottleneckFromHubConfig({ ...HUB_SEQ_BN, phm_layer: true })).toBeUndefined();
    expect(bottleneckFromHubConfig({ ...HUB_SEQ_BN, inv_adapter: 'nice', inv_adapter_reduction_factor: 2 })).toBeUndefined();
    expect(bottleneckFromHubConfig({ architecture: 'lora', r: 8 })).toBeUndefined();
    for (const [field, value] of [['use_gating', 'yes'], ['cross_adapter', 'yes'], ['stochastic_depth', 0.1]] as const) {
      expect(() => bottleneckFromHubConfig({ ...HUB_SEQ_BN, [field]: value })).toThrow(ConfigError);
      expect(() => bottleneckFromHubConfig({ ...HUB_SEQ_BN, [field]: value })).toThrow(new RegExp(`^config\\.${field}: `));
    }
    expect(() => bottleneckFromHubConfig({ ...HUB_SEQ_BN, adapter_plus: true })).toThrow(/config\.adapter_plus: is not a BnConfig field/);
  });

  test('use_gating (UniPELT) reads and writes as AdapterHub\'s field; false stays implicit', () => {
    expect(resolved({ ...HUB_SEQ_BN, use_gating: true })).toEqual({ ...BOTTLENECK_PRESETS.seq_bn, reduction_factor: 4, use_gating: true });
    expect('use_gating' in (bottleneckFromHubConfig({ ...HUB_SEQ_BN, use_gating: false }) ?? {})).toBe(false);
    const gated = { ...BOTTLENECK_PRESETS.seq_bn, use_gating: true };
    expect(bottleneckToHubConfig(gated)['use_gating']).toBe(true);
    expect(bottleneckToHubConfig(BOTTLENECK_PRESETS.seq_bn)['use_gating']).toBe(false);
    expect(resolved(bottleneckToHubConfig(gated))).toEqual(gated);
  });

  test('cross_adapter: true (encoder-decoders) selects cross_attention sites and round-trips; false stays absent from our config', () => {
    const input = bottleneckFromHubConfig({ ...HUB_SEQ_BN, cross_adapter: true }) as Record<string, unknown>;
    expect(input['cross_adapter']).toBe(true);
    const config = resolved({ ...HUB_SEQ_BN, cross_adapter: true });
    expect(bottleneckDefaultPlacement(config).select).toEqual({ kinds: ['cross_attention', 'ffn'] });
    expect(bottleneckToHubConfig(config)['cross_adapter']).toBe(true);
    expect('cross_adapter' in (bottleneckFromHubConfig(HUB_SEQ_BN) as object)).toBe(false);
    expect(bottleneckToHubConfig(resolved(HUB_SEQ_BN))['cross_adapter']).toBe(false);
  });

  test('every preset round-trips through toHubConfig; the dict has every BnConfig field and no architecture', () => {
    for (const preset of Object.values(BOTTLENECK_PRESETS)) {
      const hub = bottleneckToHubConfig(preset);
      expect('architecture' in hub).toBe(false);
      for (const k of Object.keys(HUB_SEQ_BN)) expect(k in hub).toBe(true);
      expect(resolved(hub)).toEqual(preset);
    }
  });
});

describe("AdapterHub's tensor names", () => {
  test('bare `scaling`, and the ln_before LayerNorm under adapter_norm_before.* and adapter_down.0.*', async () => {
    expect(bottleneckHubKeys('scaling.scale')).toEqual(['scaling']);
    expect(bottleneckHubKeys('adapter_norm_before.bias')).toEqual(['adapter_norm_before.bias', 'adapter_down.0.bias']);
    expect(bottleneckHubKeys('adapter_down.1.weight')).toEqual(['adapter_down.1.weight']);
    const base = tinyBase();
    const graph = adapted(base, [bottleneckRule('a', 'seq_bn', { reduction_factor: 4, ln_before: true, ln_after: true, scaling: 'learned' })]);
    const { store } = baseStore(graph, 5);
    randomizeAdapter(graph, store, 'a', 6);
    const dir = await mkdtemp(join(tmpdir(), 'bn-hub-'));
    try {
      await saveAdapter(dir, graph, store, 'a', { registry });
      const { tensors } = await readSafetensorsFile(join(dir, ADAPTER_WEIGHTS_FILE));
      const at = 'bert.encoder.layer.0.output.adapters.a.';
      expect([...tensors.keys()].filter((k) => k.startsWith(at)).map((k) => k.slice(at.length)).sort()).toEqual([
        'adapter_down.0.bias', 'adapter_down.0.weight', 'adapter_down.1.bias', 'adapter_down.1.weight', 'adapter_norm_after.bias', 'adapter_norm_after.weight',
        'adapter_norm_before.bias', 'adapter_norm_before.weight', 'adapter_up.bias', 'adapter_up.weight', 'scaling',
      ]);
      const fresh = baseStore(base, 5).store;
      const loaded = await loadAdapter(dir, base, fresh, registry);
      expect(bitEqual(run(loaded.graph, fresh), run(graph, store))).toBe(true);
      fresh.dispose();
    } finally {
      store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

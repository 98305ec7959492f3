// Initialisation: mam_adapter starts as an exact identity; houlsby starts near one (measured bound); the
// init_weights schemes draw what AdapterHub draws.
import { BERT_BASE, buildEncoder, initialValues } from '@adapters/core-graph';
import type { BottleneckConfig } from '../config';
import { bottleneckConfig } from '../config';
import { bottleneck, bottleneckRule } from '../plugin';
import { adapted, baseStore, bitEqual, maxAbsDiff, run, tinyBase } from './helpers';

const PRESETS = ['double_seq_bn', 'seq_bn', 'par_bn', 'scaled_par_bn', 'bapna_firat'] as const;

/**
 * Bounds on max |adapted - base| of last_hidden_state at houlsby init (truncated N(0, 0.01²) within ±0.02,
 * zero biases) on the tiny BERT (hidden 32, 3 layers; hidden states are LayerNorm outputs of order 1).
 * Measured (seed 3): double_seq_bn 3.4e-5 (m = 2, adapter reads the small sublayer output h),
 * seq_bn 3.5e-3 (m = 2, reads LN(h + x)), par_bn 2.8e-2 (m = 16, ×4), scaled_par_bn 7.0e-3 (m = 16, ×1),
 * bapna_firat 2.2e-3 (m = 2, reads LN_new(z)). The bounds leave ~2-3× headroom.
 */
const HOULSBY_BOUND: Record<(typeof PRESETS)[number], number> = { double_seq_bn: 1e-4, seq_bn: 1e-2, par_bn: 6e-2, scaled_par_bn: 2e-2, bapna_firat: 5e-3 };

describe('init_weights', () => {
  const base = tinyBase();

  test.each(PRESETS)("%s with init_weights 'mam_adapter' reproduces the base model bit for bit", (preset) => {
    const config = bottleneckConfig(preset, { init_weights: 'mam_adapter' });
    expect(bottleneck.isIdentityAtInit?.(config)).toBe(true);
    const graph = adapted(base, [bottleneckRule('a', preset, { init_weights: 'mam_adapter' })]);
    const { store } = baseStore(graph, 3);
    const withAdapters = run(graph, store);
    const plain = run(base, store);
    expect(bitEqual(withAdapters, plain)).toBe(true);
    // The adapters are really there, with non-zero down-projections.
    const downs = [...graph.params.keys()].filter((k) => /adapter_down\.[01]\.weight$/.test(k) && !k.includes('norm'));
    expect(downs.length).toBeGreaterThan(0);
    for (const k of downs) expect(Math.max(...Array.from(store.get(k).dataSync(), Math.abs))).toBeGreaterThan(0);
    store.dispose();
  });

  test('isIdentityAtInit is false where a zero up-projection is not enough', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['double_seq_bn', {}], // bert init
      ['double_seq_bn', { init_weights: 'houlsby' }],
      ['seq_bn', { init_weights: 'mam_adapter', ln_after: true }],
      ['seq_bn', { init_weights: 'mam_adapter', residual_before_ln: false }],
      ['double_seq_bn', { init_weights: 'mam_adapter', original_ln_after: false }],
    ];
    for (const [preset, o] of cases) expect(bottleneck.isIdentityAtInit?.(bottleneckConfig(preset, o))).toBe(false);
  });

  test.each(PRESETS)("%s with init_weights 'houlsby' stays near the base model (bound per preset)", (preset) => {
    const graph = adapted(base, [bottleneckRule('a', preset, { init_weights: 'houlsby' })]);
    const { store } = baseStore(graph, 3);
    const diff = maxAbsDiff(run(graph, store), run(base, store));
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(HOULSBY_BOUND[preset]);
    store.dispose();
  });

  test('the schemes draw AdapterHub’s distributions (checked on a BERT-base-width adapter)', () => {
    // BERT-base width (fan-in 768); the values are what WeightStore.create draws (initialValues).
    const big = buildEncoder({ ...BERT_BASE, numLayers: 1, vocabSize: 8, maxPositions: 8, intermediateSize: 8 });
    const stats = (config: Partial<BottleneckConfig>) => {
      const graph = adapted(big, [bottleneckRule('a', 'seq_bn', config)]);
      const p = 'layer.0.ffn.adapters.a';
      const get = (k: string) => Array.from(initialValues(graph.param(`${p}.${k}`), 1));
      return { down: get('adapter_down.0.weight'), up: get('adapter_up.weight'), biases: [...get('adapter_down.0.bias'), ...get('adapter_up.bias')] };
    };
    const std = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    const maxAbs = (v: number[]) => Math.max(...v.map(Math.abs));

    const houlsby = stats({ init_weights: 'houlsby' });
    expect(maxAbs([...houlsby.down, ...houlsby.up])).toBeLessThanOrEqual(0.02 + 1e-9);
    expect(std(houlsby.down)).toBeGreaterThan(0.0085); // σ of N(0, 0.01²) truncated at 2σ ≈ 0.0088
    expect(std(houlsby.down)).toBeLessThan(0.0091);
    expect(maxAbs(houlsby.biases)).toBe(0);

    const bert = stats({ init_weights: 'bert' });
    expect(std(bert.down)).toBeGreaterThan(0.019);
    expect(std(bert.down)).toBeLessThan(0.021);
    expect(maxAbs(bert.biases)).toBe(0);

    const mam = stats({ init_weights: 'mam_adapter' });
    const bound = 1 / Math.sqrt(768); // kaiming_uniform(a=√5): gain √(2/6), bound gain·√(3/fan_in) = 1/√fan_in
    expect(maxAbs(mam.down)).toBeLessThanOrEqual(bound);
    expect(maxAbs(mam.down)).toBeGreaterThan(0.99 * bound);
    expect(maxAbs(mam.up)).toBe(0);
    expect(maxAbs(mam.biases)).toBe(0);
  });
});

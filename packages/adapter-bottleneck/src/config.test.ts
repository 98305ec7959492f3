// Presets follow AdapterHub's defaults; invalid configs are ConfigErrors naming the field.
import { adapter, applyPlacements, ConfigError, createRegistry, PlacementError } from '@adapters/core-graph';
import { BOTTLENECK_PRESETS, bottleneckConfig, bottleneckSize, pyFloorDiv, resolveBottleneck } from './config';
import { bottleneck, bottleneckRule } from './plugin';
import { tinyBase } from './__tests__/helpers';

const registry = createRegistry([bottleneck]);
const base = tinyBase();
const place = (config: Record<string, unknown>, extra: { select?: { kinds: string[] }; mode?: 'after' | 'before' | 'parallel' | 'wrap' | 'tap' } = {}) =>
  applyPlacements(base, [{ adapter: adapter('bottleneck', 'a', config), ...extra }], registry);

/** Runs `fn` and returns the ConfigError it throws. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('presets (AdapterHub adapter_config.py)', () => {
  test('double_seq_bn = DoubleSeqBnConfig', () => {
    expect(BOTTLENECK_PRESETS.double_seq_bn).toMatchObject({
      mh_adapter: true, output_adapter: true, reduction_factor: 16, non_linearity: 'swish', original_ln_before: false, original_ln_after: true,
      residual_before_ln: true, ln_before: false, ln_after: false, init_weights: 'bert', is_parallel: false, scaling: 1, dropout: 0, leave_out: [],
    });
  });
  test('seq_bn = SeqBnConfig (the default config)', () => {
    expect(BOTTLENECK_PRESETS.seq_bn).toMatchObject({ mh_adapter: false, output_adapter: true, reduction_factor: 16, non_linearity: 'relu', original_ln_before: true, original_ln_after: true, init_weights: 'bert' });
    expect(resolveBottleneck({})).toEqual(BOTTLENECK_PRESETS.seq_bn);
    expect(bottleneck.defaults).toEqual(BOTTLENECK_PRESETS.seq_bn);
  });
  test('par_bn = ParBnConfig: reduction 2, relu, mam_adapter, scaling 4, parallel', () => {
    expect(BOTTLENECK_PRESETS.par_bn).toMatchObject({ mh_adapter: false, output_adapter: true, reduction_factor: 2, non_linearity: 'relu', init_weights: 'mam_adapter', is_parallel: true, scaling: 4 });
    expect(BOTTLENECK_PRESETS.scaled_par_bn).toEqual({ ...BOTTLENECK_PRESETS.par_bn, config: 'scaled_par_bn', scaling: 'learned' });
  });
  test('bapna_firat: one adapter after each layer with its own LayerNorm', () => {
    expect(BOTTLENECK_PRESETS.bapna_firat).toMatchObject({ layer_adapter: true, mh_adapter: false, output_adapter: false, ln_before: true, non_linearity: 'relu' });
  });
  test('AdapterHub’s deprecated names resolve to the same configs', () => {
    expect(bottleneckConfig('houlsby')).toEqual(BOTTLENECK_PRESETS.double_seq_bn);
    expect(bottleneckConfig('pfeiffer')).toEqual(BOTTLENECK_PRESETS.seq_bn);
    expect(bottleneckConfig('parallel')).toEqual(BOTTLENECK_PRESETS.par_bn);
    expect(bottleneckConfig('scaled_parallel')).toEqual(BOTTLENECK_PRESETS.scaled_par_bn);
  });
  test('overrides win over the preset; the resolved config is canonical (same adapter twice is no conflict)', () => {
    const c = bottleneckConfig('seq_bn', { reduction_factor: 8, leave_out: [0] });
    expect(c.reduction_factor).toBe(8);
    expect(c.original_ln_before).toBe(true);
    const g = applyPlacements(base, [bottleneckRule('a', 'houlsby', { leave_out: [1] }), bottleneckRule('a', 'double_seq_bn', { leave_out: [1] }, { select: { layers: [1], kinds: ['attention', 'ffn'] }, mode: 'wrap' })], registry);
    // The second rule reaches layer 1, which the config leaves out: identity splices without parameters.
    expect(g.report.filter((r) => r.rule === 1).map((r) => r.params)).toEqual([0, 0]);
    expect(g.report.filter((r) => r.rule === 0).every((r) => r.layer !== 1 && r.params > 0)).toBe(true);
  });
  test('default placements', () => {
    const sites = (preset: string, o: Record<string, unknown> = {}) => {
      const { report } = applyPlacements(base, [bottleneckRule('a', preset, o)], registry);
      return report.map((r) => `${r.site}:${r.mode}`);
    };
    expect(sites('double_seq_bn')).toEqual(['layer.0.attention:wrap', 'layer.0.ffn:wrap', 'layer.1.attention:wrap', 'layer.1.ffn:wrap', 'layer.2.attention:wrap', 'layer.2.ffn:wrap']);
    expect(sites('seq_bn', { leave_out: [1] })).toEqual(['layer.0.ffn:wrap', 'layer.2.ffn:wrap']);
    expect(sites('par_bn')).toEqual(['layer.0.ffn:parallel', 'layer.1.ffn:parallel', 'layer.2.ffn:parallel']);
    expect(sites('par_bn', { mh_adapter: true, output_adapter: false })).toEqual(['layer.0.attention:parallel', 'layer.1.attention:parallel', 'layer.2.attention:parallel']);
    expect(sites('bapna_firat')).toEqual(['layer.0.output:after', 'layer.1.output:after', 'layer.2.output:after']);
  });
});

describe('bottleneck size', () => {
  test('m = max(1, hidden // reduction_factor) with Python float floor division', () => {
    expect(pyFloorDiv(768, 12)).toBe(64);
    expect(pyFloorDiv(768, 16)).toBe(48);
    expect(pyFloorDiv(1, 0.1)).toBe(9); // Python: 1 // 0.1 == 9.0 (Math.floor(1 / 0.1) is 10)
    expect(pyFloorDiv(768, 0.5)).toBe(1536); // reduction < 1 is an up-projection
    expect(pyFloorDiv(32, 3)).toBe(10);
    expect(bottleneckSize({ reduction_factor: 64 }, 32, 0)).toBe(1);
    expect(bottleneckSize({ reduction_factor: { default: 16, '3': 8 } }, 768, 3)).toBe(96);
    expect(bottleneckSize({ reduction_factor: { default: 16, '3': 8 } }, 768, 2)).toBe(48);
  });
  test('a per-layer map without the layer and without "default" is a ConfigError naming reduction_factor', () => {
    const e = configError(() => place({ config: 'seq_bn', reduction_factor: { '0': 8 } }));
    expect(e.path).toBe('a.config.reduction_factor');
  });
});

describe('invalid configs are ConfigErrors naming the field', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ config: 'seq_bn', foo: 1 }, 'a.config.foo'],
    [{ config: 'nope' }, 'a.config.config'],
    [{ reduction_factor: 0 }, 'a.config.reduction_factor'],
    [{ reduction_factor: -2 }, 'a.config.reduction_factor'],
    [{ reduction_factor: '16' }, 'a.config.reduction_factor'],
    [{ reduction_factor: { default: 16, three: 8 } }, 'a.config.reduction_factor.three'],
    [{ reduction_factor: { default: 0 } }, 'a.config.reduction_factor'],
    [{ reduction_factor: {} }, 'a.config.reduction_factor'],
    [{ non_linearity: 'elu' }, 'a.config.non_linearity'],
    [{ init_weights: 'xavier' }, 'a.config.init_weights'],
    [{ scaling: 'big' }, 'a.config.scaling'],
    [{ leave_out: [-1] }, 'a.config.leave_out[0]'],
    [{ leave_out: [0.5] }, 'a.config.leave_out[0]'],
    [{ leave_out: [1, 1] }, 'a.config.leave_out'],
    [{ leave_out: 1 }, 'a.config.leave_out'],
    [{ dropout: 1 }, 'a.config.dropout'],
    [{ dropout: -0.1 }, 'a.config.dropout'],
    [{ residual_before_ln: 'post' }, 'a.config.residual_before_ln'],
    [{ ln_before: 'yes' }, 'a.config.ln_before'],
    [{ use_gating: 'yes' }, 'a.config.use_gating'],
    [{ config: 'double_seq_bn', residual_before_ln: 'post_add' }, 'a.config.residual_before_ln'],
    [{ config: 'par_bn', original_ln_before: true }, 'a.config.original_ln_before'],
    [{ config: 'seq_bn', output_adapter: false }, 'a.config.output_adapter'],
    [{ config: 'bapna_firat', mh_adapter: true }, 'a.config.layer_adapter'],
    [{ config: 'bapna_firat', is_parallel: true }, 'a.config.is_parallel'],
    [{ config: 'seq_bn', adapter_residual_before_ln: true }, 'a.config.adapter_residual_before_ln'],
  ];
  test.each(cases)('%j → %s', (config, path) => {
    const e = configError(() => place(config));
    expect(e.path).toBe(path);
    expect(e.message.startsWith(path)).toBe(true);
  });

  test('modes the config cannot honour', () => {
    expect(configError(() => place({ config: 'seq_bn' }, { select: { kinds: ['ffn'] }, mode: 'parallel' })).path).toBe('a.config.is_parallel');
    expect(configError(() => place({ config: 'par_bn' }, { select: { kinds: ['ffn'] }, mode: 'after' })).path).toBe('a.config.is_parallel');
    expect(configError(() => place({ config: 'seq_bn' }, { select: { kinds: ['output'] }, mode: 'after' })).path).toBe('a.config.original_ln_before');
    expect(configError(() => place({ config: 'par_bn', original_ln_after: false })).path).toBe('a.config.original_ln_after');
    expect(() => place({ config: 'seq_bn' }, { select: { kinds: ['ffn'] }, mode: 'tap' })).toThrow(PlacementError);
  });

  test('bottleneckConfig validates too', () => {
    expect(configError(() => bottleneckConfig('seq_bn', { non_linearity: 'elu' })).path).toBe('config.non_linearity');
  });
});

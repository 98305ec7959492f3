// T5 config parsing (errors name the field), the relative position buckets against transformers' formula on hand
// values, and where a bottleneck adapter lands on T5's sites. Parity with transformers: tools/parity/src/t5.test.ts.
import { adapter, applyPlacements, createRegistry } from '@adapters/core-graph';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import { buildT5, parseT5Config } from './t5';
import { relativePositionBucket } from './t5-ops';

const HF = { model_type: 't5', vocab_size: 32, d_model: 8, d_kv: 2, d_ff: 16, num_layers: 2, num_heads: 4 };

describe('T5', () => {
  it('parseT5Config fills T5Config defaults and names the field it refuses', () => {
    expect(parseT5Config(HF)).toMatchObject({ decoderLayers: 2, buckets: 32, maxDistance: 128, feedForward: 'relu', tieWordEmbeddings: true, padTokenId: 0, eosTokenId: 1 });
    expect(() => parseT5Config({ ...HF, d_kv: 3 }, 'c.json')).toThrow(/c\.json: d_kv.*num_heads × d_kv/);
    expect(() => parseT5Config({ ...HF, feed_forward_proj: 'gated-silu' }, 'c.json')).toThrow(/c\.json: feed_forward_proj/);
    expect(() => parseT5Config({ ...HF, model_type: 'bart' }, 'c.json')).toThrow(/c\.json: model_type/);
    expect(() => parseT5Config({ ...HF, num_heads: 0 }, 'c.json')).toThrow(/c\.json: num_heads/);
  });

  it('relative position buckets follow transformers on hand-computed values', () => {
    // Bidirectional, 32 buckets, max distance 128: 16 per side, exact below 8, then log-spaced up to 15.
    expect([0, 1, 7, -1, -7].map((r) => relativePositionBucket(r, true, 32, 128))).toEqual([0, 17, 23, 1, 7]);
    // r = 8 → 8 + trunc(log(1)/log(16)·8) = 8; r = 127 → 8 + trunc(log(127/8)/log(16)·8) = 8 + 7 = 15; beyond: capped.
    expect([8, 127, 1000].map((r) => relativePositionBucket(-r, true, 32, 128))).toEqual([8, 15, 15]);
    // Unidirectional (decoder): keys after the query all share bucket 0; 32 buckets, exact below 16.
    expect([3, 0, -5, -16, -127].map((r) => relativePositionBucket(r, false, 32, 128))).toEqual([0, 0, 5, 16, 31]);
  });

  it('a bottleneck adapter lands on the T5 sites (AdapterHub module names) in mode after, as on the mBART pre-LN sites', () => {
    const graph = buildT5(parseT5Config(HF));
    const registry = createRegistry(bottleneckPlugins);
    const [plugin] = bottleneckPlugins;
    const placed = applyPlacements(graph, [{ adapter: adapter(plugin as never, 'a', { config: 'seq_bn', reduction_factor: 2, cross_adapter: true, original_ln_before: false, original_ln_after: false }), mode: 'after' }], registry).graph;
    expect(placed.splices.map((s) => s.site).sort()).toEqual(['decoder.block.0.cross_attention', 'decoder.block.0.ffn', 'decoder.block.1.cross_attention', 'decoder.block.1.ffn', 'encoder.block.0.ffn', 'encoder.block.1.ffn']);
    expect(graph.sites.get('decoder.block.1.ffn')).toMatchObject({ module: 'decoder.block.1.layer.2', layer: 3 });
  });

  it("sites are AdapterHub's T5 sublayers: entry = the input before RMSNorm, exit = the output before the residual add, closed by the add (no norm)", () => {
    const graph = buildT5(parseT5Config(HF));
    expect(graph.sites.get('encoder.block.1.attention')).toMatchObject({ entry: 'encoder.block.0.layer.1.residual', exit: 'encoder.block.1.layer.0.dropout', residual: { add: 'encoder.block.1.layer.0.residual', norm: 'encoder.block.1.layer.0.residual' } });
    expect(graph.sites.get('decoder.block.0.cross_attention')).toMatchObject({ entry: 'decoder.block.0.layer.0.residual', residual: { add: 'decoder.block.0.layer.1.residual' } });
    // seq_bn / double_seq_bn default to mode wrap, par_bn to parallel: both need these sites (AdapterHub 1.3.0 parity: tools/parity/src/t5.test.ts).
    const registry = createRegistry(bottleneckPlugins);
    const [plugin] = bottleneckPlugins;
    for (const [config, mode] of [['double_seq_bn', 'wrap'], ['par_bn', 'parallel']] as const) {
      const placed = applyPlacements(graph, [{ adapter: adapter(plugin as never, 'a', { config, reduction_factor: 2, cross_adapter: true }) }], registry).graph;
      expect(new Set(placed.splices.map((s) => s.mode))).toEqual(new Set([mode]));
      expect(placed.splices).toHaveLength(config === 'par_bn' ? 6 : 10);
    }
  });
});

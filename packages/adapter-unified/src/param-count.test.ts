// The placed presets have exactly AdapterHub's parameter counts (param-count.ts, written from AdapterHub's modules),
// over several model shapes, with the presets' own sizes (prefix bottleneck 800 / 512). The parity fixtures
// (tools/parity/src/unified.test.ts) check the same against the count AdapterHub's own model reports.
import type { Graph } from '@adapters/core-graph';
import { adapter, applyPlacements, buildEncoder, createRegistry } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { configUnion, mamParamCount, unipeltParamCount } from './index';

const registry = createRegistry([bottleneck, lora, prefixTuning, configUnion]);
const placed = (graph: Graph, preset: string): number => {
  const { graph: g, report } = applyPlacements(graph, [{ adapter: adapter('union', 'u', { config: preset }) }], registry);
  const owned = [...g.params.values()].filter((p) => p.owner === 'adapter:u').reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  expect(report.reduce((n, e) => n + e.params, 0)).toBe(owned);
  return owned;
};

describe('MAM and UniPELT parameter counts equal AdapterHub\'s', () => {
  test.each([
    [16, 1, 2],
    [32, 2, 4],
    [48, 3, 4],
  ])('hidden %i, %i layers', (hidden, layers, heads) => {
    const graph = buildEncoder({ vocabSize: 20, hiddenSize: hidden, numLayers: layers, numHeads: heads, intermediateSize: 2 * hidden, maxPositions: 8 });
    expect(placed(graph, 'mam')).toBe(mamParamCount({ hidden, layers }));
    expect(placed(graph, 'unipelt')).toBe(unipeltParamCount({ hidden, layers }));
  });

  test('BERT-base sizes (hidden 768, 12 layers)', () => {
    // MAM: prefix 30·768 + 768·800 + 800 + 800·18,432 + 18,432 = 15,402,272; par_bn 12·(2·384·768 + 384 + 768) = 7,091,712.
    expect(mamParamCount({ hidden: 768, layers: 12 })).toBe(15_402_272 + 7_091_712);
    // UniPELT: prefix 10·768 + 768·512 + 512 + 512·18,432 + 18,432 = 9,857,024; per layer a prefix gate (769), seq_bn
    // rf 16 (2·48·768 + 48 + 768 = 74,544) with its gate, LoRA r 8 on q and v (8·768 + 768·8 = 12,288) with gates.
    expect(unipeltParamCount({ hidden: 768, layers: 12 })).toBe(9_857_024 + 12 * (769 + 74_544 + 769 + 2 * (12_288 + 769)));
  });
});

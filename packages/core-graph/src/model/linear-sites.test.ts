// The encoder's opt-in `linear` sites: one per dense layer, selected only by selectors that name kind `linear`.
import { buildEncoder } from './encoder';
import { selectSites } from '../rewrite/selector';

const graph = buildEncoder({ vocabSize: 20, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositions: 12 });
const ROLES = ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense', 'intermediate.dense', 'output.dense'];

describe('linear sites', () => {
  it('one per dense layer: entry = the dense input, exit = the dense node, module = its Hugging Face module', () => {
    for (const layer of [0, 1]) {
      for (const role of ROLES) {
        const site = graph.site(`layer.${layer}.${role}`);
        const node = graph.node(site.exit);
        expect(node.op).toBe('dense');
        expect(node.inputs).toEqual([site.entry]);
        expect(site).toMatchObject({ kind: 'linear', layer, module: `encoder.layer.${layer}.${role}`, optIn: true });
        expect(site.exit).toBe(site.module);
      }
    }
  });

  it("the pooler's dense layer is one too (no layer index)", () => {
    const site = graph.site('pooler.dense');
    expect(site).toMatchObject({ kind: 'linear', exit: 'pooler.dense', module: 'pooler.dense', optIn: true });
    expect(site.layer).toBeUndefined();
    expect(graph.node(site.entry).op).toBe('token');
  });

  it('broad selectors keep selecting only the coarse sites', () => {
    const names = (sel: Parameters<typeof selectSites>[1]) => selectSites(graph, sel).map((s) => s.name);
    expect(names({ layers: [0] })).toEqual(['layer.0.attention', 'layer.0.ffn', 'layer.0.output']);
    expect(names({ glob: 'layer.**' })).toEqual(['layer.0.attention', 'layer.0.ffn', 'layer.0.output', 'layer.1.attention', 'layer.1.ffn', 'layer.1.output']);
    expect(names({ names: 'dense', suffix: true, kinds: ['linear'], layers: [1] })).toEqual(['layer.1.attention.output.dense', 'layer.1.intermediate.dense', 'layer.1.output.dense']);
    expect(names({ kinds: ['linear'], exclude: { layers: [0] } })).toEqual([...ROLES.map((r) => `layer.1.${r}`), 'pooler.dense']);
    expect(() => names({ names: 'attention.self.query', suffix: true })).toThrow(/matches no site/);
    // Named exactly, an opt-in site is selected (what a saved placement records).
    expect(names({ names: ['layer.0.attention.self.query', 'layer.1.ffn'] })).toEqual(['layer.0.attention.self.query', 'layer.1.ffn']);
  });
});

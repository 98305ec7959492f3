// Site selection semantics (PEFT-style): exact names, dot-bounded suffixes, segment globs, full-match
// regexes, kinds, negative layer indices, `where` and `exclude`, all combined with AND.
import { PlacementError } from '../errors';
import { buildEncoder } from '../model/encoder';
import type { SiteSelector } from './selector';
import { describeSelector, numLayersOf, selectSites } from './selector';

const graph = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 3, intermediateSize: 16, maxPositions: 16 });
const names = (sel: SiteSelector) => selectSites(graph, sel).map((s) => s.name);

describe('selectSites', () => {
  it('the encoder has the documented sites, in graph order', () => {
    expect(numLayersOf(graph)).toBe(3);
    expect(names({})).toEqual([
      'embeddings',
      'layer.0.attention', 'layer.0.ffn', 'layer.0.output',
      'layer.1.attention', 'layer.1.ffn', 'layer.1.output',
      'layer.2.attention', 'layer.2.ffn', 'layer.2.output',
      'encoder.output',
    ]);
  });

  it('names match exactly unless suffix is set; suffixes are dot-bounded', () => {
    expect(names({ names: 'layer.1.ffn' })).toEqual(['layer.1.ffn']);
    expect(names({ names: ['layer.2.output', 'embeddings'] })).toEqual(['embeddings', 'layer.2.output']);
    expect(() => names({ names: 'ffn' })).toThrow(PlacementError); // not exact
    expect(names({ names: 'ffn', suffix: true })).toEqual(['layer.0.ffn', 'layer.1.ffn', 'layer.2.ffn']);
    expect(names({ names: 'output', suffix: true })).toEqual(['layer.0.output', 'layer.1.output', 'layer.2.output', 'encoder.output']);
    expect(names({ names: '1.ffn', suffix: true })).toEqual(['layer.1.ffn']);
    // 'fn' is a suffix of the string 'ffn' but not of a dot-separated segment.
    expect(() => names({ names: 'fn', suffix: true })).toThrow(PlacementError);
  });

  it('glob: * is one segment (or part of one), ** any number of segments', () => {
    expect(names({ glob: 'layer.*.ffn' })).toEqual(['layer.0.ffn', 'layer.1.ffn', 'layer.2.ffn']);
    expect(() => names({ glob: 'layer.*' })).toThrow(PlacementError); // one segment only: no 2-segment site names
    expect(names({ glob: '**.ffn' })).toEqual(['layer.0.ffn', 'layer.1.ffn', 'layer.2.ffn']);
    expect(names({ glob: '**' })).toHaveLength(11);
    expect(names({ glob: 'layer.**' })).toHaveLength(9);
    expect(names({ glob: '*.output' })).toEqual(['encoder.output']);
    expect(names({ glob: 'layer.1.*' })).toEqual(['layer.1.attention', 'layer.1.ffn', 'layer.1.output']);
    expect(names({ glob: 'layer.*.att*' })).toEqual(['layer.0.attention', 'layer.1.attention', 'layer.2.attention']);
    // Dots in the pattern are literal, not "any character".
    expect(() => names({ glob: 'layer.1?ffn' })).toThrow(PlacementError);
  });

  it('regex must match the whole name; string and RegExp forms', () => {
    expect(names({ regex: 'layer\\.[02]\\.ffn' })).toEqual(['layer.0.ffn', 'layer.2.ffn']);
    expect(() => names({ regex: 'ffn' })).toThrow(PlacementError); // a substring match is not enough
    expect(names({ regex: '.*ffn' })).toHaveLength(3);
    expect(names({ regex: 'embeddings|encoder\\.output' })).toEqual(['embeddings', 'encoder.output']);
    expect(names({ regex: /layer\.2\..*/ })).toEqual(['layer.2.attention', 'layer.2.ffn', 'layer.2.output']);
    // A RegExp object also has to match the whole name (regression: it was used as a substring search).
    expect(() => names({ regex: /ffn/ })).toThrow(PlacementError);
    expect(names({ regex: /LAYER\.0\.FFN/i })).toEqual(['layer.0.ffn']);
    // A global RegExp is not stateful across sites (regression: lastIndex made every other test() fail).
    expect(names({ regex: /layer\.\d\.ffn/g })).toEqual(['layer.0.ffn', 'layer.1.ffn', 'layer.2.ffn']);
  });

  it('an invalid regex is a PlacementError naming it', () => {
    expect(() => names({ regex: 'layer.(' })).toThrow(/selector regex 'layer\.\(' is invalid/);
  });

  it('kinds and layers; negative layers count from the end; sites without a layer never match layers', () => {
    expect(names({ kinds: ['attention'] })).toEqual(['layer.0.attention', 'layer.1.attention', 'layer.2.attention']);
    expect(names({ kinds: ['embeddings', 'encoder.output'] })).toEqual(['embeddings', 'encoder.output']);
    expect(names({ layers: [-1] })).toEqual(['layer.2.attention', 'layer.2.ffn', 'layer.2.output']);
    expect(names({ layers: [0, -1], kinds: ['ffn'] })).toEqual(['layer.0.ffn', 'layer.2.ffn']);
    expect(names({ layers: [-3] })).toEqual(names({ layers: [0] }));
    expect(() => names({ layers: [3] })).toThrow(PlacementError);
    expect(() => names({ layers: [-4] })).toThrow(PlacementError);
  });

  it('exclude removes matches and criteria combine with AND', () => {
    expect(names({ kinds: ['ffn'], exclude: { layers: [1] } })).toEqual(['layer.0.ffn', 'layer.2.ffn']);
    expect(names({ glob: 'layer.*.*', exclude: { names: 'output', suffix: true } })).toHaveLength(6);
    expect(names({ glob: 'layer.*.*', kinds: ['ffn'], layers: [-1] })).toEqual(['layer.2.ffn']);
    expect(names({ kinds: ['ffn'], exclude: { exclude: { layers: [0] } } })).toEqual(['layer.0.ffn']); // double negation
  });

  it('where gets the site and the number of layers', () => {
    const seen: number[] = [];
    expect(names({ where: (s, n) => (seen.push(n), s.kind === 'output' && s.layer === n - 1) })).toEqual(['layer.2.output']);
    expect(new Set(seen)).toEqual(new Set([3]));
  });

  it('a selector matching nothing is a PlacementError that describes the selector', () => {
    expect(() => names({ kinds: ['ffn'], layers: [7] })).toThrow(new PlacementError('selector kinds=ffn layers=[7] matches no site'));
  });

  it('describeSelector renders every criterion', () => {
    expect(describeSelector({})).toBe('<everything>');
    expect(describeSelector({ names: ['a', 'b'], suffix: true, glob: 'x.*', regex: 'r+', kinds: ['ffn', 'attention'], layers: [0, -1], where: () => true, exclude: { layers: [1] } })).toBe(
      'suffix=["a","b"] glob=x.* regex=r+ kinds=ffn|attention layers=[0, -1] where=<predicate> exclude(layers=[1])',
    );
  });
});

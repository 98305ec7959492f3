// GraphBuilder: shape inference at construction, naming of errors, topological order, immutability.
import { GraphError } from '../errors';
import { buildEncoder } from '../model/encoder';
import { GraphBuilder } from './builder';

/** input x [batch, seq, 8] plus a builder to extend. */
function start(): { b: GraphBuilder; x: string } {
  const b = new GraphBuilder();
  return { b, x: b.input('x', ['batch', 'seq', 8], 'float32') };
}

describe('GraphBuilder', () => {
  it('infers types as nodes are added (dense, layerNorm, activation, reshape)', () => {
    const { b, x } = start();
    const sc = b.scope('m', 'base');
    const h = sc.dense('proj', x, 5);
    expect(b.typeOf(h)).toEqual({ shape: ['batch', 'seq', 5], dtype: 'float32' });
    expect(b.typeOf(sc.layerNorm('ln', h, 1e-5))).toEqual({ shape: ['batch', 'seq', 5], dtype: 'float32' });
    expect(b.typeOf(sc.op('reshape', 'r', [h], { attrs: { shape: ['batch', 'seq', 5, 1] } })).shape).toEqual(['batch', 'seq', 5, 1]);
    expect(b.param('m.proj.weight')).toMatchObject({ shape: [8, 5], kind: 'kernel', owner: 'base' });
  });

  it('an unknown op is a GraphError naming the node and the op', () => {
    const { b, x } = start();
    expect(() => b.add('nope', 'my.node', [x])).toThrow(GraphError);
    expect(() => b.add('nope', 'my.node', [x])).toThrow(/node 'my\.node': unknown op 'nope' \(known ops: .*dense/);
  });

  it('a shape mismatch names the node, both inputs and their shapes', () => {
    const { b, x } = start();
    const y = b.input('y', ['batch', 'seq', 6], 'float32');
    expect(() => b.add('add', 'bad.sum', [x, y])).toThrow(GraphError);
    expect(() => b.add('add', 'bad.sum', [x, y])).toThrow(/node 'bad\.sum': shapes \[batch, seq, 8\] and \[batch, seq, 6\] do not broadcast \(inputs: inputs\.x \[batch, seq, 8\], inputs\.y \[batch, seq, 6\]\)/);
    // Dense: input width vs weight.
    expect(() => b.add('dense', 'd', [y], { params: { weight: { shape: [8, 3], init: { kind: 'zeros' }, kind: 'kernel' } } })).toThrow(/node 'd': input's last dim 6 does not match weight \[8, 3\]/);
    // Symbolic dims only broadcast against themselves.
    const z = b.input('z', ['seq', 'batch', 8], 'float32');
    expect(() => b.add('add', 'sym', [x, z])).toThrow(/do not broadcast/);
  });

  it('rejects wrong arity, missing inputs, duplicate ids, missing or bad parameters', () => {
    const { b, x } = start();
    expect(() => b.add('add', 'a', [x])).toThrow(/node 'a': op 'add' takes 2 inputs, got 1/);
    expect(() => b.add('relu', 'r', ['ghost'])).toThrow(/node 'r': input 'ghost' does not exist/);
    b.add('relu', 'r', [x]);
    expect(() => b.add('relu', 'r', [x])).toThrow(/node 'r' already exists/);
    expect(() => b.add('dense', 'd', [x])).toThrow(/node 'd': op 'dense' needs parameter 'weight'/);
    expect(() => b.add('dense', 'd2', [x], { params: { weight: { shape: [8, 0], init: { kind: 'zeros' }, kind: 'kernel' } } })).toThrow(/parameter 'd2\.weight': shape \[8, 0\] must be positive integers/);
    expect(() => b.add('dense', 'd3', [x], { params: { weight: { ref: 'nowhere' } } })).toThrow(/no parameter 'nowhere'/);
    expect(() => b.input('x', ['batch'], 'int32')).toThrow(/input 'x' is declared twice/);
    expect(() => b.site({ name: 's', kind: 'ffn', entry: x, exit: 'ghost' })).toThrow(/site 's': node 'ghost' does not exist/);
  });

  it('shared parameters: reuse by key, conflicting shapes are an error, tied weights are read by reference', () => {
    const { b, x } = start();
    const key = b.sharedParam('shared.m', { shape: [8, 8], init: { kind: 'identity' }, kind: 'other' });
    expect(b.sharedParam('shared.m', { shape: [8, 8], init: { kind: 'zeros' }, kind: 'other' })).toBe(key);
    expect(() => b.sharedParam('shared.m', { shape: [4, 4], init: { kind: 'zeros' }, kind: 'other' })).toThrow(/exists with shape \[8, 8\], asked for \[4, 4\]/);
    b.add('dense', 'd', [x], { params: { weight: { ref: key } } });
    expect(b.build().node('d').params).toEqual({ weight: 'shared.m' });
  });

  it('a cycle (made by rewiring) is a GraphError naming nodes on it', () => {
    const { b, x } = start();
    const n1 = b.add('relu', 'n1', [x]);
    const n2 = b.add('tanh', 'n2', [n1]);
    b.rewireOnly(x, n2, [n1]); // n1 now reads n2, which reads n1
    expect(() => b.build()).toThrow(GraphError);
    expect(() => b.build()).toThrow(/the graph has a cycle through: n1, n2/);
  });

  it('build() orders nodes topologically even when a rewire makes an early node read a later one', () => {
    const { b, x } = start();
    const late = b.add('relu', 'late', [x]);
    b.add('tanh', 'early', [late]);
    const c = b.add('sigmoid', 'c', [x]);
    b.rewireOnly(x, c, [late]); // 'late' (added first) now reads 'c' (added last)
    const order = b.build().nodes.map((n) => n.id);
    expect(order).toEqual(['inputs.x', 'c', 'late', 'early']);
  });

  it('GraphBuilder.from never changes the source graph', () => {
    const g = buildEncoder({ vocabSize: 10, hiddenSize: 4, numHeads: 1, numLayers: 1, intermediateSize: 4, maxPositions: 8 });
    const fp = g.fingerprint();
    const b = GraphBuilder.from(g);
    const last = g.outputs['last_hidden_state'] as string;
    const extra = b.add('relu', 'extra', [last]);
    b.rewire(last, extra, new Set([extra]));
    b.setMeta('note', 1);
    b.retargetSites(last, extra);
    const g2 = b.build();
    expect(g.fingerprint()).toBe(fp);
    expect(g.has('extra')).toBe(false);
    expect(g2.outputs['last_hidden_state']).toBe('extra');
    expect(g2.equals(g)).toBe(false);
    // Graph parts are frozen copies.
    expect(Object.isFrozen(g.nodes)).toBe(true);
    expect(Object.isFrozen(g.outputs)).toBe(true);
  });

  it('equal constructions give equal fingerprints; any difference (attr, param init, meta) changes it', () => {
    const make = (eps: number, std: number, meta: number) => {
      const b = new GraphBuilder({ m: meta });
      const x = b.input('x', ['batch', 8], 'float32');
      b.scope('s', 'base').dense('d', b.scope('s', 'base').layerNorm('ln', x, eps), 4, { init: { kind: 'normal', std } });
      return b.build();
    };
    expect(make(1e-5, 0.02, 1).fingerprint()).toBe(make(1e-5, 0.02, 1).fingerprint());
    expect(make(1e-6, 0.02, 1).equals(make(1e-5, 0.02, 1))).toBe(false);
    expect(make(1e-5, 0.03, 1).equals(make(1e-5, 0.02, 1))).toBe(false);
    expect(make(1e-5, 0.02, 2).equals(make(1e-5, 0.02, 1))).toBe(false);
  });

  it('spanNodes covers exactly the nodes between a site entry and exit', () => {
    const g = buildEncoder({ vocabSize: 10, hiddenSize: 4, numHeads: 1, numLayers: 1, intermediateSize: 4, maxPositions: 8 });
    expect(g.spanNodes(g.site('layer.0.ffn'))).toEqual(['encoder.layer.0.intermediate.dense', 'encoder.layer.0.intermediate.act', 'encoder.layer.0.output.dense', 'encoder.layer.0.output.dropout']);
    const attn = g.spanNodes(g.site('layer.0.attention'));
    expect(attn).toContain('encoder.layer.0.attention.self.context');
    expect(attn).not.toContain('inputs.attention_mask'); // an input of the span, not inside it
    expect(attn).not.toContain('embeddings.dropout'); // the entry itself
  });
});

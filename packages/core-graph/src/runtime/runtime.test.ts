// An explicit runtime: what a package contributes is visible only in runtimes built from it; graphs remember the
// runtime that rewrote them; the default runtime (compatibility path) stays apart from both.
import * as tf from '@tensorflow/tfjs';
import type { AdapterGraphError} from '../errors';
import { GraphError, PlacementError, PluginDefinitionError } from '../errors';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import { GraphBuilder } from '../graph/builder';
import { buildEncoder } from '../model/encoder';
import { defineOp, input } from '../ops/op-def';
import { opRegistry } from '../ops/registry';
import { defineLowering } from '../passes/lower';
import { applyPlacements } from '../rewrite/apply-placements';
import { compositionRegistry } from '../rewrite/blocks';
import { adapter, block } from '../rewrite/composition';
import { toyAdapter } from '../testing/toy-adapter';
import { createRegistry } from '../plugin/registry';
import type { BlockDef } from '../rewrite/blocks';
import { defineHead } from '../model/head-def';
import { addHead, headsOf } from '../model/heads';
import { ConfigError } from '../errors';
import { createRuntime, defaultRuntime, definePackage, withBlocks, withOps } from './runtime';

const times = (name: string, k: number) => defineOp({ name, arity: 1, pure: true, inferType: (args) => input(args, 0), run: ([x]) => tf.mul(x as tf.Tensor, k) });
const double = times('test.double', 2);
const quadruple = times('test.quadruple', 4);
/** double(double(x)) → quadruple(x): same value, one op. */
const quadLowering = defineLowering({
  name: 'test/quadruple',
  root: 'test.double',
  benefit: 1,
  ops: [quadruple],
  match: (node, ctx) => {
    const inner = node.inputs[0] as string;
    if (!ctx.singleReader(inner) || ctx.node(inner).op !== 'test.double') return undefined;
    return { op: 'test.quadruple', inputs: ctx.node(inner).inputs, attrs: {}, params: {}, absorbed: [inner] };
  },
});
const chain = { ...createRuntime().blocks.get('Stack'), type: 'Chain' };
const pkg = definePackage({ name: 'test-package', adapters: [toyAdapter], ops: [double], blocks: [chain], lowerings: [quadLowering] });

function doubledTwice(builder: GraphBuilder) {
  const x = builder.input('x', ['batch', 3], 'float32');
  const s = builder.scope('t', 'base');
  builder.output('y', s.op('test.double', 'd2', [s.op('test.double', 'd1', [x])]));
  return builder.build();
}

describe('createRuntime', () => {
  it('two runtimes in one process do not see each other’s registrations, nor does the default runtime', () => {
    const a = createRuntime([pkg]);
    const b = createRuntime();
    expect([a.ops.has('test.double'), b.ops.has('test.double'), defaultRuntime.ops.has('test.double')]).toEqual([true, false, false]);
    expect([a.ops.has('test.quadruple'), b.ops.has('test.quadruple')]).toEqual([true, false]);
    expect([a.blocks.has('Chain'), b.blocks.has('Chain'), compositionRegistry.has('Chain')]).toEqual([true, false, false]);
    expect([a.plugins.has('toy'), b.plugins.has('toy')]).toEqual([true, false]);
    expect(a.lowerings.map((l) => l.name)).toEqual(['core/add-layer-norm', 'test/quadruple']);
    expect(a.packages).toEqual(['@adapters/core-graph', 'test-package']);
    // The default runtime's compatibility registrations stay there.
    const legacy = times('test.legacy-only', 3);
    opRegistry.register(legacy);
    expect([defaultRuntime.ops.has('test.legacy-only'), createRuntime([pkg]).ops.has('test.legacy-only')]).toEqual([true, false]);
    expect(() => doubledTwice(new GraphBuilder({}, b))).toThrow(/node 't.d1': unknown op 'test.double'/);
    expect(() => doubledTwice(new GraphBuilder())).toThrow(/unknown op 'test.double'/);
  });

  it('a graph runs with the runtime that built it, lowered by that runtime’s lowerings; another runtime rejects its ops', () => {
    const a = createRuntime([pkg]);
    const g = doubledTwice(new GraphBuilder({}, a));
    expect(g.runtime).toBe(a);
    const store = WeightStore.create(g, 0);
    const ex = new Executor(g, store);
    expect(ex.loweredGraph().nodes.map((n) => n.op)).toEqual(['input', 'test.quadruple']);
    const x = tf.tensor2d([[1, -2, 0.5]]);
    const y = ex.run({ x })['y'] as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([4, -8, 2]);
    // The intermediate asked for: the lowering keeps it, the run computes it.
    const both = ex.run({ x }, { nodes: ['t.d1'] });
    expect(Array.from((both['t.d1'] as tf.Tensor).dataSync())).toEqual([2, -4, 1]);
    expect(() => new Executor(g, store, { runtime: createRuntime() }).run({ x })).toThrow(GraphError);
    tf.dispose([x, y, ...Object.values(both)]);
    store.dispose();
  });

  it('rewrites with a runtime’s blocks and plugins; other runtimes do not know them', () => {
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8 });
    const rule = { adapter: block('Chain', [adapter('toy', 'a', { size: 2 })]), select: { names: 'layer.0.ffn' }, mode: 'after' as const };
    const a = createRuntime([pkg]);
    const { graph } = applyPlacements(base, [rule], a);
    expect(graph.splices.map((s) => s.composition)).toEqual(['Chain(a)']);
    expect(graph.runtime).toBe(a);
    expect(() => applyPlacements(base, [rule], createRuntime())).toThrow(new PlacementError("unknown composition block 'Chain' (install the plugin that provides it)"));
  });

  it('a block carries the ops it emits: in the runtime of its package and in no other; a tree node may carry its block', () => {
    const tripled = times('test.triple', 3);
    // Stack, then x·3 on the result: compose emits an op no core runtime has.
    const triple: BlockDef = {
      type: 'Triple',
      ops: [tripled],
      allowedChildren: ['adapter'],
      compose: (ctx, node, state, child) => {
        const s1 = node.children.reduce((acc, c) => child(c, acc), state);
        return { ...s1, hidden: ctx.blockScope().op('test.triple', 'x3', [s1.hidden]) };
      },
    };
    const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8 });
    const toy = adapter(toyAdapter, 'a', { size: 2 });
    const where = { select: { names: 'layer.0.ffn' }, mode: 'after' as const };
    const withTriple = createRuntime([definePackage({ name: 'triple', blocks: [triple] })]);
    expect([withTriple.ops.has('test.triple'), createRuntime().ops.has('test.triple'), defaultRuntime.ops.has('test.triple')]).toEqual([true, false, false]);
    const byName = applyPlacements(base, [{ adapter: block('Triple', [toy]), ...where }], withTriple).graph;
    expect(byName.nodes.some((n) => n.op === 'test.triple')).toBe(true);
    expect(() => applyPlacements(base, [{ adapter: block('Triple', [toy]), ...where }], createRuntime())).toThrow("unknown composition block 'Triple' (install the plugin that provides it)");
    // Carried by the node: any runtime places it, and the graph's runtime has the block and its op.
    const carried = applyPlacements(base, [{ adapter: block('Triple', [toy], undefined, triple), ...where }], createRuntime()).graph;
    expect(carried.fingerprint()).toBe(byName.fingerprint());
    expect([carried.runtime?.blocks.get('Triple'), carried.runtime?.ops.has('test.triple')]).toEqual([triple, true]);
    const store = WeightStore.create(carried, 0);
    const run = (g: typeof carried) => (new Executor(g, store).run({ input_ids: [[1, 2, 3]], attention_mask: [[1, 1, 1]] })['last_hidden_state'] as tf.Tensor);
    const [x, y] = [run(carried), run(byName)];
    expect(Array.from(x.dataSync())).toEqual(Array.from(y.dataSync()));
    tf.dispose([x, y]);
    store.dispose();
    expect(() => block('Chain', [toy], undefined, triple)).toThrow("block 'Chain' carries the definition of 'Triple'");
    expect(() => applyPlacements(base, [{ adapter: block('Stack', [block('Triple', [toy], undefined, triple), block('Triple', [adapter(toyAdapter, 'b', { size: 2 })], undefined, { ...triple })]), ...where }], createRuntime())).toThrow(
      /two different definitions of block 'Triple'/,
    );
    expect(withBlocks(withTriple, [triple])).toBe(withTriple);
  });

  it('head types come from the runtime: a package’s head (and the op it emits) in its runtime, in no other', () => {
    const tripled = times('test.triple-head', 3);
    // Logits = 3·(the [CLS] row): a head whose build emits a package op.
    const tripleHead = defineHead<{ type: 'triple'; name: string; input?: string }>({
      type: 'triple',
      description: 'test head',
      ops: [tripled],
      build: ({ scope, input }) => scope.op('test.triple-head', 'x3', [scope.op('slice', 'cls', [input], { attrs: { axis: 1, begin: 0, size: 1 } })]),
    });
    const withHead = createRuntime([definePackage({ name: 'heads', heads: [tripleHead] })]);
    expect([withHead.heads.has('triple'), createRuntime().heads.has('triple'), defaultRuntime.heads.has('triple')]).toEqual([true, false, false]);
    expect(withHead.ops.has('test.triple-head')).toBe(true);
    const encoder = { vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8 };
    const base = GraphBuilder.from(buildEncoder(encoder), withHead).build();
    expect(headsOf(base)).toBe(withHead.heads);
    // No registry passed: addHead reads the graph's runtime.
    const headed = addHead(base, { type: 'triple', name: 't' });
    const store = WeightStore.create(headed, 0);
    const out = new Executor(headed, store).run({ input_ids: [[1, 2, 3]], attention_mask: [[1, 1, 1]] }, { outputs: ['t.logits', 'last_hidden_state'] });
    const cls = Array.from((out['last_hidden_state'] as tf.Tensor).dataSync()).slice(0, 8);
    expect(Array.from((out['t.logits'] as tf.Tensor).dataSync())).toEqual(cls.map((v) => Math.fround(v * 3)));
    tf.dispose(Object.values(out));
    store.dispose();
    const plain = buildEncoder(encoder);
    expect(headsOf(plain).has('triple')).toBe(false);
    expect(() => addHead(plain, { type: 'triple', name: 't' })).toThrow(ConfigError);
    expect(() => addHead(plain, { type: 'triple', name: 't' })).toThrow(/unknown head type "triple"/);
  });

  it('withOps adds ops to a runtime (looked up first) and returns the runtime itself when it has them all', () => {
    const base = createRuntime();
    const more = withOps(base, [double]);
    expect([more.ops.has('test.double'), base.ops.has('test.double'), defaultRuntime.ops.has('test.double')]).toEqual([true, false, false]);
    expect(more.ops.get('dense')).toBe(base.ops.get('dense'));
    expect(more.ops.names()).toEqual([...base.ops.names(), 'test.double'].sort());
    expect([more.blocks, more.plugins, more.lowerings]).toEqual([base.blocks, base.plugins, base.lowerings]);
    expect(withOps(more, [double])).toBe(more);
    expect(withOps(base, [])).toBe(base);
    // A graph built with it runs the op; the builder's runtime is what the graph remembers.
    const g = doubledTwice(new GraphBuilder({}, more));
    expect(g.runtime).toBe(more);
  });

  it('a rewrite with a plain registry starts from the graph’s runtime: the ops its nodes need stay', () => {
    const withDouble = withOps(defaultRuntime, [double]);
    const b = GraphBuilder.from(buildEncoder({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8 }), withDouble);
    const s = b.scope('t', 'base');
    b.output('d', s.op('test.double', 'd', [b.getSite('layer.0.ffn').exit]));
    const base = b.build();
    const rule = { adapter: adapter('toy', 'a', { size: 2 }), select: { names: 'layer.0.ffn' }, mode: 'after' as const };
    const { graph } = applyPlacements(base, [rule], createRegistry([toyAdapter]));
    expect(graph.runtime?.ops.has('test.double')).toBe(true);
    expect(graph.runtime?.plugins.has('toy')).toBe(true);
    const store = WeightStore.create(graph, 0);
    const out = new Executor(graph, store).run({ input_ids: [[1, 2, 3]], attention_mask: [[1, 1, 1]] });
    expect((out['d'] as tf.Tensor).shape).toEqual([1, 3, 8]);
    tf.dispose(Object.values(out));
    store.dispose();
  });

  it('rejects conflicting contributions, a package listed twice and a malformed package, naming them', () => {
    const other = definePackage({ name: 'other', ops: [times('test.double', 5)] });
    const err = (() => {
      try {
        createRuntime([pkg, other]);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(PluginDefinitionError);
    expect((err as AdapterGraphError).code).toBe('E_PLUGIN_DEFINITION');
    expect((err as Error).message).toBe("plugin package 'other': op 'test.double' is also contributed by 'test-package'");
    expect(() => createRuntime([pkg, pkg])).toThrow("plugin package 'test-package': is listed twice");
    expect(() => definePackage({ name: 'dup', ops: [double, double] })).toThrow("plugin package 'dup': lists op 'test.double' twice");
    expect(() => definePackage({ name: '' })).toThrow(PluginDefinitionError);
    // The same definition reached twice (a package's op that its plugin also declares) is one contribution.
    expect(createRuntime([definePackage({ name: 'same', ops: [quadruple], lowerings: [quadLowering] })]).ops.has('test.quadruple')).toBe(true);
  });

  it('a lowering that would never stop (replaces its root op by itself) is a PluginDefinitionError', () => {
    const loop = defineLowering({ name: 'test/loop', root: 'test.double', benefit: 1, match: (n) => ({ op: 'test.double', inputs: n.inputs, attrs: {}, params: {}, absorbed: [] }) });
    const rt = createRuntime([definePackage({ name: 'loop', ops: [double], lowerings: [loop] })]);
    const g = doubledTwice(new GraphBuilder({}, rt));
    const store = WeightStore.create(g, 0);
    expect(() => new Executor(g, store).loweredGraph()).toThrow(/lowering 'test\/loop'.*never stop/);
    store.dispose();
  });
});

// Bad input of every kind is rejected with the named error class (GraphError, PlacementError,
// ConfigError) and a message that points at the culprit, never with a crash or a silent wrong result.
import * as tf from '@tensorflow/tfjs';
import { AdapterGraphError, ConfigError, GraphError, PlacementError } from './errors';
import { Executor } from './exec/executor';
import { WeightStore } from './exec/weights';
import { GraphBuilder } from './graph/builder';
import { encoderConfig } from './model/config';
import { buildEncoder } from './model/encoder';
import { createRegistry } from './plugin/registry';
import type { PlacementRule } from './rewrite/apply-placements';
import { applyPlacements } from './rewrite/apply-placements';
import { adapter, Average, BatchSplit, block, Parallel, Stack } from './rewrite/composition';
import { runValues, toyRegistry } from './testing/run-helpers';
import { toyAdapter, toyAdapterWithModes, toyZeroAdapter } from './testing/toy-adapter';

const partial = { vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16, maxPositions: 16 };
const base = buildEncoder(partial);
const registry = toyRegistry();
const apply = (...rules: PlacementRule[]) => applyPlacements(base, rules, registry);
const ffn = (a: PlacementRule['adapter'], mode: PlacementRule['mode'] = 'after'): PlacementRule => ({ adapter: a, select: { kinds: ['ffn'] }, ...(mode ? { mode } : {}) });

/** The error `fn` throws; fails the test if it returns normally. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('graph construction', () => {
  it('unknown op → GraphError naming the node and the op', () => {
    const b = new GraphBuilder();
    const x = b.input('x', ['batch', 4], 'float32');
    const e = thrown(() => b.add('nope', 'layer.x', [x]));
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toMatch(/^node 'layer\.x': unknown op 'nope'/);
  });

  it('shape mismatch → GraphError naming the node and both inputs with their shapes', () => {
    const b = new GraphBuilder();
    const x = b.input('x', ['batch', 4], 'float32');
    const y = b.input('y', ['batch', 3], 'float32');
    const e = thrown(() => b.add('mul', 'prod', [x, y]));
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toContain("node 'prod'");
    expect(e.message).toContain('inputs.x [batch, 4]');
    expect(e.message).toContain('inputs.y [batch, 3]');
  });

  it('a cycle → GraphError naming nodes on it', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [4], 'float32');
    const a = b.add('relu', 'a', [x]);
    b.add('tanh', 'b', [a]);
    b.rewireOnly(x, 'b', [a]);
    expect(thrown(() => b.build())).toEqual(new GraphError('the graph has a cycle through: a, b'));
  });

  it('invalid encoder config → ConfigError with the field path', () => {
    for (const [bad, path] of [
      [{ hiddenSize: 10, numHeads: 4 }, 'config.numHeads'],
      [{ numLayers: 0 }, 'config.numLayers'],
      [{ vocabSize: 2.5 }, 'config.vocabSize'],
      [{ hiddenAct: 'elu' as never }, 'config.hiddenAct'],
      [{ hiddenDropout: 1 }, 'config.hiddenDropout'],
      [{ layerNormEps: 0 }, 'config.layerNormEps'],
    ] as const) {
      const e = thrown(() => encoderConfig(bad));
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).path).toBe(path);
    }
  });
});

describe('placement', () => {
  it('a rule selecting nothing → PlacementError naming the selector', () => {
    const e = thrown(() => apply({ adapter: adapter('toy', 'a'), select: { glob: 'layer.*.mlp' }, mode: 'after' }));
    expect(e).toEqual(new PlacementError('selector glob=layer.*.mlp matches no site'));
  });

  it('an adapter that does not support the mode → PlacementError naming adapter, plugin and modes', () => {
    const reg = createRegistry([toyAdapterWithModes('afteronly', ['after'])]);
    const e = thrown(() => applyPlacements(base, [ffn(adapter('afteronly', 'a'), 'wrap')], reg));
    expect(e).toEqual(new PlacementError("adapter 'a' (afteronly) does not support mode 'wrap' (supports: after)"));
  });

  it('invalid adapter config → ConfigError with the path of the bad field', () => {
    const e = thrown(() => apply(ffn(adapter('toy', 'a', { size: 0 }))));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).path).toBe('a.config.size');
    const wrongType = thrown(() => apply(ffn(Stack(adapter('toy', 'a'), adapter('toy', 'b', { zeroInit: 'yes' })))));
    expect((wrongType as ConfigError).path).toBe('b.config.zeroInit');
  });

  it('unknown config field → ConfigError naming it and the known fields', () => {
    const e = thrown(() => apply(ffn(adapter('toy', 'a', { reduction: 4 }))));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).path).toBe('a.config.reduction');
    expect(e.message).toMatch(/unknown field \(known fields: size, zeroInit\)/);
  });

  it('invalid nesting (Average inside Parallel inside Average) → PlacementError', () => {
    const tree = Average(undefined, adapter('toy', 'a'), Parallel(adapter('toy', 'b'), Average(undefined, adapter('toy', 'c'), adapter('toy', 'd'))));
    const e = thrown(() => apply(ffn(tree)));
    expect(e).toBeInstanceOf(PlacementError);
    expect(e.message).toMatch(/^Parallel cannot be nested in Average \(Average accepts: adapter, Stack, BatchSplit\) in Average\(a, Parallel\(b, Average\(c, d\)\)\)/);
    // Parallel below the top level, other than in Stack, is rejected too.
    expect(thrown(() => apply(ffn(BatchSplit([1, 1], adapter('toy', 'a'), Parallel(adapter('toy', 'b'), adapter('toy', 'c'))))))).toBeInstanceOf(PlacementError);
  });

  it('BatchSplit with wrong sizes → PlacementError; sizes that do not match the batch → GraphError at run time', () => {
    for (const sizes of [[1], [1, 0], [1.5, 1], [1, 1, 1]]) {
      const e = thrown(() => apply(ffn(BatchSplit(sizes, adapter('toy', 'a'), adapter('toy', 'b')))));
      expect(e).toEqual(new PlacementError('BatchSplit needs one positive integer size per child in BatchSplit(a, b)'));
    }
    // Regression: a batch of 3 or of 1 with sizes [1, 1] used to run, returning 2 rows or broadcasting.
    const { graph } = applyPlacements(base, [{ adapter: BatchSplit([1, 1], adapter('toy', 'a'), adapter('toy', 'b')), select: { names: 'encoder.output' }, mode: 'after' }], registry);
    const store = WeightStore.create(graph);
    try {
      for (const ids of [[[1, 2], [3, 4], [5, 6]], [[1, 2]]]) {
        const e = thrown(() => runValues(graph, store, { input_ids: ids }));
        expect(e).toBeInstanceOf(GraphError);
        expect(e.message).toMatch(new RegExp(`\\(slice\\) failed: dim 0 has ${ids.length} entries, but the split sizes sum to 2`));
      }
      expect(runValues(graph, store, { input_ids: [[1, 2], [3, 4]] })['last_hidden_state']).toHaveLength(2 * 2 * 8);
    } finally {
      store.dispose();
    }
  });

  it('the same adapter twice in one composition → PlacementError', () => {
    expect(thrown(() => apply(ffn(Stack(adapter('toy', 'a'), adapter('toy', 'a')))))).toEqual(new PlacementError("adapter 'a' appears twice in Stack(a, a)"));
  });

  it('wrapping the same site twice → PlacementError that suggests a composition', () => {
    const e = thrown(() => apply(ffn(adapter('toy', 'a'), 'wrap'), ffn(adapter('toy', 'b'), 'wrap')));
    expect(e).toBeInstanceOf(PlacementError);
    expect(e.message).toMatch(/^site 'layer\.0\.ffn' is already wrapped by a; combine adapters with a composition block/);
  });

  it('other misuse: wrap without a residual, unknown plugin or block, bad names, conflicting definitions', () => {
    expect(thrown(() => apply({ adapter: adapter('toy', 'a'), select: { names: 'embeddings' }, mode: 'wrap' }))).toEqual(
      new PlacementError("site 'embeddings' has no residual add & norm to wrap; use mode 'after'"),
    );
    expect(thrown(() => apply(ffn(adapter('lora', 'a'))))).toEqual(new PlacementError("unknown adapter plugin 'lora' (installed: toy, toy-zero)"));
    expect(thrown(() => apply(ffn(block('Fuse', [adapter('toy', 'a')]))))).toBeInstanceOf(PlacementError);
    expect(thrown(() => apply(ffn(block('Stack', []))))).toBeInstanceOf(PlacementError);
    expect((thrown(() => apply(ffn(adapter('toy', 'a b')))) as ConfigError).path).toBe('rules[0].adapter.name');
    expect(thrown(() => apply(ffn(adapter('toy', 'a', { size: 2 })), { adapter: adapter('toy', 'a', { size: 3 }), select: { kinds: ['attention'] }, mode: 'after' }))).toEqual(
      new PlacementError("adapter 'a' already exists with a different plugin or config"),
    );
    expect(thrown(() => apply({ adapter: Parallel(adapter('toy', 'a'), adapter('toy', 'b')), select: { names: 'layer.0.ffn' }, mode: 'after' }, { adapter: Parallel(adapter('toy', 'c'), adapter('toy', 'd'), adapter('toy', 'e')), select: { names: 'layer.1.ffn' }, mode: 'after' }))).toBeInstanceOf(PlacementError);
    expect(thrown(() => createRegistry([toyAdapter, { ...toyZeroAdapter, name: 'toy' }]))).toBeInstanceOf(PlacementError);
  });
});

describe('execution', () => {
  // Tensors only after jest.setup.js has initialised the backend.
  let store: WeightStore;
  let ex: Executor;
  beforeAll(() => {
    store = WeightStore.create(base);
    ex = new Executor(base, store);
  });
  afterAll(() => store.dispose());

  it('a missing input → GraphError naming it', () => {
    expect(thrown(() => ex.run({}))).toEqual(new GraphError("missing input 'input_ids'"));
    expect(thrown(() => ex.run({ attention_mask: [[1, 1]] }))).toEqual(new GraphError("missing input 'input_ids'"));
  });

  it('an input of the wrong rank or disagreeing shape → GraphError naming the input and shapes', () => {
    expect(thrown(() => ex.run({ input_ids: [1, 2, 3] }))).toEqual(new GraphError("input 'input_ids': expected rank 2 [batch, seq], got shape [3]"));
    const e = thrown(() => ex.run({ input_ids: [[1, 2, 3]], attention_mask: [[1, 1]] }));
    expect(e).toBeInstanceOf(GraphError);
    expect(e.message).toMatch(/input 'attention_mask': shape \[1, 2\] disagrees with the other inputs' \[batch, seq\] = \[1, 3\]/);
  });

  it('an out-of-range token id → GraphError naming the node and the id, with no leaked tensors', () => {
    const before = tf.memory().numTensors;
    for (const id of [20, -1]) {
      const e = thrown(() => ex.run({ input_ids: [[1, id]] }));
      expect(e).toBeInstanceOf(GraphError);
      expect(e.message).toBe(`node 'embeddings.word_embeddings' (embedding) failed: token id ${id} is outside the embedding table of 20 rows`);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an unknown output name, or a weight missing from the store → GraphError', () => {
    expect(thrown(() => ex.run({ input_ids: [[1]] }, { outputs: ['logits'] })).message).toMatch(/^no output 'logits' \(outputs: last_hidden_state/);
    const adapted = apply(ffn(adapter('toy', 'a'))).graph;
    expect(thrown(() => new Executor(adapted, store))).toEqual(new GraphError("no weight 'layer.0.ffn.adapters.a.down.weight' in the store"));
  });

  it('every error above is an AdapterGraphError (one base class callers can catch)', () => {
    for (const E of [GraphError, PlacementError]) expect(new E('x')).toBeInstanceOf(AdapterGraphError);
    expect(new ConfigError('p', 'x')).toBeInstanceOf(AdapterGraphError);
    expect(new ConfigError('p', 'x').name).toBe('ConfigError');
  });
});

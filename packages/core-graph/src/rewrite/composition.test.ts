// Composition blocks compute what AdapterHub defines: Stack chains, Average weights, BatchSplit routes
// rows, Parallel runs every branch on its own copy of the batch. Checked against single-adapter graphs
// with 'after' at the encoder output, where the expected value is easy to state.
import { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { buildEncoder } from '../model/encoder';
import { maxAbsDiff, runValues, toyRegistry } from '../testing/run-helpers';
import type { AdapterTree } from './composition';
import { applyPlacements } from './apply-placements';
import { adapter, Average, BatchSplit, describeTree, leaves, Parallel, Stack } from './composition';

const registry = toyRegistry();
const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 1, intermediateSize: 16, maxPositions: 16 }, { pooler: false });
const at = (g: Graph, tree: AdapterTree) => applyPlacements(g, [{ adapter: tree, select: { names: 'encoder.output' }, mode: 'after' }], registry).graph;
const a = adapter('toy', 'a', { size: 3 });
const b = adapter('toy', 'b', { size: 2 });
const ids = [
  [1, 2, 3],
  [4, 5, 6],
  [7, 8, 9],
];
const ROW = 3 * 8; // values per batch row

/** Last hidden state of `g` on `rows` of ids, with weights from one shared store (same keys → same values). */
function hidden(store: WeightStore, g: Graph, rows: number[][] = ids): Float32Array {
  return runValues(g, store, { input_ids: rows })['last_hidden_state'] as Float32Array;
}

describe('composition blocks', () => {
  let store: WeightStore;
  beforeAll(() => {
    // One store for every graph: adapter keys do not depend on the composition around them.
    store = WeightStore.create(at(at(base, Stack(a, b)), adapter('toy', 'c')), 2);
  });
  afterAll(() => store.dispose());
  // Float32 noise only (same ops, different batching): 1e-6 absolute on O(1) values.
  const TOL = 1e-6;

  it('describeTree and leaves', () => {
    const tree = Stack(a, Average([0.3, 0.7], b, BatchSplit([1, 2], adapter('toy', 'c'), adapter('toy', 'd'))));
    expect(describeTree(tree)).toBe('Stack(a, Average(b, BatchSplit(c, d)))');
    expect(leaves(tree).map((l) => l.name)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('Stack(a, b) = b(a(h)): same as applying a, then b in a second rule', () => {
    const stacked = hidden(store, at(base, Stack(a, b)));
    const twoRules = hidden(store, at(at(base, a), b));
    expect(maxAbsDiff(stacked, twoRules)).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(stacked, hidden(store, at(at(base, b), a)))).toBeGreaterThan(TOL); // order matters
  });

  it('Average(w, a, b) = w0·a(h) + w1·b(h)', () => {
    const ya = hidden(store, at(base, a));
    const yb = hidden(store, at(base, b));
    const avg = hidden(store, at(base, Average([0.25, 0.75], a, b)));
    expect(maxAbsDiff(avg, ya.map((v, i) => 0.25 * v + 0.75 * (yb[i] as number)))).toBeLessThanOrEqual(TOL);
    const equal = hidden(store, at(base, Average(undefined, a, b)));
    expect(maxAbsDiff(equal, ya.map((v, i) => 0.5 * v + 0.5 * (yb[i] as number)))).toBeLessThanOrEqual(TOL);
  });

  it('BatchSplit([1, 2], a, b): row 0 goes through a, rows 1..2 through b', () => {
    const split = hidden(store, at(base, BatchSplit([1, 2], a, b)));
    const ya = hidden(store, at(base, a));
    const yb = hidden(store, at(base, b));
    expect(maxAbsDiff(split.subarray(0, ROW), ya.subarray(0, ROW))).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(split.subarray(ROW), yb.subarray(ROW))).toBeLessThanOrEqual(TOL);
  });

  it('Parallel(a, b): the batch is repeated, copy i goes through branch i', () => {
    const par = hidden(store, at(base, Parallel(a, b)));
    expect(par).toHaveLength(2 * 3 * ROW);
    expect(maxAbsDiff(par.subarray(0, 3 * ROW), hidden(store, at(base, a)))).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(par.subarray(3 * ROW), hidden(store, at(base, b)))).toBeLessThanOrEqual(TOL);
  });
});

describe('Parallel in wrap mode with lazy replication (AdapterDrop multi-task inference)', () => {
  // Two layers, adapters wrapping every FFN; Parallel(a, b) stacks the two tasks' copies along the batch.
  const deep = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16, maxPositions: 16 }, { pooler: false });
  const wrap = (tree: AdapterTree) => applyPlacements(deep, [{ adapter: tree, select: { kinds: ['ffn'] }, mode: 'wrap' }], registry).graph;
  const parallel = wrap(Parallel(a, b));
  let store: WeightStore;
  beforeAll(() => {
    store = WeightStore.create(parallel, 4);
  });
  afterAll(() => store.dispose());

  it.each([0, 1])('with skipLayers %i: rows of copy i equal the model with only adapter i', (skip) => {
    const rows = ids.slice(0, 2);
    const out = runValues(parallel, store, { input_ids: rows }, { skipLayers: skip })['last_hidden_state'] as Float32Array;
    const single = (leaf: typeof a) => runValues(wrap(leaf), store, { input_ids: rows }, { skipLayers: skip })['last_hidden_state'] as Float32Array;
    const half = out.length / 2;
    expect(out.length).toBe(2 * 2 * ROW);
    expect(maxAbsDiff(out.slice(0, half), single(a))).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(out.slice(half), single(b))).toBeLessThanOrEqual(1e-6);
  });
});

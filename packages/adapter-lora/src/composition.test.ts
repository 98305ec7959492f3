// LoRA and (IA)³ in AdapterHub's composition blocks (LoRALinear supports Stack, Parallel, BatchSplit, Average):
// each branch of Parallel / BatchSplit computes what that adapter alone computes on its rows.
import { adapter, applyPlacements, Average, BatchSplit, createRegistry, Parallel, PlacementError } from '@adapters/core-graph';
import { storeWithReferenceBase, toyAdapter } from '@adapters/core-graph/testing';
import { adapted, FEEDS, maxRelErr, randomizeAdapter, run, tinyBase } from './__tests__/helpers';
import { LORA_DEFAULTS } from './config';
import { lora, loraParamCount } from './plugin';

const ROWS = 2 * 6 * 12;
const all = { kinds: ['linear'], names: ['attention.self.query', 'attention.self.value', 'intermediate.dense'], suffix: true };
const TOL = 1e-6; // the same float32 ops on the same rows: only the batch layout differs

describe.each([
  ['LoRA', 'parallel', { r: 2, alpha: 4, intermediate_lora: true }],
  ['(IA)³', 'after', { config: 'ia3' }],
] as const)('%s in composition blocks', (_n, mode, config) => {
  const single = (name: string) => adapted(tinyBase(), [{ adapter: adapter('lora', name, config), select: all, mode }]);
  const setup = (tree: Parameters<typeof adapted>[1][number]['adapter']) => {
    const graph = adapted(tinyBase(), [{ adapter: tree, select: all, mode }]);
    const { store } = storeWithReferenceBase(graph, 4);
    randomizeAdapter(graph, store, 'a', 1);
    randomizeAdapter(graph, store, 'b', 2);
    return { graph, store };
  };

  test('Parallel(a, b) above a lower Parallel: copy i runs adapter i; at the first layer it is refused', () => {
    const lower = { adapter: Parallel(adapter(toyAdapter, 'ta'), adapter(toyAdapter, 'tb')), select: { names: 'layer.0.output' }, mode: 'after' as const };
    const upper = { kinds: ['linear'], names: ['layer.1.attention.self.query', 'layer.1.attention.self.value', 'layer.1.intermediate.dense'] };
    const reg = createRegistry([lora, toyAdapter]);
    const graph = applyPlacements(tinyBase(), [lower, { adapter: Parallel(adapter('lora', 'a', config), adapter('lora', 'b', config)), select: upper, mode }], reg).graph;
    const { store } = storeWithReferenceBase(graph, 4);
    for (const [n, seed] of [['a', 1], ['b', 2], ['ta', 3], ['tb', 5]] as const) randomizeAdapter(graph, store, n, seed);
    const alone = (toy: string, name: string) =>
      applyPlacements(tinyBase(), [{ ...lower, adapter: adapter(toyAdapter, toy) }, { adapter: adapter('lora', name, config), select: upper, mode }], reg).graph;
    const out = run(graph, store);
    expect(out.length).toBe(2 * ROWS);
    expect(maxRelErr(out.subarray(0, ROWS), run(alone('ta', 'a'), store))).toBeLessThan(TOL);
    expect(maxRelErr(out.subarray(ROWS), run(alone('tb', 'b'), store))).toBeLessThan(TOL);
    store.dispose();
    expect(() => adapted(tinyBase(), [{ adapter: Parallel(adapter('lora', 'a', config), adapter('lora', 'b', config)), select: all, mode }])).toThrow(/cannot replicate the batch by itself/);
  });

  test('BatchSplit([1, 1], a, b): row 0 through a, row 1 through b', () => {
    const { graph, store } = setup(BatchSplit([1, 1], adapter('lora', 'a', config), adapter('lora', 'b', config)));
    const out = run(graph, store);
    const half = ROWS / 2;
    expect(maxRelErr(out.subarray(0, half), run(single('a'), store).subarray(0, half))).toBeLessThan(TOL);
    expect(maxRelErr(out.subarray(half), run(single('b'), store).subarray(half))).toBeLessThan(TOL);
    store.dispose();
  });

  test('Average(a, b) is accepted and differs from either adapter alone', () => {
    const { graph, store } = setup(Average(undefined, adapter('lora', 'a', config), adapter('lora', 'b', config)));
    const out = run(graph, store, FEEDS);
    expect(maxRelErr(out, run(single('a'), store))).toBeGreaterThan(1e-4);
    store.dispose();
  });
});

test('a gate inside BatchSplit is refused (it reads the whole batch)', () => {
  expect(() => adapted(tinyBase(), [{ adapter: BatchSplit([1, 1], adapter('lora', 'a', { use_gating: true }), adapter('lora', 'b')), select: all, mode: 'parallel' }])).toThrow(PlacementError);
  expect(() => adapted(tinyBase(), [{ adapter: BatchSplit([1, 1], adapter('lora', 'a', { config: 'ia3', use_gating: true }), adapter('lora', 'b', { config: 'ia3' })), select: all, mode: 'after' }])).toThrow(/use_gating inside Parallel or BatchSplit/);
});

test('the placement report counts loraParamCount(config, in, out) on the non-square FFN layers', () => {
  const config = { r: 3, intermediate_lora: true, output_lora: true, use_gating: true };
  const { report } = applyPlacements(tinyBase(), [{ adapter: adapter('lora', 'a', config) }], createRegistry([lora]));
  const resolved = { ...LORA_DEFAULTS, ...config };
  const inOut: Record<string, [number, number]> = { 'attention.self.query': [12, 12], 'attention.self.value': [12, 12], 'intermediate.dense': [12, 20], 'output.dense': [20, 12] };
  for (const e of report) {
    const role = e.site.replace(/^layer\.\d+\./, '');
    const [i, o] = inOut[role] as [number, number];
    expect([e.site, e.params]).toEqual([e.site, loraParamCount(resolved, i, o)]);
  }
  expect(report.length).toBe(8);
});

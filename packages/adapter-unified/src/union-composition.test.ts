// A union (MAM, UniPELT, hand-made) as a child of Stack / Parallel / BatchSplit, as AdapterHub composes it (each method's
// layer sees the setup restricted to its own modules; core's rewrite/union-tree.ts). Invariants checked against the
// unions placed alone: a Parallel's copies and a BatchSplit's slices equal each child alone, a Stack whose children
// sit at different places equals placing them one by one, a saved run with the composition reloads bit for bit.
// Where a union cannot go, one PlacementError with code E_UNION_COMPOSITION (or the component plugin's own refusal).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { AdapterTree, Graph, PlacementRule } from '@adapters/core-graph';
import { adapter, applyPlacements, Average, BatchSplit, buildEncoder, createRegistry, Executor, loadRun, Parallel, PlacementError, saveRun, Stack, WeightStore } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { configUnion } from './index';

const registry = createRegistry([bottleneck, lora, prefixTuning, configUnion]);
const base = (): Graph => buildEncoder({ vocabSize: 30, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16 });
const FEEDS = { input_ids: [[2, 5, 7, 9, 3], [2, 8, 3, 0, 0]], attention_mask: [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]] };
const BATCH = 2;
const WIDTH = 5 * 16;

/** A union of two bottlenecks at different places: sequential at the attention outputs, parallel beside the FFNs. */
const BN_UNION = { configs: [{ plugin: 'bottleneck', config: { config: 'seq_bn', mh_adapter: true, output_adapter: false, reduction_factor: 4 } }, { plugin: 'bottleneck', config: { config: 'par_bn', reduction_factor: 4 } }] };
const LORA_UNION = { configs: [{ plugin: 'lora', config: { r: 2 } }, { plugin: 'bottleneck', config: { config: 'par_bn', reduction_factor: 4 } }] };

function hidden(graph: Graph, store: WeightStore): Float32Array {
  const out = new Executor(graph, store).run(FEEDS, { outputs: ['last_hidden_state'] });
  const values = Float32Array.from((out['last_hidden_state'] as tf.Tensor).dataSync());
  tf.dispose(Object.values(out));
  return values;
}

/** Every adapter parameter re-drawn N(0, 0.3²) so no component is an identity (zero-initialised up-projections). */
function perturb(graph: Graph, store: WeightStore, seed: number): void {
  [...graph.params.values()].filter((p) => p.owner.startsWith('adapter:')).forEach((p, i) => {
    const v = tf.randomNormal([...p.shape], 0, 0.3, 'float32', seed + i);
    store.assign(p.key, v);
    v.dispose();
  });
}

const place = (tree: AdapterTree, graph: Graph = base()): Graph => applyPlacements(graph, [{ adapter: tree }], registry).graph;
const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const maxAbs = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

describe('a union inside composition blocks', () => {
  test('Parallel(u1, u2): the first batch copy is u1 alone, the second u2 alone (each union: a sequential and a parallel bottleneck)', () => {
    const u1 = adapter('union', 'u1', BN_UNION);
    const u2 = adapter('union', 'u2', BN_UNION);
    const graph = place(Parallel(u1, u2));
    const store = WeightStore.create(graph, 4);
    try {
      perturb(graph, store, 10);
      const both = hidden(graph, store);
      expect(both.length).toBe(2 * BATCH * WIDTH);
      // 1e-6: the same float32 ops on a batch twice as large (BLAS may block the rows differently).
      expect(maxAbs(both.slice(0, BATCH * WIDTH), hidden(place(u1), store))).toBeLessThan(1e-6);
      expect(maxAbs(both.slice(BATCH * WIDTH), hidden(place(u2), store))).toBeLessThan(1e-6);
      expect(maxAbs(both.slice(0, BATCH * WIDTH), both.slice(BATCH * WIDTH))).toBeGreaterThan(1e-2);
    } finally {
      store.dispose();
    }
  });

  test('BatchSplit([1, 1], u1, u2) of LoRA + par_bn unions: example 0 through u1, example 1 through u2', () => {
    const u1 = adapter('union', 'u1', LORA_UNION);
    const u2 = adapter('union', 'u2', LORA_UNION);
    const graph = place(BatchSplit([1, 1], u1, u2));
    const store = WeightStore.create(graph, 5);
    try {
      perturb(graph, store, 20);
      const split = hidden(graph, store);
      expect(maxAbs(split.slice(0, WIDTH), hidden(place(u1), store).slice(0, WIDTH))).toBeLessThan(1e-6);
      expect(maxAbs(split.slice(WIDTH), hidden(place(u2), store).slice(WIDTH))).toBeLessThan(1e-6);
    } finally {
      store.dispose();
    }
  });

  test('Stack(mam, lora): each at its own places, the same graph outputs as placing them one after the other; a saved run reloads it bit for bit', async () => {
    const tree = Stack(adapter('union', 'm', { config: 'mam' }), adapter('lora', 'l', { r: 2 }));
    const { graph, report } = applyPlacements(base(), [{ adapter: tree }], registry);
    // The prefix alone at the self-attentions, MAM's parallel adapter alone beside the FFNs, the LoRA alone at q and v.
    expect([...new Set(report.map((r) => `${r.mode} ${r.composition}`))].sort()).toEqual(['after m', 'parallel l', 'parallel m']);
    const oneByOne = applyPlacements(base(), [{ adapter: adapter('union', 'm', { config: 'mam' }) }, { adapter: adapter('lora', 'l', { r: 2 }) }] as PlacementRule[], registry).graph;
    const store = WeightStore.create(graph, 6);
    const dir = await mkdtemp(join(tmpdir(), 'union-run-'));
    const fresh = WeightStore.create(base(), 6);
    try {
      perturb(graph, store, 30);
      const out = hidden(graph, store);
      expect(same(out, hidden(oneByOne, store))).toBe(true);
      await saveRun(dir, { graph, store, model: 'tiny', adapters: ['m', 'l'], composition: { tree }, heads: [], maxLength: 8, registry });
      const loaded = await loadRun(dir, base(), fresh, { registry });
      expect(loaded.manifest.composition?.tree).toEqual({ block: 'Stack', children: ['m', 'l'] });
      expect(same(hidden(loaded.graph, fresh), out)).toBe(true);
    } finally {
      store.dispose();
      fresh.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof PlacementError ? `${e.code}: ${e.message}` : `other: ${(e as Error).message}`;
    }
    return undefined;
  };

  test.each([
    ['Average (AdapterHub: prefix tuning has no mean)', Average(undefined, adapter('union', 'm', { config: 'mam' }), adapter('lora', 'l')), /^E_UNION_COMPOSITION: adapter 'm' is a union .*not in Average/],
    ['a sequential adapter where MAM has its parallel one', Stack(adapter('union', 'm', { config: 'mam' }), adapter('bottleneck', 'b')), /^E_UNION_COMPOSITION: .*site 'layer\.0\.ffn' would get m \(parallel\) and b \(wrap\) in different modes/],
    ['two unions whose bottlenecks differ in mode at one site', Stack(adapter('union', 'm', { config: 'mam' }), adapter('union', 'p', { config: 'unipelt' })), /^E_UNION_COMPOSITION: .*would get/],
  ])('refused: %s', (_what, tree, message) => {
    expect(code(() => place(tree))).toMatch(message);
  });

  test('refused: a rule with select/mode around a union; a prefix (MAM) inside Parallel is refused by prefix tuning itself', () => {
    const rule = { adapter: Stack(adapter('union', 'm', { config: 'mam' }), adapter('lora', 'l')), select: { kinds: ['ffn'] }, mode: 'parallel' as const };
    expect(code(() => applyPlacements(base(), [rule], registry))).toMatch(/^E_UNION_COMPOSITION: .*give the rule no select or mode/);
    expect(code(() => place(Parallel(adapter('union', 'm', { config: 'mam' }), adapter('union', 'n', { config: 'mam' }))))).toMatch(/^E_PLACEMENT: adapter 'm' \(prefix_tuning\) .*composition blocks .*not supported/);
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { WeightStore } from '@adapters/core-graph';
import { applyFusion, fusionAttention, fusionAttentionTable, fusionCatalog, pruneFusion, topAdapters } from './index';
import { fusionHeatmapSvg, writeFusionReport } from './report';
import { assignValues, baseGraph, bitEqual, randomValues, registry, run, seqBn, toyExamples } from './__tests__/helpers';

function setup() {
  const base = baseGraph();
  const spec = { name: 'f', adapters: ['a', 'b', 'c'].map((n) => seqBn(n)) };
  const graph = applyFusion(base, spec, registry).graph;
  const store = WeightStore.create(graph, 6);
  for (const p of graph.params.values()) if (p.owner === 'fusion:f' && !p.key.endsWith('value.weight')) assignValues(store, p.key, randomValues(store.get(p.key).size, p.key.length, 3));
  return { base, spec, graph, store };
}

describe('fusion introspection and pruning', () => {
  test('mean attention per layer sums to one; table and heat map', async () => {
    const { graph, store } = setup();
    const before = tf.memory().numTensors;
    const a = fusionAttention(graph, store, 'f', toyExamples(10, 1), { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.adapters).toEqual(['a', 'b', 'c']);
    expect(a.layers.map((l) => l.layer)).toEqual([0, 1]);
    expect(a.tokens).toBe(toyExamples(10, 1).reduce((n, e) => n + e.inputIds.length, 0));
    for (const l of a.layers) expect(Math.abs(l.mean.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-5);
    const table = fusionAttentionTable(a);
    expect(table.split('\n')[0]).toBe('| layer | a | b | c |');
    expect(table.split('\n')).toHaveLength(5);
    const svg = await fusionHeatmapSvg(a);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('layer');
    const dir = await mkdtemp(join(tmpdir(), 'fusion-report-'));
    try {
      const files = await writeFusionReport(a, dir);
      expect((await readFile(files.png)).subarray(1, 4).toString()).toBe('PNG');
      expect(await readFile(files.table, 'utf8')).toBe(table);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    store.dispose();
  });

  test('top-k keeps the most attended adapters in their order; dropFirst removes the lowest fusion layers', () => {
    expect(topAdapters(['a', 'b', 'c'], [0.2, 0.5, 0.3], 2)).toEqual(['b', 'c']);
    expect(topAdapters(['a', 'b', 'c'], [0.4, 0.2, 0.4], 1)).toEqual(['a']);
    const { base, spec, graph, store } = setup();
    const a = fusionAttention(graph, store, 'f', toyExamples(6, 2));
    const pruned = pruneFusion(spec, a, { topK: 1, dropFirst: 1 });
    const top = topAdapters(['a', 'b', 'c'], a.layers[1]?.mean ?? [], 1);
    expect(pruned.layers).toEqual({ 'layer.1.ffn': top });
    const small = applyFusion(base, pruned, registry).graph;
    const record = fusionCatalog(small)['f'];
    expect(Object.keys(record?.sites ?? {})).toEqual(['layer.1.ffn']);
    expect(small.splices.map((s) => `${s.site}:${s.composition}`)).toEqual([`layer.1.ffn:Fuse(${top[0]})`]);
    // Same keys for the kept fusion weights: the pruned graph runs on the trained store as is.
    for (const key of Object.values(record?.sites['layer.1.ffn']?.params ?? {})) expect(graph.params.has(key)).toBe(true);
    expect(Array.from(run(small, store)['tgt.logits'] as Float32Array).every(Number.isFinite)).toBe(true);
    // Keeping everything is the unpruned model, bit for bit.
    const full = applyFusion(base, pruneFusion(spec, a, { topK: 3 }), registry).graph;
    expect(bitEqual(run(full, store)['tgt.logits'] as Float32Array, run(graph, store)['tgt.logits'] as Float32Array)).toBe(true);
    expect(() => pruneFusion(spec, a, { dropFirst: 2 })).toThrow(/drops every fusion layer/);
    store.dispose();
  });
});

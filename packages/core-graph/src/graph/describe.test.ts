// describeGraph / toString is what `inspect` prints: it must list sites, splices and a parameter table
// whose numbers are parameterSummary's.
import { adapterPolicy } from '../exec/policy';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter, Stack } from '../rewrite/composition';
import { toyRegistry } from '../testing/run-helpers';
import { describeGraph, parameterSummary } from './describe';

const base = addHead(buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 2, intermediateSize: 16, maxPositions: 16 }), { type: 'classification', name: 'cls', numLabels: 3 });
const { graph } = applyPlacements(
  base,
  [
    { adapter: Stack(adapter('toy', 'lang', { size: 2 }), adapter('toy', 'task', { size: 3 })), select: { kinds: ['ffn'] }, mode: 'wrap' },
    { adapter: adapter('toy', 'extra'), select: { names: 'layer.1.attention' }, mode: 'parallel' },
  ],
  toyRegistry(),
);

/** Parses the `parameters:` table into owner → [params, trainable, percent]. */
function parameterTable(text: string): Map<string, [number, number, number]> {
  const lines = text.split('\n');
  const start = lines.indexOf('parameters:');
  expect(start).toBeGreaterThan(0);
  const rows = new Map<string, [number, number, number]>();
  for (const line of lines.slice(start + 2)) {
    const m = /^ {2}(\S+)\s+(\d+)\s+(\d+)\s+([\d.]+)$/.exec(line);
    if (m) rows.set(m[1] as string, [Number(m[2]), Number(m[3]), Number(m[4])]);
  }
  return rows;
}

describe('describeGraph / Graph.toString', () => {
  const text = graph.toString();

  it('lists every site with its kind, layer and span', () => {
    for (const s of graph.sites.values()) expect(text).toContain(`  ${s.name} [${s.kind}${s.layer === undefined ? '' : `, layer ${s.layer}`}]: ${s.entry} → ${s.exit}`);
    expect(text).toContain('layer.0.ffn [ffn, layer 0]');
  });

  it('lists every splice with its mode and composition', () => {
    expect(text).toContain('adapters:');
    expect(text).toContain('  layer.0.ffn: wrap Stack(lang, task)');
    expect(text).toContain('  layer.1.ffn: wrap Stack(lang, task)');
    expect(text).toContain('  layer.1.attention: parallel extra');
    expect(describeGraph(base)).not.toContain('adapters:');
  });

  it('prints a parameter table whose numbers equal parameterSummary', () => {
    for (const trainable of [undefined, adapterPolicy]) {
      const summary = parameterSummary(graph, trainable);
      const table = parameterTable(describeGraph(graph, trainable ? { trainable } : {}));
      expect(new Set(table.keys())).toEqual(new Set([...summary.owners.map((o) => o.owner), 'total']));
      for (const o of summary.owners) expect(table.get(o.owner)).toEqual([o.params, o.trainable, Number(o.percentOfBase.toFixed(3))]);
      expect(table.get('total')).toEqual([summary.total, summary.trainable, Number(summary.trainablePercentOfBase.toFixed(3))]);
    }
  });

  it('parameterSummary counts match the parameter shapes and the placement report', () => {
    const summary = parameterSummary(graph);
    const count = (owner: string) => [...graph.params.values()].filter((p) => p.owner === owner).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    // Toy adapter: down [8, k] + k, up [k, 8] + 8, at two ffn sites.
    expect(count('adapter:lang')).toBe(2 * (8 * 2 + 2 + 2 * 8 + 8));
    expect(summary.owners.find((o) => o.owner === 'adapter:lang')?.params).toBe(count('adapter:lang'));
    expect(summary.owners.find((o) => o.owner === 'adapter:extra')?.params).toBe(8 * 4 + 4 + 4 * 8 + 8);
    expect(summary.base).toBe(count('base'));
    expect(summary.total).toBe([...graph.params.values()].reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
    // Default trainable = everything but the base.
    expect(summary.trainable).toBe(summary.total - summary.base);
    expect(summary.trainablePercentOfBase).toBeCloseTo((100 * summary.trainable) / summary.base, 10);
  });

  it('prints nodes with their ops and types unless nodes: false', () => {
    expect(text).toContain('%layer.0.ffn.splice.switch = switch(');
    expect(text).toMatch(/%embeddings\.word_embeddings = embedding\(%inputs\.input_ids\) params\(weight=\[20, 8\]\) : \[batch, seq, 8\] float32/);
    expect(describeGraph(graph, { nodes: false })).not.toContain('nodes:');
    expect(text.split('\n')[0]).toBe(`graph (${graph.nodes.length} nodes, ${graph.params.size} parameters, ${graph.sites.size} sites)`);
  });
});

// No import-time registration: the encoder-decoder ops travel in the runtime of the graphs seq2seqBuilder builds
// (kept when a plain adapter registry rewrites them) and in `nmtPackage`, never in the default runtime.
import { adapter, applyPlacements, createRegistry, createRuntime, opRegistry } from '@adapters/core-graph';
import { bottleneckPackage, plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import { buildSeq2Seq, NMT_OPS, nmtPackage, seq2seqBuilder } from './index';

const names = NMT_OPS.map((op) => op.name);
const TINY = {} as const; // the default config is a tiny Marian

describe('nmtPackage', () => {
  it('importing the package registers nothing in the default runtime', () => {
    expect(names).toEqual(['seq2seqAttention', 'stepPositions', 'sinusoidalPositions']);
    for (const name of names) expect(opRegistry.has(name)).toBe(false);
  });

  it('a built graph carries the ops, and keeps them through a rewrite with a plain registry', () => {
    const graph = buildSeq2Seq(TINY);
    for (const name of names) expect(graph.runtime?.ops.has(name)).toBe(true);
    const placed = applyPlacements(graph, [{ adapter: adapter('bottleneck', 'a', { config: 'seq_bn' }) }], createRegistry(bottleneckPlugins)).graph;
    for (const name of names) expect(placed.runtime?.ops.has(name)).toBe(true);
    expect(placed.runtime?.plugins.has('bottleneck')).toBe(true);
  });

  it('a runtime from nmtPackage has the ops; a builder given a runtime builds on it', () => {
    const runtime = createRuntime([nmtPackage, bottleneckPackage]);
    for (const name of names) expect(runtime.ops.has(name)).toBe(true);
    const graph = seq2seqBuilder(TINY, runtime).build();
    expect(graph.runtime).toBe(runtime);
    const placed = applyPlacements(graph, [{ adapter: adapter('bottleneck', 'a', { config: 'seq_bn' }) }], runtime).graph;
    expect(placed.splices.length).toBeGreaterThan(0);
  });
});

import { applyPlacements, buildEncoder, addHead, createRegistry, Executor, WeightStore, adapter, selectBackend } from '@adapters/core-graph';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';

async function main(): Promise<void> {
  // wasm (with @adapters/backend-native's kernels when built), or what ADAPTERS_BACKEND names.
  await selectBackend({ log: console.log });

  const base = addHead(buildEncoder({ hiddenSize: 384, numLayers: 6, numHeads: 12, intermediateSize: 1536 }),
    { type: 'classification', name: 'sst2', numLabels: 2 });
  const registry = createRegistry(bottleneckPlugins);

  // Default placement of the preset (seq_bn: after the FFN, wrapping its add & norm) ...
  const { graph, report } = applyPlacements(base, [{ adapter: adapter('bottleneck', 'sst2', { config: 'seq_bn' }) }], registry);
  console.log(`${report.length} splices`);
  // ... or your own rule: adapters only in the top half of the layers, after the FFN.
  const custom = applyPlacements(base, [{
    adapter: adapter('bottleneck', 'top', { config: 'seq_bn' }),
    select: { kinds: ['ffn'], where: (site, numLayers) => (site.layer ?? 0) >= numLayers / 2 },
    mode: 'wrap',
  }], registry);
  console.log(`custom placement: ${custom.report.length} splices`);

  const store = WeightStore.create(graph, /* seed */ 0);
  const out = new Executor(graph, store).run({ input_ids: [[101, 2023, 102]] });
  for (const [name, t] of Object.entries(out)) console.log(name, t.shape);
  console.log(graph.toString().split('\n').slice(-12).join('\n')); // the end of the IR: parameter table (% of base)
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// The Fuse block through adapter-tester's runBlockSuite: shapes, determinism, what trains (fusion:NAME and the fused
// adapters; the temperature, owned by state:fusion:NAME, never), child validation, saveFusion → loadFusion.
import type { AdapterTree, AdapterUse } from '@adapters/core-graph';
import { adapter, block, createRuntime, Stack } from '@adapters/core-graph';
import { bottleneck, bottleneckPackage } from '@adapters/adapter-bottleneck';
import { runBlockSuite } from '@adapters/adapter-tester';
import type { FusionConfigInput } from '../index';
import { fuse, fuseBlock, fusionPackage, fusionStateOwner, loadFusion, saveFusion } from '../index';
import { registry } from './helpers';

const nameOf = (tree: AdapterTree): string => (tree.kind === 'block' ? String(tree.options?.['name']) : tree.name);
const fused = (config: FusionConfigInput) => (children: readonly AdapterUse[]) => fuse(children, { name: 'f', config });

runBlockSuite({
  block: fuseBlock,
  // The block comes from the package descriptor: nothing registers Fuse process-wide.
  runtime: createRuntime([bottleneckPackage, fusionPackage]),
  child: (name) => adapter(bottleneck, name, { config: 'seq_bn', reduction_factor: 2 }),
  numRuns: 2,
  seed: 11,
  cases: [
    { name: 'dynamic, two adapters', children: 2, tree: fused('dynamic') },
    { name: 'static, three adapters', children: 3, tree: fused('static') },
    { name: 'dynamic with temperature', children: 2, tree: fused({ config: 'dynamic', temperature: true }) },
    { name: 'a Stack child', children: 3, tree: ([a, b, c]) => fuse([Stack(a!, b!), c!], { name: 'f' }) },
  ],
  invalid: [
    // Built with block(), not fuse(): fuse() checks these itself; the block must too (trees come from JSON and CLIs).
    { name: 'a name with a space', children: 2, tree: (c) => block('Fuse', c, { name: 'a b' }), message: /may use only letters/ },
    { name: 'an unknown preset', children: 2, tree: (c) => block('Fuse', c, { name: 'f', config: 'warm' }), message: /config/ },
  ],
  owners: (tree) => [`fusion:${nameOf(tree)}`],
  stateOwners: (tree) => [fusionStateOwner(nameOf(tree))],
  files: {
    save: (dir, graph, store, tree) => saveFusion(dir, graph, store, nameOf(tree)),
    load: async (dir, base, store, _tree, saved) => (await loadFusion(dir, base, store, registry, { graphs: [saved] })).graph,
  },
});

// adapter-fusion as a package descriptor: importing it registers nothing process-wide; `fusionPackage` gives a runtime
// the Fuse block and the fusion ops; a runtime without it rejects a Fuse tree by name, and `fuse()` trees carry the block.
import { adapter, block, buildEncoder, compositionRegistry, createRuntime, defaultRuntime, applyPlacements, Executor, WeightStore } from '@adapters/core-graph';
import type { Graph } from '@adapters/core-graph';
import { bottleneck, bottleneckPackage } from '@adapters/adapter-bottleneck';
import { FUSION_OPS, fuse, fuseBlock, fusionCatalog, fusionPackage } from './index';

const base = (): Graph => buildEncoder({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 16 });
const children = [adapter(bottleneck, 'a', { config: 'seq_bn', reduction_factor: 4 }), adapter(bottleneck, 'b', { config: 'seq_bn', reduction_factor: 4 })];

describe('fusionPackage', () => {
  it('importing the package registers neither the block nor its ops in the default runtime', () => {
    expect(compositionRegistry.has('Fuse')).toBe(false);
    expect(FUSION_OPS.map((o) => defaultRuntime.ops.has(o.name))).toEqual(FUSION_OPS.map(() => false));
  });

  it('a runtime built with it places and runs Fuse by name; one built without it does not know Fuse', () => {
    const withFusion = createRuntime([bottleneckPackage, fusionPackage]);
    expect(withFusion.blocks.get('Fuse')).toBe(fuseBlock);
    expect(FUSION_OPS.every((o) => withFusion.ops.get(o.name) === o)).toBe(true);
    const tree = block('Fuse', children, { name: 'f' });
    const { graph } = applyPlacements(base(), [{ adapter: tree }], withFusion);
    expect(Object.keys(fusionCatalog(graph))).toEqual(['f']);
    const store = WeightStore.create(graph, 3);
    const out = new Executor(graph, store).run({ input_ids: [[2, 7, 11]], attention_mask: [[1, 1, 1]] });
    expect(out['last_hidden_state']?.shape).toEqual([1, 3, 16]);
    Object.values(out).forEach((t) => t.dispose());
    store.dispose();
    expect(() => applyPlacements(base(), [{ adapter: tree }], createRuntime([bottleneckPackage]))).toThrow("unknown composition block 'Fuse'");
  });

  it('fuse() trees carry the block, so a runtime without the package places them the same', () => {
    const carried = applyPlacements(base(), [{ adapter: fuse(children, { name: 'f' }) }], createRuntime([bottleneckPackage])).graph;
    const byName = applyPlacements(base(), [{ adapter: block('Fuse', children, fuse(children, { name: 'f' }).options) }], createRuntime([bottleneckPackage, fusionPackage])).graph;
    expect(carried.fingerprint()).toBe(byName.fingerprint());
    expect(carried.runtime?.ops.has('fusionMix')).toBe(true);
  });
});

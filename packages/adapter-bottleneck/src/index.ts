// The public API of @adapters/adapter-bottleneck.
import type { AdapterPlugin, PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import type { BottleneckConfig } from './config';
export {
  BOTTLENECK_PLUGIN_SCHEMA, BOTTLENECK_PRESETS, BOTTLENECK_SCHEMA, DEFAULT_PRESET, INIT_WEIGHTS, NON_LINEARITIES, PRESET_ALIASES, PRESET_NAMES,
  bottleneckConfig, bottleneckParamCount, bottleneckSize, isLeftOut, pyFloorDiv, reductionFactorAt, resolveBottleneck, validateBottleneck,
} from './config';
export type { BottleneckConfig, BottleneckPresetName, InitWeights, NonLinearity, ReductionFactor } from './config';
export { ADAPTER_LN_EPS, bottleneck, bottleneckDefaultPlacement, bottleneckRule, createBottleneckPlugin, denseProjection, initsOf } from './plugin';
export { bottleneckFromHubConfig, bottleneckHubKeys, bottleneckToHubConfig } from './hub';
import { bottleneck } from './plugin';
/** Every adapter package exports its plugins, so tools and the CLI can discover them. */
export const plugins: AdapterPlugin<BottleneckConfig>[] = [bottleneck];
import { bottleneckAdapterOp, bottleneckLowering } from './fused';
export { BOTTLENECK_ADAPTER_OP, bottleneckAdapterOp, bottleneckLowering } from './fused';
/**
 * This package for `createRuntime([...])`: the bottleneck plugin, the fused `bottleneckAdapter` op and its
 * inference lowering (seq_bn / double_seq_bn as one AdaptersBottleneck kernel in `Executor.run()`). The plugin
 * declares the lowering itself, so a graph rewritten with it (even through a plain `createRegistry`) carries it.
 */
export const bottleneckPackage: PackageDescriptor = definePackage({
  name: '@adapters/adapter-bottleneck',
  adapters: plugins,
  ops: [bottleneckAdapterOp],
  lowerings: [bottleneckLowering],
});
export type { BottleneckLike, BottleneckPlacement, BottleneckPluginOptions, Projection, ProjectionContext } from './plugin';
export { adapterDropSchedule, computeFrozenPrefix, disposeConstants, frozenBoundary, frozenPrefixConstants } from './adapter-drop';
export type { AdapterDropMode, AdapterDropSchedule, AdapterDropScheduleOptions } from './adapter-drop';
export { pruneAdapterLayers, pruneAdapterLayersDetailed } from './prune';
export type { PruneResult } from './prune';

// The public API of @adapters/adapter-fusion. Importing it registers nothing: `fusionPackage` gives a runtime the
// `Fuse` block (with the fusion ops), and `fuse()` / `Fuse()` trees carry the block themselves.
import type { PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import { fuseBlock } from './plugin';
export { DEFAULT_FUSION_PRESET, FUSION_FIELDS, FUSION_PRESETS, fusionParamCount, resolveFusionConfig, TEMPERATURE_END, TEMPERATURE_START, TEMPERATURE_STEP, toHubFusionConfig } from './config';
export type { FusionConfig, FusionConfigInput, FusionPresetName } from './config';
export { FUSION_OPS, fusionExpandOp, fusionMixOp, fusionProbsOp, fusionStackOp, registerFusionOps } from './ops';
export { fusionTemperature, setFusionTemperature } from './temperature';
export { checkFusionName, defaultFusionName, Fuse, fuse, fuseBlock, fusionCatalog, FUSIONS_META, fusionStateOwner, fusionTemperatureKey, registerFusion } from './plugin';
export type { FuseOptions, FusionCatalog, FusionRecord, FusionSiteRecord } from './plugin';
export { adapterUses, applyFusion, fusionNameOf, fusionRules, sharedPlacement } from './model';
export type { FusionSpec } from './model';
// Training recipes (stage 1, stage 2): the `@adapters/adapter-fusion/recipes` entry.
export { fusionAttention, fusionAttentionTable, fusionHeatmapSpec } from './introspect';
export type { FusionAttention, FusionLayerAttention, VegaLiteSpec } from './introspect';
export { pruneFusion, topAdapters } from './prune';
export type { FusionPruneOptions } from './prune';
export { FUSION_CONFIG_FILE, FUSION_WEIGHTS_FILE, fusionCheckpointKeys, loadFusion, saveFusion } from './hub';
export { runExtras } from './run-extras';
export type { LoadFusionOptions } from './hub';

/** This package for `createRuntime([...])`: the `Fuse` composition block and the fusion ops it emits. */
export const fusionPackage: PackageDescriptor = definePackage({ name: '@adapters/adapter-fusion', blocks: [fuseBlock] });

// The public API of @adapters/adapter-compacter.
import type { AdapterPlugin, PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import type { CompacterConfig } from './config';
export {
  checkPhmDivisible, COMPACTER_PRESET_NAMES, COMPACTER_PRESETS, COMPACTER_SCHEMA, compacterConfig, compacterParamCount, compacterParamCounts, compacterSharedParamCount,
  compacterSizes, compacterTotalParamCount, DEFAULT_COMPACTER_PRESET, HYPERCOMPLEX_INITS, PHM_STRATEGIES, phmLayerParamCount, resolveCompacter, validateCompacter,
} from './config';
export type { CompacterConfig, CompacterPresetName, HypercomplexInit, PhmStrategy } from './config';
export { kroneckerSum, PHM_OP, phmForward, phmOp, registerPhmOp } from './phm-op';
export type { PhmShapes } from './phm-op';
export {
  compacter, compacterCheckpointKeys, compacterPolicy, compacterRule, phmProjection, sharedKey, sharedParamKeys, sharedPrefix,
} from './plugin';
export { compacterFromHubConfig, compacterToHubConfig } from './hub';
import { compacter } from './plugin';
import { phmOp } from './phm-op';
/** Every adapter package exports its plugins, so tools and the CLI can discover them. */
export const plugins: AdapterPlugin<CompacterConfig>[] = [compacter];
/** This package for `createRuntime([...])`: the `compacter` plugin and its PHM op. */
export const compacterPackage: PackageDescriptor = definePackage({ name: '@adapters/adapter-compacter', adapters: plugins, ops: [phmOp] });

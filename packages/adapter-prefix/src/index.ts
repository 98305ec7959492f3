// The public API of @adapters/adapter-prefix.
export { PREFIX_DEFAULTS, PREFIX_SCHEMA, prefixLayers, validatePrefix } from './config';
export type { PrefixActivation, PrefixTuningConfig } from './config';
export { PREFIX_SITE_KIND, poolOutput, poolScope, prefixDefaultPlacement, prefixGates, prefixCheckpointKeys, prefixHubKeys, prefixParamCount, prefixTuning, plugins } from './plugin';
export { PREFIX_TABLE_OP, prefixTableOp, registerPrefixOps } from './ops';
import type { PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import { plugins } from './plugin';
import { prefixTableOp } from './ops';
/** This package for `createRuntime([...])`: the `prefix_tuning` plugin and its prefix-table op (its gate pooling is core's `seqMean`). */
export const prefixPackage: PackageDescriptor = definePackage({ name: '@adapters/adapter-prefix', adapters: plugins, ops: [prefixTableOp] });
export { ejectPrefix } from './eject';
export { prefixFromHubConfig, prefixToHubConfig } from './hub';

// The public API of @adapters/adapter-prefix.
export { PREFIX_DEFAULTS, PREFIX_SCHEMA, prefixLayers, validatePrefix } from './config';
export type { PrefixActivation, PrefixTuningConfig } from './config';
export { PREFIX_SITE_KIND, poolOutput, poolScope, prefixDefaultPlacement, prefixGates, prefixCheckpointKeys, prefixHubKeys, prefixParamCount, prefixTuning, plugins } from './plugin';
export { PREFIX_GATE_MEAN_OP, PREFIX_TABLE_OP, registerPrefixOps } from './ops';
export { ejectPrefix } from './eject';
export { prefixFromHubConfig, prefixToHubConfig } from './hub';

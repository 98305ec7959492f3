// The public API of @adapters/adapter-lora.
export { LORA_DEFAULTS, LORA_PRESET_NAMES, LORA_PRESETS, LORA_SCHEMA, loraScaling, resolveLora, validateLora } from './config';
export type { AttnMatrix, CompositionMode, LoraConfig, LoraInit, LoraPresetName } from './config';
export { GATING_HEADS, ia3Init, lora, loraDefaultPlacement, loraInits, loraParamCount, modeOf, plugins } from './plugin';
export { loraFromHubConfig, loraHubKeys, loraToHubConfig } from './hub';
export { hubRoles, isTarget, matchesTarget, roleOf } from './targets';
export type { LinearRole } from './targets';
import type { PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import { plugins } from './plugin';
/** This package for `createRuntime([...])`: the `lora` plugin (its gate pooling is core's `seqMean`). */
export const loraPackage: PackageDescriptor = definePackage({ name: '@adapters/adapter-lora', adapters: plugins });
export { mergeLora, unmergeLora } from './merge';
export type { MergedLayer, MergeResult } from './merge';
export { isPeftDir, loadPeftLora, loraFromPeftConfig, loraToPeftConfig, PEFT_CONFIG_FILE, PEFT_KEY_PREFIX, PEFT_WEIGHTS_FILE, savePeftLora } from './peft';

// The public API of @adapters/adapter-madx: MAD-X (Pfeiffer et al. 2020) on @adapters/core-graph.
import type { AdapterPlugin, PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import type { BottleneckInvConfig } from './config';
export { buildNiceForward, buildNiceInverse, declareNiceParams, INV_ADAPTER_TYPES, invertibleKeyPrefix, niceDims, niceParamCount } from './invertible';
export type { InvAdapterType, NiceDims, NiceParams } from './invertible';
export { BOTTLENECK_INV_SCHEMA, bottleneckPart, INV_DEFAULTS, INV_PRESET_ALIASES, INV_PRESET_NAMES, INV_PRESETS, resolveBottleneckInv } from './config';
export type { BottleneckInvConfig, InvPresetName } from './config';
export { bottleneckInv } from './plugin';
import { bottleneckInv } from './plugin';
/** Every adapter package exports its plugins, so tools and the CLI can discover them. */
export const plugins: AdapterPlugin<BottleneckInvConfig>[] = [bottleneckInv];
/** This package for `createRuntime([...])`: the `bottleneck_inv` plugin (it builds only core ops). */
export const madxPackage: PackageDescriptor = definePackage({ name: '@adapters/adapter-madx', adapters: plugins });
export {
  buildMadx, hasMaskedLmHead, invertibleRules, LANGUAGE_REDUCTION_FACTOR, languageAdapter, languageAdapterRules, languageOwner, madxRegistry, madxRules,
  TASK_REDUCTION_FACTOR, taskAdapter, taskAdapterRule, taskOwner,
} from './madx';
export type { MadxModel, MadxSpec } from './madx';
// Training recipes: the `@adapters/adapter-madx/recipes` entry.
export { loadLanguageAdapter, readLanguageAdapter, saveLanguageAdapter, swapLanguageAdapter } from './hub';
export type { SavedLanguageAdapter, SwapOptions } from './hub';
export { sentenceIds, UPOS_TAGS, uposExamples } from './data';

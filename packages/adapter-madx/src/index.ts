// The public API of @adapters/adapter-madx: MAD-X (Pfeiffer et al. 2020) on @adapters/core-graph.
import type { AdapterPlugin, PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import type { BottleneckInvConfig } from './plugin';
export { buildNiceForward, buildNiceInverse, declareNiceParams, INV_ADAPTER_TYPES, invertibleKeyPrefix, niceDims, niceParamCount } from './invertible';
export type { InvAdapterType, NiceDims, NiceParams } from './invertible';
export { BOTTLENECK_INV_SCHEMA, bottleneckInv, bottleneckPart, INV_DEFAULTS, INV_PRESET_ALIASES, INV_PRESET_NAMES, INV_PRESETS, resolveBottleneckInv } from './plugin';
export type { BottleneckInvConfig, InvPresetName } from './plugin';
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
export { evaluateTask, languagePolicy, taskPolicy, trainLanguageAdapter, trainTaskAdapter } from './recipe';
export type { LanguageAdapterTraining, StepTrainOptions, TaskAdapterTraining } from './recipe';
export { loadLanguageAdapter, readLanguageAdapter, saveLanguageAdapter, swapLanguageAdapter } from './hub';
export type { SavedLanguageAdapter, SwapOptions } from './hub';
export { sentenceIds, UPOS_TAGS, uposExamples } from './data';

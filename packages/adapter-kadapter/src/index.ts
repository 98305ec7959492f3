// @adapters/adapter-kadapter: K-Adapter (Wang et al. 2021) knowledge adapters beside a frozen model.
import type { AnyAdapterPlugin, PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import { dependencyHead, relationHead } from './heads';
import { KADAPTER_OPS } from './ops';
import { kadapter } from './plugin';

export { kadapter } from './plugin';
export type { KAdapterActivation, KAdapterConfig } from './config';
export { defaultAdapterList, KADAPTER_DEFAULTS, KADAPTER_PRESETS, KADAPTER_SCHEMA, kadapterParamCount, resolveAdapterList } from './config';
export { chainOutputOf, combinedOutputName, combineKnowledgeAdapters } from './combine';
export type { CombinedInfo, CombineMode, CombineOptions } from './combine';
export { addKnowledgeHead, DEFAULT_HEAD_INPUT, dependencyHead, kadapterHeads, relationHead, withKAdapterOps } from './heads';
export type { DependencyHeadSpec, KnowledgeHeadSpec, RelationHeadSpec } from './heads';
export { KADAPTER_OPS, markerPoolOp, pairScoresOp } from './ops';
export {
  KADAPTER_CONFIG_FILE, KADAPTER_WEIGHTS_FILE, kadapterEntry, loadKAdapter, saveKAdapter,
} from './hub';
export type { LoadKAdapterOptions } from './hub';
export { loadPretrainedEncoder } from './pretrained';
export type { PretrainedEncoder } from './pretrained';
export { FrozenFeatureCache, frozenFeatureHooks } from './frozen-cache';
export type { FrozenFeatureOptions } from './frozen-cache';
export {
  DEFAULT_MARKER_TOKENS, encodeRelationInstance, entityMarkers, parseFewRel, readFewRel, relationExamples, splitFewRel,
} from './data/fewrel';
export type { EntityMarkers, FewRelData, FewRelEntity, FewRelInstance, FewRelSplit, FewRelSplitOptions } from './data/fewrel';
export { buildRelationTask, fitAroundMarkers, markedText } from './data/fewrel';
export type { RelationTask, RelationTaskOptions } from './data/fewrel';
export { encodeMarkedText, ENTITY_TAGS, parseEntityMarkup } from './data/entity-text';
export type { EntityTagIndex, MarkedPart } from './data/entity-text';
export { buildTaskGraph, downstreamPolicy } from './task-graph';
export type { DownstreamPolicyOptions, InLayerAdapter, TaskGraph, TaskGraphOptions } from './task-graph';
export { installedWordNetDict, parseWordNetData, readWordNet, WORDNET_FILES } from './knowledge/wordnet';
export type { Synset, WordNet, WordNetFilePos, WordNetPointer } from './knowledge/wordnet';
export { buildKnowledgeCorpus, KNOWLEDGE_RELATIONS, verbalise, wordNetFacts } from './knowledge/corpus';
export type { ClozeItem, CorpusOptions, Fact, KnowledgeCorpus, KnowledgeRelation } from './knowledge/corpus';
export { dependencyExample, dependencyExamples } from './data/ud';
export type { DependencyExampleOptions } from './data/ud';
// Recipes (pre-training the factual / linguistic adapters, attaching them downstream): the `@adapters/adapter-kadapter/recipes` entry.

/** Every adapter package exports its plugins. */
export const plugins: readonly AnyAdapterPlugin[] = [kadapter];


/** This package for `createRuntime([...])`: the `kadapter` plugin (with its heads' ops) and the relation and dependency heads. */
export const kadapterPackage: PackageDescriptor = definePackage({
  name: '@adapters/adapter-kadapter', adapters: plugins, ops: KADAPTER_OPS, heads: [relationHead, dependencyHead],
});

// The public API of @adapters/adapter-udapter.
import type { PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import { cpgBottleneckOp } from './cpg-op';
import { plugins } from './plugin';
export { UDAPTER_DEFAULTS, UDAPTER_SCHEMA, URIEL_DIM, udapterLayerParams, udapterSharedParams, udapterWidth, validateUdapter } from './config';
export type { UdapterConfig } from './config';
export { CPG_BOTTLENECK_OP, cpgBottleneckForward, cpgBottleneckOp, generateWeights } from './cpg-op';
export { LANGUAGE_INPUT, languageConstants, plugins, udapter, udapterDefaultPlacement, udapterParamCount, udapterSharedPrefix } from './plugin';
export { arcScores, biaffineForward, gatherRows, initBiaffine, labelScores, parserLoss } from './biaffine';
export type { BiaffineSizes, BiaffineWeights, ParserOutputs } from './biaffine';
export { attachmentScores, eisner, treeScore } from './decode';
export type { AttachmentScores } from './decode';
export { encodeTreebank, makeParseBatch, universalRelation } from './data';
export type { ParseBatch, ParseExample } from './data';
export { buildUdapterGraph, UDAPTER_NAME, UdapterParser } from './parser';
export type { ParserSpec } from './parser';
// Training (trainParser): the `@adapters/adapter-udapter/recipes` entry.
export { ISO3, iso3, readNpy, readTypology, readZip, TypologyError } from './typology';
export type { NpyArray, TypologyTable } from './typology';
export { ensureTypology, LANG2VEC, typologyFile } from './typology-fetch';
export { fetchTreebank, KNOWN_TREEBANKS, RAW_BASE, TreebankFetchError } from './treebank-fetch';
export type { FetchedTreebank, FetchTreebankOptions, KnownTreebank, TreebankSplit } from './treebank-fetch';
export * from './hub';

/** This package for `createRuntime([...])`: the `udapter` plugin and its generated-bottleneck op. */
export const udapterPackage: PackageDescriptor = definePackage({ name: '@adapters/adapter-udapter', adapters: plugins, ops: [cpgBottleneckOp] });

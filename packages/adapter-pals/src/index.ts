// The public API of @adapters/adapter-pals.
export { PALS_DEFAULTS, PALS_SCHEMA, PAPER_HIDDEN, PAPER_WIDTH, palsLayerParams, palsSharedParams, palsWidth, validatePals } from './config';
export type { PalsConfig, PalsInit } from './config';
export { PALS_HUB_COLLECTION } from './hub';
export { pals, palsDefaultPlacement, palsParamCount, palsSharedPrefix, plugins } from './plugin';
// Multi-task training: the `@adapters/adapter-pals/recipes` entry.
import type { PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import { plugins } from './plugin';
/** This package for `createRuntime([...])`: the `pals` plugin (it builds only core ops). */
export const palsPackage: PackageDescriptor = definePackage({ name: '@adapters/adapter-pals', adapters: plugins });

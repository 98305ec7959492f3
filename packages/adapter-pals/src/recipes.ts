// The `@adapters/adapter-pals/recipes` entry: BERT-and-PALs multi-task training (one head per task, annealed task
// sampling) and the per-task graphs it trains. The main entry holds config, plugin, hub mapping and the descriptor.
export { palsHeadOf, palsTaskGraph, trainPals } from './train';
export type { PalsTask, PalsTrainOptions, PalsTrainResult } from './train';

// The `@adapters/adapter-udapter/recipes` entry: UDapter's training loop (mixed-language batches, biaffine parser
// loss). The main entry holds config, plugin, ops, the parser model, data, typology, hub export and the descriptor.
export { trainParser } from './parser';
export type { TrainParserOptions } from './parser';

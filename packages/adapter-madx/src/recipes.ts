// The `@adapters/adapter-madx/recipes` entry: MAD-X's training recipes (language adapter by masked LM, task adapter
// stacked on a frozen language adapter, evaluation after a language swap). The main entry holds config, plugin, hub
// I/O and the package descriptor; recipes (which pull in the trainer and data handling) are imported from here.
export { evaluateTask, languagePolicy, taskPolicy, trainLanguageAdapter, trainTaskAdapter } from './recipe';
export type { LanguageAdapterTraining, StepTrainOptions, TaskAdapterTraining } from './recipe';

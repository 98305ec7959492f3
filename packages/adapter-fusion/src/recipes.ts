// The `@adapters/adapter-fusion/recipes` entry: AdapterFusion's training recipes (stage 1 ST-A / MT-A, stage 2 with
// the value regularization) and the task / fusion graphs they train. The main entry holds config, the Fuse block,
// hub I/O, introspection and the package descriptor.
export {
  adapterOf, evaluateOutput, fusionGraph, fusionRegularization, fusionValueKeys, headOf, taskGraph, trainFusion, trainMultiTaskAdapters, trainSingleTaskAdapters,
} from './train';
export type { FusionTask, FusionTrainOptions, MultiTaskOptions, MultiTaskResult, StageOneResult, StageTrainSettings } from './train';

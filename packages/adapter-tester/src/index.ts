// The public API of @adapters/adapter-tester.
export { adapterChecks, runAdapterSuite } from './suite';
export type { AdapterCheck } from './suite';
export {
  checkConfigValidation, checkDefaultPlacement, checkIdentityAtInit, checkParamCount, checkPlacementShapes, checkSaveLoadRoundTrip, checkTapBaseUntouched,
  checkTrainsOnlyOwnParams,
} from './checks';
export { ADAPTER_NAME, CHECK_NAMES, normalize } from './options';
export type { AdapterCase, AdapterSuiteOptions, CheckName, InvalidConfigCase, NormalizedCase, SuiteContext, TestApi, TrainSettings } from './options';
export { blockChecks, checkBlockDeterministic, checkBlockSaveLoad, checkBlockShapes, checkBlockTrainsOnlyOwnParams, checkBlockValidatesChildren, runBlockSuite } from './block-suite';
export type { BlockCase, BlockCheck, BlockCheckName, BlockFiles, BlockSuiteOptions, InvalidBlockCase } from './block-suite';

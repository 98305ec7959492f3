// The browser entry of @adapters/core-graph (the `browser` condition of its exports map): the public API without
// what needs Node (files, folders, the model cache, tokenizer files, dataset readers): no fs, path, os,
// child_process or load-time __dirname. index.ts re-exports it and adds the node-only names (browser.test.ts keeps the two in step).

export { AdapterGraphError, ConfigError, DataError, GraphError, MAX_ERROR_MESSAGE, PlacementError, PluginDefinitionError, printable, TrainingDivergedError } from './errors';
export type { ErrorCode } from './errors';

// Graph IR
export type { AttrValue, Attrs, Dim, DType, GraphInput, GraphNode, Init, ParamKind, ParamSpec, Site, SiteKind, SiteResidual, SymbolicDim, TensorType } from './graph/types';
export { Graph } from './graph/graph';
export type { GraphParts, SpliceRecord } from './graph/graph';
export { GraphBuilder, Scope } from './graph/builder';
export type { DenseOptions, NodeOptions, ParamArg, ParamDecl } from './graph/builder';
export { describeGraph, parameterSummary } from './graph/describe';
export type { OwnerCount, ParameterSummary } from './graph/describe';

// Ops
export { opRegistry } from './ops/registry';
export { defineOp } from './ops/op-def';
export type { InferArgs, OpDef, RunContext } from './ops/op-def';
export { ACTIVATIONS } from './ops/activation';
export type { Activation } from './ops/activation';
export { MASKED_SCORE } from './ops/attention';

// Models
export { BERT_BASE, MINILM_L6, encoderConfig, maxSequenceLength } from './model/config';
export type { MappedWeights, WeightMapper } from './backend/weight-mapper';
export { MAP_WEIGHTS_ENV, MIN_MAPPED_BYTES, setWeightMapper, weightMapper } from './backend/weight-mapper';
export type { MappedCheckpoint, StagedWeights } from './checkpoint/mapped-checkpoint';
export { mappingWanted, openMappedCheckpoint, stageWithMapping } from './checkpoint/mapped-checkpoint';
export type { Architecture, EncoderConfig } from './model/config';
export { buildEncoder, encoderBuilder } from './model/encoder';
export type { EncoderOptions } from './model/encoder';
export { addHead, classificationHead, CORE_HEADS, coreHeads, graphHeads, headPrefix, headsOf, maskedLMHead, tokenClassificationHead } from './model/heads';
export type { AnyHeadSpec, ClassificationHeadSpec, HeadSpec, MaskedLMHeadSpec, TokenClassificationHeadSpec } from './model/heads';
export { createHeadRegistry, defineHead, requireSequenceInput } from './model/head-def';
export type { AnyHeadDef, ForeignHead, HeadBuildContext, HeadDef, HeadReadContext, HeadRegistry, HeadSpecBase } from './model/head-def';

// Plugins and placement
export { countPerSite, defineAdapter, SPLICE_MODES } from './plugin/define-adapter';
export type { AdapterPlugin, BuildContext, BuildResult, CloseContext, DefaultPlacement, ParamCountArgs, ParamCounts, ParamCountSite, SpanNorm, SpliceMode } from './plugin/define-adapter';
export { createRegistry } from './plugin/registry';
export type { AdapterRegistry, AnyAdapterPlugin } from './plugin/registry';
export { RESERVED_NAMES, validateSchema } from './plugin/schema';
export type { JsonSchema } from './plugin/schema';
export { resolveConfig } from './plugin/resolve-config';
export { describeSelector, numLayersOf, selectSites } from './rewrite/selector';
export type { SiteSelector } from './rewrite/selector';
export { adapter, Average, BatchSplit, block, carriedBlocks, describeTree, leaves, Parallel, Stack, validateTree } from './rewrite/composition';
export type { AdapterTree, AdapterUse, BlockPosition, BlockRules, CompositionBlock } from './rewrite/composition';
export { compositionRegistry } from './rewrite/blocks';
export type { BlockContext, BlockDef, ComposeChild, ComposeState } from './rewrite/blocks';
export { applyPlacements } from './rewrite/apply-placements';
export type { AdapterCatalog, PlacementEntry, PlacementResult, PlacementRule } from './rewrite/apply-placements';

// Execution
export { Executor } from './exec/executor';
export type { Feeds, RunOptions } from './exec/executor';
export { WeightStore } from './exec/weights';
export { initialValues } from './exec/init';
export { adapterPolicy, adaptersOnlyPolicy, decays, fullFineTunePolicy, isStateParam, ownersPolicy, STATE_OWNER_PREFIX } from './exec/policy';
export type { TrainPolicy } from './exec/policy';
export { BackendUnavailableError, describeBackend, nativeKernelsOffLine, selectBackend, STOCK_WASM_SLOWDOWN, VALID_BACKEND_NAMES } from './backend/select-backend';
export { BackendNotReadyError, backendReady, ensureBackend, requireBackend } from './backend/ensure-backend';
export { applyDropout, dropoutMask } from './ops/dropout-mask';
export { FUSED_KERNELS, hasFusedKernel } from './ops/fused';
export { disableZeroCopyKernels, enableZeroCopyKernels, zeroCopyKernelsEnabled } from './backend/wasm-zero-copy';
export { guardWasmAllocations, WasmHeapExhaustedError } from './backend/wasm-heap-guard';
export type { BackendChoice, BackendName, NativeKernelStatus, SelectBackendOptions } from './backend/select-backend';

// Files
export { checkSeed, hashSeed, MAX_SEED, mulberry32, normalSampler, shuffled } from './exec/random';
export { assignFromCheckpoint, checkpointTensor, exportToCheckpoint, firstNonFinite, hfKeyOf, isTransposedInCheckpoint, stageFromCheckpoint } from './checkpoint/hf-keys';
export type { AssignOptions, CheckpointTensor } from './checkpoint/hf-keys';

// Data: model files, tokenization, datasets and metrics
export { accuracy, classScores, confusionMatrix, f1Binary, f1Macro, matthewsCorrelation } from './data/metrics';
export type { ClassScores } from './data/metrics';
export { parseDelimited, stripBom } from './data/table';
export type { TableRecord } from './data/table';
export { parseVocabTxt, WordPieceTokenizer } from './data/wordpiece';
export type { WordPieceOptions } from './data/wordpiece';

// Training
export { AdamW, clipByGlobalNorm, linearSchedule } from './train/adamw';
export type { AdamWOptions, AdamWState, SlotValues } from './train/adamw';
export { createTrainer } from './train/create-trainer';
export type { LoopSettings, StepOptions, StepResult, Trainer, TrainerOptions, TrainerSnapshot } from './train/create-trainer';
export { trainMultiTask } from './train/multi-task';
export { canCheckpoint, checkpointedForward, layerBoundaries } from './train/checkpoint';
export { checkpointSwitch } from './train/auto-checkpoint';
export type { CheckpointLayers, CheckpointSwitch } from './train/auto-checkpoint';
export type { MultiTaskRecord, MultiTaskTrainOptions, MultiTaskTrainResult, TrainTask } from './train/multi-task';
export { annealedAlpha, taskProbabilities, taskSchedule } from './train/task-sampling';
export type { TaskSampling, TaskScheduleOptions } from './train/task-sampling';
export { disposeBatch, epochBatches, IGNORE_LABEL, makeBatch } from './train/batches';
export type { Batch, TrainExample } from './train/batches';
export { crossEntropy, predictions } from './train/loss';
export { evaluate } from './train/evaluate';
export type { EvalConstants, EvalResult, EvaluateOptions } from './train/evaluate';
export { train } from './train/trainer';
export { DivergenceMonitor } from './train/divergence';
export type { DivergenceOptions } from './train/divergence';
export type { SelectMetric, StepConstantsArgs, TrainOptions, TrainRecord, TrainResult } from './train/trainer';
export { maskExamples, maskTokens } from './train/mlm';
export type { MaskingOptions } from './train/mlm';

// Checkpoints and adapter files: from bytes or URLs (FileSource); index.ts adds folders on disk and writing
export { decodeSafetensors, encodeSafetensors, SafetensorsError } from './io/safetensors';
export { bytesSource, fetchSource, readJsonFrom, readSafetensorsFrom } from './io/file-source';
export { checkConfigAgainstCheckpoint, checkpointLookup, loadPretrainedFrom, parseHfConfig, readHfConfigFrom } from './checkpoint/pretrained';
export { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterCheckpointKeys, adapterCheckpointKeysOf, defaultCheckpointKeys, loadAdapterFrom } from './checkpoint/adapter-load';
export { artifactJson, checkpointKeyArgs, checkpointKeysOf, FORMAT_VERSION, modelHeader, moduleCheckpointKeys, objectField, stageArtifact } from './checkpoint/artifact';
export { assignStaged, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE, hasHeadIn, readHeadFrom } from './checkpoint/head-read';
export { loadTokenizerFrom, longestFirst } from './data/tokenizer';

// Model-level API
export { CORE_OPS, createOpTable } from './ops/registry';
export { SEQ_MEAN_OP } from './ops/shape';
export { ADD_LAYER_NORM_OP, addLayerNormOp } from './ops/fused-ops';
export { CORE_BLOCKS, createBlockTable } from './rewrite/blocks';
export { UNION_PARAMS_META, UNION_PLUGIN, UNION_PRESETS, UNION_PRESET_NAMES, UNION_SCHEMA, configUnion, isUnionPlugin, resolveUnion } from './rewrite/union';
export { asRuntime, corePackage, createRuntime, defaultRuntime, definePackage, isRuntime, withBlocks, withOps } from './runtime/runtime';
export { cse, cseAliases } from './passes/cse';
export { defineLowering, lower } from './passes/lower';
export { addLayerNormLowering } from './passes/add-layer-norm';
export type { CoreGraphMeta, GraphMeta, GraphMetaRegister } from './graph/meta';
export type { MutableOpTable, OpTable } from './ops/registry';
export type { BlockTable, MutableBlockTable } from './rewrite/blocks';
export type { UnionComponent, UnionConfig, UnionParamsMeta, UnionPresetName } from './rewrite/union';
export type { PackageDescriptor, PackageParts, Runtime } from './runtime/runtime';
export type { LowerOptions, Lowering, LoweringContext, Replacement } from './passes/lower';
export type { ExecutorOptions } from './exec/executor';
export type { DecodedTensor, EncodableTensor, SafetensorsContents, SafetensorsDtype } from './io/safetensors';
export type { ReadSafetensorsOptions } from './io/safetensors-file';
export type { StagedRun } from './io/run-dir';
export type { ConlluToken, Sentence } from './data/conllu';
export type { Example, ExampleFormat, ReadExamplesOptions } from './data/datasets';
export type { ModelSource, PackedModelSource } from './data/model-dir';
export type { BatchEncodeOptions, BatchEncoded, EncodeOptions, Encoded, TextInput, TextTokenizer } from './data/tokenizer';
export type { LoadPretrainedOptions, Pretrained } from './checkpoint/pretrained';
export type { FetchSourceOptions, FileBytes, FileSource } from './io/file-source';
export type { LoadAdapterOptions } from './checkpoint/adapter-load';
export type { Artifact, CheckpointKeyArgs, CheckpointKeys, ModelHeader } from './checkpoint/artifact';
export type { LoadRunOptions, LoadedRun, RunAdapter, RunColumns, RunExtraContext, RunExtraHandler, RunHead, RunInput, RunManifest, RunTree } from './checkpoint/run-manifest';
export type { FitOptions, FromPretrainedOptions, LabelledText, Placement, PredictInput, Prediction } from './api/adapter-model';
export type { SavedPlacement } from './checkpoint/adapter-load';

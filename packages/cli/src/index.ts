// @adapters/cli: the `adapters` command and what it is made of (commands, plugin discovery, progress lines,
// training-curve plots, the model fetcher, the demo data). Plugin packages build their subcommands on these
// from their own `./cli` entry point.
export { main as runCli, run } from './cli/main';
export { commandHelp, parseAdapterSpec, parseArgs, ParsedArgs, UsageError } from './cli/args';
export type { AdapterSpec, CommandSpec, OptionSpec } from './cli/args';
export { option, SHARED_OPTIONS } from './cli/option-specs';
export { readRunArg } from './cli/run-arg';
export { checkpointingArg, poolingArg, trainingLabels } from './cli/task-args';
export type { GradientCheckpointing, SequencePooling } from './cli/task-args';
export type { RunArg } from './cli/run-arg';
export type { OptionOverrides, SharedOptionKey } from './cli/option-specs';
export { MAX_TASKS, MULTITASK_EXTRAS, parseSampling, parseTaskArgs, TASK_NAME_RE } from './cli/tasks';
export type { TaskArg } from './cli/tasks';
export { choosePlugin, discoverPlugins, runtimeOf } from './cli/plugins';
export type { CliCommand, PluginChoice, PluginPackage } from './cli/plugins';
export { backendBanner } from './cli/commands';
export type { CliContext } from './cli/commands';
export { COLUMN_OPTIONS, detectColumns, encodeExamples, givenColumns, majorityShare, readColumns, resolveAdapterDir, resolveModel, sample, shortPath } from './cli/data';
export type { Columns, GivenColumns } from './cli/data';
export { curvesSpec, renderCurvesSvg, renderVegaLiteSvg, svgToPng, writeTrainingCurves } from './report/plot';
export type { CurveFiles, CurveRecord, PlotOptions } from './report/plot';
export { checkpointedLine, formatDuration, MetricsWriter, ProgressReporter, readMetrics } from './report/progress';
export type { ProgressOptions, ProgressRecord, ProgressStream } from './report/progress';
export { ensureModel, ModelFetchError, sha256File } from './data/model-cache';
export type { EnsureModelOptions, ModelFetchStage } from './data/model-cache';
export { dequantiseQ4, E5S1FormatError, e5s1HfConfig, e5s1Shapes, fp16ToFp32, hfNameOf, readE5S1 } from './data/e5s1';
export type { E5S1Header, E5S1Model } from './data/e5s1';
export { buildE5S1ModelDir, checkTokenizerMatches, e5s1Tensors } from './data/e5s1-model';
export type { BuiltModel } from './data/e5s1-model';
export { corpusPieceIds, trimVocabulary, VocabTrimError } from './data/vocab-trim';
export type { TrimResult } from './data/vocab-trim';
export { ASSETS_DIR, demoSentimentFiles } from './data/assets';

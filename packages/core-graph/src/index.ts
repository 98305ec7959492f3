// The public API of @adapters/core-graph: everything that also runs in a browser (browser.ts, the `browser`
// export condition) and, below, what needs Node. The exports map forbids deep imports.

export * from './browser';

export { decodeSafetensors, encodeSafetensors, RANGED_READ_BYTES, readSafetensorsFile, SafetensorsError, writeSafetensorsFile } from './io/safetensors';
export { readableRunPath, recoverRunDir, removeStaleTempFiles, RUN_MARKERS, stageRunDir, writeRunDir } from './io/run-dir';
export { writeFileAtomic, writeJsonAtomic } from './io/atomic-write';
export { readJsonObject } from './io/read-json';
export { parseConllu, readConllu } from './data/conllu';
export { LabelVocab, listColumns, readDataText, readExamples } from './data/datasets';
export { KNOWN_MODELS, cacheRoot, isModelDirComplete, modelCacheDir } from './data/model-dir';
export { loadTokenizer, longestFirst } from './data/tokenizer';
export { checkConfigAgainstCheckpoint, checkpointLookup, loadPretrained, parseHfConfig, readHfConfig } from './checkpoint/load-pretrained';
export { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterCheckpointKeys, adapterCheckpointKeysOf, defaultCheckpointKeys, FORMAT_VERSION, HEAD_CONFIG_FILE, HEAD_WEIGHTS_FILE, loadAdapter, saveAdapter } from './checkpoint/adapterhub';
export { artifactJson, checkpointKeyArgs, checkpointKeysOf, modelHeader, moduleCheckpointKeys, objectField, stageArtifact, writeArtifact } from './checkpoint/artifact';
export { loadRun, loadRunHead, OBSOLETE_RUN_FILES, readRunManifest, RUN_FILE, RUN_FORMAT, RUN_LIMITS, runOfAdapterDir, saveRun, singleAdapterRun, validateRunManifest, writeRun } from './checkpoint/run-manifest';
export { assignStaged, hasHead, loadHead, readHead, saveHead } from './checkpoint/head-files';
export { AdapterModel } from './api/adapter-model';

// The public API of @adapters/core-graph: everything that also runs in a browser (browser.ts, the `browser`
// export condition) and, below, what needs Node. The exports map forbids deep imports.

export * from './browser';

export { RANGED_READ_BYTES, readSafetensorsFile, writeSafetensorsFile } from './io/safetensors-file';
export { readableRunPath, recoverRunDir, removeStaleTempFiles, RUN_MARKERS, stageRunDir, writeRunDir } from './io/run-dir';
export { writeFileAtomic, writeJsonAtomic } from './io/atomic-write';
export { readJsonObject } from './io/read-json';
export { parseConllu, readConllu } from './data/conllu';
export { LabelVocab, listColumns, readDataText, readExamples } from './data/datasets';
export { KNOWN_MODELS, cacheRoot, isModelDirComplete, modelCacheDir } from './data/model-dir';
export { loadTokenizer } from './data/tokenizer-dir';
export { dirSource } from './io/dir-source';
export { loadPretrained, readHfConfig } from './checkpoint/load-pretrained';
export { loadAdapter, saveAdapter } from './checkpoint/adapterhub';
export { writeArtifact } from './checkpoint/artifact-write';
export { loadRun, loadRunHead, OBSOLETE_RUN_FILES, readRunManifest, RUN_FILE, RUN_FORMAT, RUN_LIMITS, runOfAdapterDir, saveRun, singleAdapterRun, validateRunManifest, writeRun } from './checkpoint/run-manifest';
export { hasHead, loadHead, readHead, saveHead } from './checkpoint/head-files';
export { AdapterModel } from './api/adapter-model';

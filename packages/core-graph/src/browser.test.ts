// The browser entry is the Node entry minus the names that need Node's fs/path/os (listed here), value for value,
// so an export added to index.ts fails this test until it is added to browser.ts or listed as node-only.
import * as browser from './browser';
import * as node from './index';

const NODE_ONLY = [
  // files: safetensors files, run directories, atomic writes, JSON files
  'readSafetensorsFile', 'writeSafetensorsFile', 'decodeSafetensors', 'encodeSafetensors', 'RANGED_READ_BYTES', 'SafetensorsError',
  'readableRunPath', 'recoverRunDir', 'removeStaleTempFiles', 'RUN_MARKERS', 'stageRunDir', 'writeRunDir',
  'writeFileAtomic', 'writeJsonAtomic', 'readJsonObject',
  // data files, the model cache, tokenizer files
  'parseConllu', 'readConllu', 'LabelVocab', 'listColumns', 'readDataText', 'readExamples',
  'KNOWN_MODELS', 'cacheRoot', 'isModelDirComplete', 'modelCacheDir', 'loadTokenizer', 'longestFirst',
  // checkpoint and adapter folders, the model object over them
  'checkConfigAgainstCheckpoint', 'checkpointLookup', 'loadPretrained', 'parseHfConfig', 'readHfConfig',
  'ADAPTER_CONFIG_FILE', 'ADAPTER_WEIGHTS_FILE', 'FORMAT_VERSION', 'HEAD_CONFIG_FILE', 'HEAD_WEIGHTS_FILE', 'loadAdapter', 'saveAdapter',
  'assignStaged', 'hasHead', 'loadHead', 'readHead', 'saveHead', 'AdapterModel',
  'OBSOLETE_RUN_FILES', 'RUN_FILE', 'RUN_FORMAT', 'RUN_LIMITS', 'adapterCheckpointKeys', 'adapterCheckpointKeysOf', 'artifactJson', 'checkpointKeyArgs', 'checkpointKeysOf', 'defaultCheckpointKeys', 'loadRun', 'loadRunHead', 'modelHeader', 'moduleCheckpointKeys', 'objectField', 'readRunManifest', 'runOfAdapterDir', 'saveRun', 'singleAdapterRun', 'stageArtifact', 'validateRunManifest', 'writeArtifact', 'writeRun',
];

test('the browser entry is the Node entry minus the node-only names, the same values', () => {
  const expected = Object.keys(node).filter((k) => !NODE_ONLY.includes(k)).sort();
  expect(Object.keys(browser).sort()).toEqual(expected);
  for (const k of expected) expect((browser as Record<string, unknown>)[k]).toBe((node as Record<string, unknown>)[k]);
  expect(NODE_ONLY.filter((k) => !(k in node))).toEqual([]);
});

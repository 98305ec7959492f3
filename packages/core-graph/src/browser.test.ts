// The browser entry is the Node entry minus the names that need Node's fs/path/os (listed here), value for value,
// so an export added to index.ts fails this test until it is added to browser.ts or listed as node-only.
import * as browser from './browser';
import * as node from './index';

const NODE_ONLY = [
  // files: safetensors files, run directories, atomic writes, JSON files
  'readSafetensorsFile', 'writeSafetensorsFile', 'RANGED_READ_BYTES', 'dirSource',
  'readableRunPath', 'recoverRunDir', 'removeStaleTempFiles', 'RUN_MARKERS', 'stageRunDir', 'writeRunDir',
  'writeFileAtomic', 'writeJsonAtomic', 'readJsonObject',
  // data files, the model cache, tokenizer files
  'parseConllu', 'readConllu', 'LabelVocab', 'listColumns', 'readDataText', 'readExamples',
  'KNOWN_MODELS', 'cacheRoot', 'isModelDirComplete', 'modelCacheDir', 'loadTokenizer',
  // checkpoint and adapter folders on disk (the browser entry reads the same files from bytes or URLs: *From), writers,
  // runs, the model object over them
  'loadPretrained', 'readHfConfig', 'loadAdapter', 'saveAdapter', 'hasHead', 'loadHead', 'readHead', 'saveHead', 'AdapterModel',
  'OBSOLETE_RUN_FILES', 'RUN_FILE', 'RUN_FORMAT', 'RUN_LIMITS', 'loadRun', 'loadRunHead', 'readRunManifest', 'runOfAdapterDir', 'saveRun', 'singleAdapterRun', 'validateRunManifest', 'writeArtifact', 'writeRun',
];

test('the browser entry is the Node entry minus the node-only names, the same values', () => {
  const expected = Object.keys(node).filter((k) => !NODE_ONLY.includes(k)).sort();
  expect(Object.keys(browser).sort()).toEqual(expected);
  for (const k of expected) expect((browser as Record<string, unknown>)[k]).toBe((node as Record<string, unknown>)[k]);
  expect(NODE_ONLY.filter((k) => !(k in node))).toEqual([]);
});

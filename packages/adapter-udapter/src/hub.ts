// UDapter has no AdapterHub format of its own: the generator is saved by io.ts (udapter_config.json +
// udapter.safetensors), and one language's generated adapter is exported as a plain bottleneck adapter in
// AdapterHub's layout (export.ts), which AdapterHub and @adapters/adapter-bottleneck load as usual.
export { exportedBottleneckConfig, exportLanguageAdapter, generatedBottleneck, languageEmbedding } from './export';
export { loadUdapter, readUdapterMeta, saveUdapter, UDAPTER_CONFIG_FILE, UDAPTER_WEIGHTS_FILE } from './io';
export type { SavedUdapter } from './io';

// The public API of @adapters/adapter-unified: He et al.'s unified view as installable presets. The union itself is
// core-graph's (`configUnion`: placement, AdapterHub union files, activation as one name); this package puts it in
// front of plugin discovery, so `adapters train --adapter mam` / `--adapter unipelt` find it by preset, and documents
// and tests the two presets. Their components are placed by the prefix_tuning, bottleneck and lora plugins, looked
// up by name in the registry (install @adapters/adapter-prefix, -bottleneck and -lora beside this package).
import type { AnyAdapterPlugin } from '@adapters/core-graph';
import { configUnion } from '@adapters/core-graph';

export { configUnion, UNION_PRESET_NAMES, UNION_PRESETS } from '@adapters/core-graph';
export type { UnionComponent, UnionConfig, UnionPresetName } from '@adapters/core-graph';
export { mamParamCount, unipeltParamCount } from './param-count';
export type { ModelShape } from './param-count';

/** The union plugin (presets `mam`, `unipelt`), for `createRegistry(plugins)` and CLI discovery. */
export const plugins: readonly AnyAdapterPlugin[] = [configUnion];

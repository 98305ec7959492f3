// ConfigUnion (AdapterHub `ConfigUnion`, architecture "union"): several methods as ONE named adapter. Each component
// is another plugin's config placed at that plugin's own default sites and mode (LoRA at `linear` sites, prefix
// tuning at `prefix` sites, a bottleneck at `ffn`/`attention` sites), all under the one name: every parameter is owned
// by `adapter:NAME`, every splice lists NAME, so activating, bypassing, training and saving the name covers them all.
// Components name their plugins, and `applyPlacements` looks them up in the registry it is given: core imports no
// plugin package. The presets are AdapterHub's MAMConfig and UniPELTConfig, written as plugin names plus config input.
import { ConfigError, PlacementError } from '../errors';
import type { AdapterPlugin, ParamCountArgs, ParamCounts } from '../plugin/define-adapter';
import { defineAdapter } from '../plugin/define-adapter';
import type { AnyAdapterPlugin } from '../plugin/registry';
import type { JsonSchema } from '../plugin/schema';
import { selectSites } from './selector';

/** The union's plugin name (AdapterHub's `architecture` value). */
export const UNION_PLUGIN = 'union';

/** One method of a union: a plugin name and the config input for it (resolved by that plugin at placement). */
export interface UnionComponent {
  readonly plugin: string;
  readonly config: Readonly<Record<string, unknown>>;
}

export type UnionPresetName = 'mam' | 'unipelt';

export interface UnionConfig {
  /** The preset the components came from, or null for a hand-made union. */
  readonly config: UnionPresetName | null;
  readonly configs: readonly UnionComponent[];
}

/**
 * AdapterHub 1.3's presets, component for component:
 * - `mam` (MAMConfig, He et al. 2022): PrefixTuningConfig(bottleneck_size=800) + ParBnConfig() — a parallel FFN
 *   adapter with reduction factor 2, scaling 4.0, `mam_adapter` init.
 * - `unipelt` (UniPELTConfig, Mao et al. 2022): PrefixTuningConfig(prefix_length=10), SeqBnConfig(reduction_factor=16)
 *   and LoRAConfig(r=8, alpha=2), each with `use_gating=True`.
 */
export const UNION_PRESETS: Readonly<Record<UnionPresetName, readonly UnionComponent[]>> = {
  mam: [
    { plugin: 'prefix_tuning', config: { bottleneck_size: 800 } },
    { plugin: 'bottleneck', config: { config: 'par_bn' } },
  ],
  unipelt: [
    { plugin: 'prefix_tuning', config: { prefix_length: 10, use_gating: true } },
    { plugin: 'bottleneck', config: { config: 'seq_bn', reduction_factor: 16, use_gating: true } },
    { plugin: 'lora', config: { r: 8, alpha: 2, use_gating: true } },
  ],
};

export const UNION_PRESET_NAMES: readonly UnionPresetName[] = ['mam', 'unipelt'];

export const UNION_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    config: { anyOf: [{ type: 'string', enum: [...UNION_PRESET_NAMES] }, { type: 'null' }] },
    configs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: { plugin: { type: 'string' }, config: { type: 'object', additionalProperties: true } },
        required: ['plugin', 'config'],
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
};

/** `{ config: 'mam' }` → the preset's components; explicit `configs` replace them (AdapterHub's MAMConfig(prefix_tuning=...)). */
export function resolveUnion(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const preset = (input['config'] ?? null) as UnionPresetName | null;
  const configs = input['configs'] ?? (preset === null ? undefined : UNION_PRESETS[preset]);
  if (configs === undefined) throw new ConfigError('configs', `a union needs its components: { configs: [{ plugin, config }, ...] } or a preset (${UNION_PRESET_NAMES.join(', ')})`);
  return { config: preset, configs: (configs as UnionComponent[]).map((c) => ({ plugin: c.plugin, config: { ...c.config } })) };
}

function validateUnion(c: UnionConfig, path: string): void {
  c.configs.forEach((comp, i) => {
    if (comp.plugin === UNION_PLUGIN) throw new ConfigError(`${path}.configs[${i}].plugin`, 'a union cannot contain a union (as AdapterHub)');
  });
}

/**
 * The union's count: each site goes to the component whose default placement selects it (a union never puts two
 * components at one site), and each component counts its own sites (and its model-level parameters) with its own
 * plugin's paramCount. Needs the model (`graph`) and the plugins (`plugins`), as placing the union does.
 */
function unionParamCount({ config, sites, width, numLayers, graph, plugins }: ParamCountArgs<UnionConfig>): ParamCounts {
  if (!graph || !plugins) throw new PlacementError(`union paramCount needs the model (graph) and the plugins its components name (plugins)`);
  const perSite: number[] = sites.map(() => 0);
  const owner: (number | undefined)[] = sites.map(() => undefined);
  let shared = 0;
  config.configs.forEach((comp, i) => {
    const plugin = plugins.get(comp.plugin);
    if (!plugin.paramCount) throw new PlacementError(`union component ${i} (${comp.plugin}) declares no paramCount`);
    const placement = plugin.defaultPlacement?.(comp.config, graph);
    if (!placement) throw new PlacementError(`union component ${i} (${comp.plugin}) has no default placement`);
    const mine = new Set(selectSites(graph, placement.select).map((s) => s.name));
    const at = sites.flatMap((s, j) => (mine.has(s.name) ? [j] : []));
    if (at.length === 0) return;
    for (const j of at) {
      if (owner[j] !== undefined) throw new PlacementError(`union components ${owner[j]} and ${i} both select '${sites[j]?.name}'`);
      owner[j] = i;
    }
    const counts = plugin.paramCount({ config: comp.config, sites: at.map((j) => sites[j] as (typeof sites)[number]), width, numLayers, graph, plugins });
    at.forEach((j, k) => {
      perSite[j] = counts.perSite[k] as number;
    });
    shared += counts.shared;
  });
  const stray = owner.findIndex((o) => o === undefined);
  if (stray >= 0) throw new PlacementError(`union: no component selects site '${sites[stray]?.name}'`);
  return { perSite, shared };
}

/**
 * The union as a plugin object, so registries and the CLI find it by name and by preset (`--adapter mam`).
 * `applyPlacements` places its components; `build` is never called for it.
 */
export const configUnion: AdapterPlugin<UnionConfig> = defineAdapter<UnionConfig>({
  name: UNION_PLUGIN,
  description: 'ConfigUnion (AdapterHub): several methods as one adapter, each at its own sites; presets mam (MAMConfig), unipelt (UniPELTConfig)',
  // Nominal: each component brings its own mode; a rule must not give one.
  modes: ['after'],
  presets: UNION_PRESET_NAMES,
  defaults: { config: 'mam', configs: UNION_PRESETS.mam },
  schema: UNION_SCHEMA,
  resolve: resolveUnion,
  validate: validateUnion,
  paramCount: unionParamCount,
  build(ctx) {
    throw new PlacementError(`adapter '${ctx.name}' is a union: applyPlacements places each of its components at its own sites`);
  },
});

/** Whether a plugin is the union (by name: registries may hold their own copy of the object). */
export const isUnionPlugin = (plugin: AnyAdapterPlugin): boolean => plugin.name === UNION_PLUGIN;

/** Graph meta key: per union adapter, the parameter keys each component declared (for files: which plugin names a key). */
export const UNION_PARAMS_META = 'unionParams';
export type UnionParamsMeta = Readonly<Record<string, readonly (readonly string[])[]>>;

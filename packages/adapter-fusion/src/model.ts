// Fusion specs: which adapters to fuse, where, and (after pruning) which of them at each site, turned into
// placement rules for core-graph. All fused adapters must share placement.
import type {
  AdapterCatalog, AdapterRegistry, AdapterUse, AnyAdapterPlugin, Graph, PlacementResult, PlacementRule, SiteSelector, SpliceMode,
} from '@adapters/core-graph';
import { adapter, applyPlacements, ConfigError, describeSelector, PlacementError, resolveConfig } from '@adapters/core-graph';
import type { FusionConfigInput } from './config';
import { DEFAULT_FUSION_PRESET } from './config';
import { checkFusionName, defaultFusionName, fuse } from './plugin';

export interface FusionSpec {
  /** Fusion name; default: the adapter names joined by ',' (AdapterHub). */
  readonly name?: string;
  /** The adapters to fuse (plugin + config, as placed in stage 1). */
  readonly adapters: readonly AdapterUse[];
  readonly config?: FusionConfigInput;
  /** Sites to fuse at; default: the adapters' shared default placement. */
  readonly select?: SiteSelector;
  readonly mode?: SpliceMode;
  /**
   * After pruning: the adapters fused at each site (site name → adapter names, a non-empty subset, in spec order).
   * Sites not listed get no fusion (and no adapters). Without it every selected site fuses every adapter.
   */
  readonly layers?: Readonly<Record<string, readonly string[]>>;
}

export const fusionNameOf = (spec: FusionSpec): string => spec.name ?? defaultFusionName(spec.adapters);

function pluginOf(use: AdapterUse, registry: AdapterRegistry): AnyAdapterPlugin {
  return typeof use.plugin === 'string' ? registry.get(use.plugin) : use.plugin;
}

/**
 * The adapters' shared placement. Adapters placed differently by default (other sites, modes or `leave_out`) cannot
 * be fused: the error names the first two that differ. An explicit `select`/`mode` overrides the defaults.
 */
export function sharedPlacement(graph: Graph, spec: FusionSpec, registry: AdapterRegistry): { select: SiteSelector; mode: SpliceMode } {
  if (spec.adapters.length === 0) throw new ConfigError('fusion.adapters', 'fuse at least one adapter');
  const seen = new Set<string>();
  for (const a of spec.adapters) {
    if (seen.has(a.name)) throw new ConfigError('fusion.adapters', `adapter '${a.name}' is listed twice`);
    seen.add(a.name);
  }
  // One explicit rule places them all alike; at a site, Fuse still refuses adapters that are absent or read differently.
  if (spec.select && spec.mode) return { select: spec.select, mode: spec.mode };
  const placements = spec.adapters.map((use) => {
    const plugin = pluginOf(use, registry);
    const config = resolveConfig(plugin, use.config ?? {}, `${use.name}.config`);
    return { name: use.name, p: plugin.defaultPlacement?.(config as never, graph) };
  });
  const first = placements[0] as (typeof placements)[number];
  for (const q of placements) {
    if (!q.p) throw new PlacementError(`adapter '${q.name}' has no default placement: give the fusion 'select' and 'mode'`);
    if (q.p && first.p && (q.p.mode !== first.p.mode || describeSelector(q.p.select) !== describeSelector(first.p.select))) {
      throw new PlacementError(
        `adapters '${first.name}' and '${q.name}' cannot be fused: they are placed differently (${first.p.mode} at ${describeSelector(first.p.select)} vs ${q.p.mode} at ${describeSelector(q.p.select)}); all fused adapters must share placement`,
      );
    }
  }
  const select = spec.select ?? first.p?.select;
  const mode = spec.mode ?? first.p?.mode;
  if (!select || !mode) throw new PlacementError(`fusion '${fusionNameOf(spec)}': give 'select' and 'mode'`);
  return { select, mode };
}

/** The placement rules of a fusion spec: one rule over all sites, or one rule per site when `layers` is given. */
export function fusionRules(graph: Graph, spec: FusionSpec, registry: AdapterRegistry): PlacementRule[] {
  const name = fusionNameOf(spec);
  checkFusionName(name);
  const { select, mode } = sharedPlacement(graph, spec, registry);
  const config = spec.config ?? DEFAULT_FUSION_PRESET;
  if (!spec.layers) return [{ adapter: fuse(spec.adapters, { name, config }), select, mode }];
  const byName = new Map(spec.adapters.map((a) => [a.name, a]));
  return Object.entries(spec.layers).map(([site, names]) => {
    if (!graph.sites.has(site)) throw new ConfigError(`fusion.layers.${site}`, `no site '${site}' in the graph`);
    if (names.length === 0) throw new ConfigError(`fusion.layers.${site}`, 'keep at least one adapter (drop the site instead)');
    const children = names.map((n) => {
      const a = byName.get(n);
      if (!a) throw new ConfigError(`fusion.layers.${site}`, `'${n}' is not one of the fused adapters (${[...byName.keys()].join(', ')})`);
      return a;
    });
    return { adapter: fuse(children, { name, config }), select: { names: [site] }, mode };
  });
}

/** Adds a fusion of already trained adapters to `base` (a graph without those adapters, usually with the target head). */
export function applyFusion(base: Graph, spec: FusionSpec, registry: AdapterRegistry): PlacementResult {
  return applyPlacements(base, fusionRules(base, spec, registry), registry);
}

/** AdapterUses for adapters recorded in graphs' catalogs (e.g. the stage-1 graphs), by name. */
export function adapterUses(graphs: readonly Graph[], names: readonly string[]): AdapterUse[] {
  const catalog: Record<string, AdapterCatalog[string]> = {};
  for (const g of graphs) Object.assign(catalog, g.meta.adapters ?? {});
  return names.map((n) => {
    const entry = catalog[n];
    if (!entry) throw new ConfigError('fusion.adapters', `no graph has an adapter '${n}' (known: ${Object.keys(catalog).join(', ') || 'none'})`);
    return adapter(entry.plugin, n, entry.config);
  });
}

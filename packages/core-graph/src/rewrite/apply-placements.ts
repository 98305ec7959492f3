import { ConfigError, PlacementError } from '../errors';
import { RESERVED_NAMES } from '../plugin/schema';
import { GraphBuilder } from '../graph/builder';
import type { Graph } from '../graph/graph';
import type { Site } from '../graph/types';
import type { BuildContext, SpanNorm, SpliceMode } from '../plugin/define-adapter';
import type { AdapterRegistry, AnyAdapterPlugin } from '../plugin/registry';
import { resolveConfig } from '../plugin/resolve-config';
import type { BlockContext, BlockTable, ComposeState } from './blocks';
import type { Runtime } from '../runtime/runtime';
import { asRuntime, withBlocks } from '../runtime/runtime';
import type { AdapterTree, AdapterUse } from './composition';
import { adapter, carriedBlocks, describeTree, leaves, validateTree } from './composition';
import type { SiteSelector } from './selector';
import { describeSelector, numLayersOf, selectSites } from './selector';
import type { UnionConfig, UnionParamsMeta } from './union';
import { configUnion, isUnionPlugin, UNION_PARAMS_META, UNION_PLUGIN } from './union';
import { checkUnionBlocks, projectTree } from './union-tree';

/** Where and how to splice an adapter (or a composition of adapters) into the graph. */
export interface PlacementRule {
  readonly adapter: AdapterTree;
  /** Sites to adapt; defaults to the plugin's own placement for the config. */
  readonly select?: SiteSelector;
  readonly mode?: SpliceMode;
}

export interface PlacementEntry {
  readonly rule: number;
  readonly site: string;
  readonly layer?: number;
  readonly mode: SpliceMode;
  readonly composition: string;
  /** Parameters this splice declared. */
  readonly params: number;
}

export interface PlacementResult {
  readonly graph: Graph;
  readonly report: readonly PlacementEntry[];
}

/** Adapter name → plugin and resolved config, kept in graph meta for saving and inspection. */
export type AdapterCatalog = Readonly<Record<string, { readonly plugin: string; readonly config: Readonly<Record<string, unknown>> }>>;

interface ResolvedLeaf {
  readonly use: AdapterUse;
  readonly plugin: AnyAdapterPlugin;
  readonly config: Record<string, unknown>;
}

/**
 * Applies placement rules in order and returns a new graph plus a report of every splice.
 * The input graph is never changed. A rule selecting nothing, an unsupported mode, an invalid
 * config or an invalid composition is an error. `registry`: a runtime (its plugins, blocks and ops), or only
 * an adapter registry (blocks and ops then come from the graph's runtime, else the default runtime).
 */
export function applyPlacements(graph: Graph, rules: readonly PlacementRule[], registry: AdapterRegistry | Runtime): PlacementResult {
  const runtime = asRuntime(registry, graph.runtime);
  let current = graph;
  const report: PlacementEntry[] = [];
  rules.forEach((rule, index) => {
    current = applyRule(current, rule, index, runtime, report);
  });
  return { graph: current, report };
}

/** AdapterHub's `leave_out` (common to its adapter configs) must name layers the model has: [99] on 2 layers is a typo, not a no-op. */
function checkLeaveOut(config: Readonly<Record<string, unknown>>, graph: Graph, path: string): void {
  const leaveOut = Object.hasOwn(config, 'leave_out') ? config['leave_out'] : undefined;
  if (!Array.isArray(leaveOut)) return;
  const layers = numLayersOf(graph);
  if (layers === 0) return; // a graph without layered sites (tests, custom models): nothing to compare with
  const bad = leaveOut.find((l) => !(Number.isInteger(l) && (l as number) >= 0 && (l as number) < layers));
  if (bad !== undefined) throw new ConfigError(path, `layer ${JSON.stringify(bad)} does not exist (the model has layers 0..${layers - 1})`);
}

function applyRule(graph: Graph, rule: PlacementRule, index: number, given: Runtime, report: PlacementEntry[]): Graph {
  // Blocks the tree carries (with their ops) join the runtime, and so the graph it returns.
  const runtime = withBlocks(given, carriedBlocks(rule.adapter));
  const registry = runtime.plugins;
  validateTree(rule.adapter, runtime.blocks.find);
  const unions = leaves(rule.adapter).filter((use) => isUnionPlugin(pluginOf(use, registry)));
  if (unions.length > 0) {
    if (rule.adapter.kind !== 'adapter') return applyUnionTree(graph, rule, unions.map((u) => u.name), index, runtime, report);
    return applyUnion(graph, rule, rule.adapter, index, runtime, report);
  }
  const resolved = leaves(rule.adapter).map((use): ResolvedLeaf => {
    const plugin = pluginOf(use, registry);
    checkName(use.name, index);
    const config = resolveConfig(plugin, use.config ?? {}, `${use.name}.config`);
    checkLeaveOut(config, graph, `${use.name}.config.leave_out`);
    return { use, plugin, config };
  });
  const catalog = { ...(graph.meta.adapters ?? {}) };
  for (const leaf of resolved) {
    const known = Object.hasOwn(catalog, leaf.use.name) ? catalog[leaf.use.name] : undefined;
    if (known && (known.plugin !== leaf.plugin.name || JSON.stringify(known.config) !== JSON.stringify(leaf.config))) {
      throw new PlacementError(`adapter '${leaf.use.name}' already exists with a different plugin or config`);
    }
    catalog[leaf.use.name] = { plugin: leaf.plugin.name, config: leaf.config };
  }
  const { select, mode } = placementOf(rule, resolved, graph);
  return placeLeaves(graph, rule, resolved, select, mode, index, report, catalog, runtime);
}

/** The rule's plugin for a leaf; the union is built in, so `'union'` works with any registry. */
function pluginOf(use: AdapterUse, registry: AdapterRegistry): AnyAdapterPlugin {
  if (typeof use.plugin !== 'string') return use.plugin;
  return use.plugin === UNION_PLUGIN && !registry.has(UNION_PLUGIN) ? configUnion : registry.get(use.plugin);
}

function checkName(name: string, index: number): void {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new ConfigError(`rules[${index}].adapter.name`, `'${name}' may use only letters, digits, _ and -`);
  if (RESERVED_NAMES.has(name)) throw new ConfigError(`rules[${index}].adapter.name`, `'${name}' is reserved (a JavaScript object member name); choose another name`);
}

/**
 * A union: each component resolved by its own plugin and placed at that plugin's default sites and mode, under the
 * union's name. Components may not share a site (AdapterHub refuses two configs of one architecture at one place).
 * The catalog gets one entry (plugin `union`, the resolved components); graph meta `unionParams` the parameter keys
 * each component declared, so files can name each key the way its own plugin does.
 */
interface UnionComponentPlacement {
  readonly plugin: AnyAdapterPlugin;
  readonly config: Record<string, unknown>;
  readonly placement: { readonly select: SiteSelector; readonly mode: SpliceMode };
}

/** A union's components, each resolved by its plugin with its default placement (no two sharing a site), and its catalog entry. */
function resolveUnion(graph: Graph, rule: PlacementRule, use: AdapterUse, index: number, registry: AdapterRegistry): { components: UnionComponentPlacement[]; entry: AdapterCatalog[string] } {
  checkName(use.name, index);
  const path = `${use.name}.config`;
  const union = resolveConfig(pluginOf(use, registry), use.config ?? {}, path) as unknown as UnionConfig;
  if (rule.select !== undefined || rule.mode !== undefined) {
    throw new PlacementError(`adapter '${use.name}' is a union: each component goes to its own plugin's default sites; give the rule no select or mode`);
  }
  const owner = new Map<string, number>();
  const components = union.configs.map((comp, i): UnionComponentPlacement => {
    const at = `${path}.configs[${i}]`;
    if (!registry.has(comp.plugin)) throw new ConfigError(`${at}.plugin`, `no installed plugin '${comp.plugin}' (installed: ${registry.list().map((p) => p.name).join(', ') || 'none'})`);
    const plugin = registry.get(comp.plugin);
    const config = resolveConfig(plugin, comp.config, `${at}.config`);
    checkLeaveOut(config, graph, `${at}.config.leave_out`);
    const placement = plugin.defaultPlacement?.(config, graph);
    if (!placement) throw new PlacementError(`union '${use.name}': component ${i} (${plugin.name}) has no default placement`);
    for (const site of selectSites(graph, placement.select)) {
      const other = owner.get(site.name);
      if (other !== undefined) throw new PlacementError(`union '${use.name}': components ${other} and ${i} both adapt site '${site.name}'`);
      owner.set(site.name, i);
    }
    return { plugin, config, placement };
  });
  const entry = { plugin: UNION_PLUGIN, config: { config: union.config, configs: components.map((c) => ({ plugin: c.plugin.name, config: c.config })) } };
  const known = Object.hasOwn(graph.meta.adapters ?? {}, use.name) ? (graph.meta.adapters ?? {})[use.name] : undefined;
  if (known && JSON.stringify(known) !== JSON.stringify(entry)) throw new PlacementError(`adapter '${use.name}' already exists with a different plugin or config`);
  return { components, entry };
}

/** Records the unions' catalog entries and, per union, the parameter keys each component declared (in component order). */
function recordUnions(graph: Graph, before: Graph, catalog: Record<string, AdapterCatalog[string]>, unions: ReadonlyMap<string, { entry: AdapterCatalog[string]; declared: string[][] }>): Graph {
  const b = GraphBuilder.from(graph);
  const params = { ...((before.meta[UNION_PARAMS_META] as UnionParamsMeta | undefined) ?? {}) };
  const entries: Record<string, AdapterCatalog[string]> = {};
  for (const [name, u] of unions) {
    entries[name] = u.entry;
    params[name] = u.declared;
  }
  b.setMeta('adapters', { ...catalog, ...entries });
  b.setMeta(UNION_PARAMS_META, params);
  return b.build();
}

/**
 * A union: each component resolved by its own plugin and placed at that plugin's default sites and mode, under the
 * union's name. Components may not share a site (AdapterHub refuses two configs of one architecture at one place).
 * The catalog gets one entry (plugin `union`, the resolved components); graph meta `unionParams` the parameter keys
 * each component declared, so files can name each key the way its own plugin does.
 */
function applyUnion(graph: Graph, rule: PlacementRule, use: AdapterUse, index: number, runtime: Runtime, report: PlacementEntry[]): Graph {
  const { components, entry } = resolveUnion(graph, rule, use, index, runtime.plugins);
  const catalog = { ...(graph.meta.adapters ?? {}) };
  let current = graph;
  const declared: string[][] = [];
  for (const c of components) {
    const before = new Set(current.params.keys());
    const leaf: ResolvedLeaf = { use: adapter(c.plugin, use.name, c.config), plugin: c.plugin, config: c.config };
    current = placeLeaves(current, { adapter: leaf.use }, [leaf], c.placement.select, c.placement.mode, index, report, catalog, runtime);
    declared.push([...current.params.keys()].filter((k) => !before.has(k)).sort());
  }
  return recordUnions(current, graph, catalog, new Map([[use.name, { entry, declared }]]));
}

/**
 * Unions inside Stack / Parallel / BatchSplit (union-tree.ts): every leaf — each union component, each other adapter
 * at its default placement — joins the group of its placement, and the tree projected onto each group is spliced
 * there. Two groups adapting the same site in different ways (e.g. MAM's parallel FFN adapter and a sequential one,
 * which AdapterHub composes inside one bottleneck layer) are refused.
 */
function applyUnionTree(graph: Graph, rule: PlacementRule, unionNames: readonly string[], index: number, runtime: Runtime, report: PlacementEntry[]): Graph {
  const registry = runtime.plugins;
  const tree = rule.adapter;
  checkUnionBlocks(tree, unionNames);
  if (rule.select !== undefined || rule.mode !== undefined) {
    throw new PlacementError(`${describeTree(tree)} holds a union ('${unionNames[0] as string}'): each adapter goes to its own default sites; give the rule no select or mode`, 'E_UNION_COMPOSITION');
  }
  const catalog = { ...(graph.meta.adapters ?? {}) };
  const groups: Array<{ key: string; select: SiteSelector; mode: SpliceMode; leaves: Map<string, ResolvedLeaf & { union?: number }> }> = [];
  const join = (placement: { select: SiteSelector; mode: SpliceMode }, leaf: ResolvedLeaf, union?: number): void => {
    const key = `${placement.mode} ${describeSelector(placement.select)}`;
    let g = groups.find((x) => x.key === key);
    if (!g) groups.push((g = { key, select: placement.select, mode: placement.mode, leaves: new Map() }));
    g.leaves.set(leaf.use.name, { ...leaf, ...(union === undefined ? {} : { union }) });
  };
  const unions = new Map<string, { entry: AdapterCatalog[string]; declared: string[][] }>();
  for (const use of leaves(tree)) {
    if (unionNames.includes(use.name)) {
      const { components, entry } = resolveUnion(graph, rule, use, index, registry);
      unions.set(use.name, { entry, declared: components.map(() => []) });
      components.forEach((c, i) => join(c.placement, { use: adapter(c.plugin, use.name, c.config), plugin: c.plugin, config: c.config }, i));
      continue;
    }
    const plugin = pluginOf(use, registry);
    checkName(use.name, index);
    const config = resolveConfig(plugin, use.config ?? {}, `${use.name}.config`);
    checkLeaveOut(config, graph, `${use.name}.config.leave_out`);
    const known = Object.hasOwn(catalog, use.name) ? catalog[use.name] : undefined;
    if (known && (known.plugin !== plugin.name || JSON.stringify(known.config) !== JSON.stringify(config))) throw new PlacementError(`adapter '${use.name}' already exists with a different plugin or config`);
    catalog[use.name] = { plugin: plugin.name, config };
    const placement = plugin.defaultPlacement?.(config, graph);
    if (!placement) throw new PlacementError(`adapter '${use.name}' has no default placement; in a composition with a union every adapter sits at its own default sites`, 'E_UNION_COMPOSITION');
    join(placement, { use, plugin, config });
  }
  // One splice per site and placement: two groups at one site would compose what AdapterHub composes in one layer.
  const siteGroup = new Map<string, number>();
  groups.forEach((g, gi) => {
    for (const site of selectSites(graph, g.select)) {
      const other = siteGroup.get(site.name);
      if (other !== undefined) {
        const names = (i: number) => [...(groups[i] as (typeof groups)[number]).leaves.keys()].join(', ');
        throw new PlacementError(`${describeTree(tree)}: site '${site.name}' would get ${names(other)} (${(groups[other] as (typeof groups)[number]).mode}) and ${names(gi)} (${g.mode}) in different modes; in a composition with a union the adapters at one site must share its mode`, 'E_UNION_COMPOSITION');
      }
      siteGroup.set(site.name, gi);
    }
  });
  let current = graph;
  for (const g of groups) {
    const projected = projectTree(tree, (name) => g.leaves.has(name)) as AdapterTree;
    const before = new Set(current.params.keys());
    current = placeLeaves(current, { adapter: projected }, [...g.leaves.values()], g.select, g.mode, index, report, catalog, runtime);
    for (const [name, leaf] of g.leaves) {
      if (leaf.union === undefined) continue;
      const added = [...current.params.keys()].filter((k) => !before.has(k) && current.param(k).owner === `adapter:${name}`).sort();
      ((unions.get(name) as { declared: string[][] }).declared[leaf.union] as string[]).push(...added);
    }
  }
  return recordUnions(current, graph, catalog, unions);
}

function placeLeaves(
  graph: Graph, rule: PlacementRule, resolved: readonly ResolvedLeaf[], select: SiteSelector, mode: SpliceMode, index: number, report: PlacementEntry[],
  catalog: Record<string, AdapterCatalog[string]>, runtime: Runtime,
): Graph {
  for (const leaf of resolved) {
    if (!leaf.plugin.modes.includes(mode)) {
      throw new PlacementError(`adapter '${leaf.use.name}' (${leaf.plugin.name}) does not support mode '${mode}' (supports: ${leaf.plugin.modes.join(', ')})`);
    }
  }
  const sites = selectSites(graph, select);
  const b = GraphBuilder.from(graph, runtime);
  const numLayers = numLayersOf(graph);
  if (mode === 'tap') {
    tap(b, rule, resolved, sites, numLayers, index, report);
  } else {
    for (const site of sites) splice(b, graph, site.name, mode, rule.adapter, resolved, numLayers, index, report, runtime.blocks);
  }
  b.setMeta('adapters', catalog);
  return b.build();
}

function placementOf(rule: PlacementRule, resolved: readonly ResolvedLeaf[], graph: Graph): { select: SiteSelector; mode: SpliceMode } {
  if (rule.select && rule.mode) return { select: rule.select, mode: rule.mode };
  const defaults = resolved.map((l) => ({ name: l.use.name, p: l.plugin.defaultPlacement?.(l.config, graph) }));
  const first = defaults[0]?.p;
  if (!first) throw new PlacementError(`adapter '${defaults[0]?.name}' has no default placement: give the rule 'select' and 'mode'`);
  for (const d of defaults) {
    if (!d.p || d.p.mode !== first.mode || describeSelector(d.p.select) !== describeSelector(first.select)) {
      throw new PlacementError(`adapters '${defaults[0]?.name}' and '${d.name}' are placed differently; all adapters in ${describeTree(rule.adapter)} must share placement`);
    }
  }
  return { select: rule.select ?? first.select, mode: rule.mode ?? first.mode };
}

function widthAt(b: GraphBuilder, id: string): number {
  const d = b.typeOf(id).shape.at(-1);
  if (typeof d !== 'number') throw new PlacementError(`node '${id}' has no fixed feature width`);
  return d;
}

function spanNorm(b: GraphBuilder, site: Site): SpanNorm | undefined {
  if (!site.residual) return undefined;
  const n = b.node(site.residual.norm);
  const weight = n.params['weight'];
  const bias = n.params['bias'];
  if (n.op !== 'layerNorm' || !weight || !bias) return undefined;
  return { weight, bias, eps: n.attrs['eps'] as number };
}

function splice(
  b: GraphBuilder, source: Graph, siteName: string, mode: SpliceMode, tree: AdapterTree, resolved: readonly ResolvedLeaf[],
  numLayers: number, ruleIndex: number, report: PlacementEntry[], blocks: BlockTable,
): void {
  const site = b.getSite(siteName);
  const previous = b.spliceList().filter((s) => s.site === site.name);
  if (mode === 'wrap') {
    if (!site.residual) throw new PlacementError(`site '${site.name}' has no residual add & norm to wrap; use mode 'after'`);
    if (previous.some((s) => s.mode === 'wrap')) {
      throw new PlacementError(`site '${site.name}' is already wrapped by ${previous.map((s) => s.composition).join(', ')}; combine adapters with a composition block (Stack, Fuse, ...)`);
    }
  }
  const tag = `${site.name}.splice${previous.length === 0 ? '' : previous.length}`;
  const nodesBefore = b.nodeIds();
  const paramsBefore = b.paramKeys();
  const width = widthAt(b, site.exit);
  const norm = mode === 'wrap' ? spanNorm(b, site) : undefined;
  let blockCount = 0;
  const env: BlockContext = {
    builder: b,
    site,
    mode,
    width,
    // A later splice at the same site numbers its blocks apart (`composition1.0`), as its tag does (`splice1`).
    blockScope: (owner = 'composition') => b.scope(`${site.name}.composition${previous.length === 0 ? '' : previous.length}.${blockCount++}`, owner, site.layer),
    batchReference: (source.inputs[0] ?? { node: site.entry }).node,
  };
  const byName = new Map(resolved.map((l) => [l.use.name, l]));
  const compose = (node: AdapterTree, state: ComposeState): ComposeState => {
    if (node.kind === 'block') return blocks.get(node.type).compose(env, node, state, compose);
    const leaf = byName.get(node.name) as ResolvedLeaf;
    const ctx: BuildContext<object> = {
      name: node.name,
      config: leaf.config,
      mode,
      site,
      layer: site.layer,
      numLayers,
      scope: b.scope(`${site.name}.adapters.${node.name}`, `adapter:${node.name}`, site.layer),
      builder: b,
      input: state.hidden,
      ...(state.residual === undefined ? {} : { residual: state.residual }),
      ...(norm === undefined ? {} : { norm }),
      width,
    };
    const result = leaf.plugin.build(ctx);
    const { up: _previousUp, ...carried } = state;
    return { ...carried, hidden: result.output, ...(result.up ? { up: result.up } : {}), last: { plugin: leaf.plugin, ctx } };
  };

  const start: ComposeState = mode === 'wrap' ? { hidden: site.exit, residual: site.entry, spanOutput: site.exit } : { hidden: mode === 'after' ? site.exit : site.entry };
  const state = compose(tree, start);
  const glue = b.scope(tag, 'base', site.layer);
  let adapted: string;
  let bypass: string;
  switch (mode) {
    case 'after':
      [adapted, bypass] = [state.hidden, site.exit];
      break;
    case 'parallel':
      [adapted, bypass] = [glue.add('sum', site.exit, state.hidden), site.exit];
      break;
    case 'before':
      [adapted, bypass] = [state.hidden, site.entry];
      break;
    default: {
      const residual = site.residual as NonNullable<Site['residual']>;
      const last = state.last;
      // Close on the composed state: inside Parallel/BatchSplit its residual and span output are re-assembled batches.
      const residualIn = state.residual ?? site.entry;
      const spanOutput = state.spanOutput ?? site.exit;
      if (last?.plugin.close) adapted = last.plugin.close({ ...last.ctx, residual: residualIn, hidden: state.hidden, spanOutput });
      else {
        const sum = glue.add('residual', state.hidden, residualIn);
        adapted = norm ? glue.layerNorm('LayerNorm', sum, norm.eps, { weight: norm.weight, bias: norm.bias }) : sum;
      }
      bypass = residual.norm;
    }
  }
  const switchNode = b.add('switch', `${tag}.switch`, [adapted, bypass]);
  const created = new Set([...b.nodeIds()].filter((id) => !nodesBefore.has(id)));
  if (mode === 'before') {
    const inSpan = source.spanNodes(source.site(site.name)).filter((id) => b.node(id).inputs.includes(site.entry));
    b.rewireOnly(site.entry, switchNode, inSpan);
  } else {
    b.rewire(bypass, switchNode, created);
    b.retargetSites(bypass, switchNode);
  }
  const names = leaves(tree).map((l) => l.name);
  const composition = describeTree(tree);
  b.recordSplice({ site: site.name, ...(site.layer === undefined ? {} : { layer: site.layer }), mode, adapters: names, composition, switchNode });
  const params = [...b.paramKeys()].filter((k) => !paramsBefore.has(k)).reduce((n, k) => n + b.param(k).shape.reduce((x, y) => x * y, 1), 0);
  report.push({ rule: ruleIndex, site: site.name, ...(site.layer === undefined ? {} : { layer: site.layer }), mode, composition, params });
}

function tap(b: GraphBuilder, rule: PlacementRule, resolved: readonly ResolvedLeaf[], sites: readonly Site[], numLayers: number, ruleIndex: number, report: PlacementEntry[]): void {
  const leaf = resolved[0];
  if (rule.adapter.kind !== 'adapter' || !leaf) throw new PlacementError(`mode 'tap' takes a single adapter, not ${describeTree(rule.adapter)}`);
  const first = sites[0] as Site;
  const paramsBefore = b.paramKeys();
  const name = leaf.use.name;
  const result = leaf.plugin.build({
    name,
    config: leaf.config,
    mode: 'tap',
    site: first,
    layer: undefined,
    numLayers,
    scope: b.scope(`taps.adapters.${name}`, `adapter:${name}`),
    builder: b,
    input: first.exit,
    taps: sites.map((s) => s.exit),
    width: widthAt(b, first.exit),
  });
  const outputs = result.outputs ?? { output: result.output };
  for (const [key, id] of Object.entries(outputs)) b.output(`${name}.${key}`, id);
  const params = [...b.paramKeys()].filter((k) => !paramsBefore.has(k)).reduce((n, k) => n + b.param(k).shape.reduce((x, y) => x * y, 1), 0);
  report.push({ rule: ruleIndex, site: sites.map((s) => s.name).join(' + '), mode: 'tap', composition: name, params });
}

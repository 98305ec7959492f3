import type { CheckpointKeyArgs } from '../checkpoint/artifact';
import { PluginDefinitionError } from '../errors';
import type { GraphBuilder, Scope } from '../graph/builder';
import type { Graph } from '../graph/graph';
import type { Site } from '../graph/types';
import type { OpDef } from '../ops/op-def';
import type { Lowering } from '../passes/lower';
import type { SiteSelector } from '../rewrite/selector';
import type { AdapterRegistry } from './registry';
import type { JsonSchema } from './schema';

/**
 * How an adapter joins a site's span:
 * - after:    exit' = A(exit)
 * - before:   the span reads A(entry) instead of entry
 * - parallel: exit' = exit + A(entry)
 * - wrap:     the adapter receives the span (its output, its residual input and its LayerNorm) and
 *             replaces the span's add & norm (AdapterHub's bottleneck protocol)
 * - tap:      reads the exits of all selected sites and adds new graph outputs; the model path is untouched
 */
export type SpliceMode = 'after' | 'before' | 'parallel' | 'wrap' | 'tap';
export const SPLICE_MODES: readonly SpliceMode[] = ['after', 'before', 'parallel', 'wrap', 'tap'];

/** The original LayerNorm that closes a wrapped span. */
export interface SpanNorm {
  readonly weight: string;
  readonly bias: string;
  readonly eps: number;
}

export interface BuildContext<C> {
  readonly name: string;
  readonly config: C;
  readonly mode: SpliceMode;
  /** The site being adapted (for tap: the first tapped site). */
  readonly site: Site;
  readonly layer: number | undefined;
  readonly numLayers: number;
  /** Names nodes `${site}.adapters.${name}.${local}` and makes the adapter own their parameters. */
  readonly scope: Scope;
  /** For model-level parameters shared across sites (declare with `builder.sharedParam`). */
  readonly builder: GraphBuilder;
  /** What the adapter transforms: after/wrap: the current span output; before/parallel: the span input. */
  readonly input: string;
  /** wrap: the sublayer's residual input (the span entry). */
  readonly residual?: string;
  /** wrap: the original LayerNorm after the residual add, when the span has one. */
  readonly norm?: SpanNorm;
  /** tap: the exits of every selected site, in graph order. */
  readonly taps?: readonly string[];
  /** The model's hidden size at this site. */
  readonly width: number;
}

export interface BuildResult {
  /** The transformed state (for wrap: before the span is closed). */
  readonly output: string;
  /** The adapter's up-projection output before any residual, for fusion. */
  readonly up?: string;
  /** tap: named outputs to add to the graph (published as `${adapterName}.${key}`). */
  readonly outputs?: Readonly<Record<string, string>>;
}

export interface CloseContext<C> extends BuildContext<C> {
  /** The composed state to close. */
  readonly hidden: string;
  /** The span's original output, before any adapter. */
  readonly spanOutput: string;
}

/** One site of a placement, as `paramCount` sees it. */
export interface ParamCountSite {
  readonly name: string;
  readonly layer: number | undefined;
  /** Feature width at the site's entry (a linear site's input features). */
  readonly inWidth: number;
  /** Feature width at the site's exit (its output features; the hidden width for span sites). */
  readonly outWidth: number;
}

export interface ParamCountArgs<C> {
  readonly config: C;
  /** Every site the placement splices at (model-level counts may depend on how many there are). */
  readonly sites: readonly ParamCountSite[];
  /** The model's hidden width. */
  readonly width: number;
  /** The model's depth (transformer layers), for model-level pools sized per layer (prefix tuning's L·2·hidden). */
  readonly numLayers: number;
  /** The model the placement is on, when the caller has it (a union finds each component's default sites in it). */
  readonly graph?: Graph;
  /** The plugins the placement was made with, when the caller has them (a union's components are named, not held). */
  readonly plugins?: AdapterRegistry;
}

export interface ParamCounts {
  /** Parameters each site adds, in the order of `sites`. */
  readonly perSite: readonly number[];
  /** Model-level parameters shared by the sites (0 when there are none, or no sites). */
  readonly shared: number;
}

/** A `paramCount` for plugins without model-level parameters, from a per-site count. */
export function countPerSite<C>(perSite: (config: C, site: ParamCountSite) => number): (args: ParamCountArgs<C>) => ParamCounts {
  return ({ config, sites }) => ({ perSite: sites.map((s) => perSite(config, s)), shared: 0 });
}

/** Where an adapter goes by default: what `addAdapter` uses when the user gives no placement rule. */
export interface DefaultPlacement {
  readonly select: SiteSelector;
  readonly mode: SpliceMode;
}

export interface AdapterPlugin<C extends object = Record<string, unknown>> {
  /** The plugin's name, e.g. `bottleneck`; a config may choose a variant within it. */
  readonly name: string;
  readonly description: string;
  readonly modes: readonly SpliceMode[];
  /** Named configurations this plugin accepts as `{ config: NAME }` (e.g. `seq_bn`), so CLIs can find the plugin by preset. */
  readonly presets?: readonly string[];
  /** Ops that `build` emits beyond core's: a rewrite with this plugin types them, a graph it built runs them. */
  readonly ops?: readonly OpDef[];
  /** Inference lowerings for the subgraphs this plugin builds (see passes/lower.ts); they come with the plugin. */
  readonly lowerings?: readonly Lowering[];
  readonly defaults: C;
  /** JSON schema of the config: unknown fields and wrong types are errors naming the field. */
  readonly schema: JsonSchema;
  /** Turns user input into a full config (presets, shorthands); defaults to `{ ...defaults, ...input }`. */
  resolve?(input: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** Checks beyond the schema; throw ConfigError with a path under `path`. */
  validate?(config: C, path: string): void;
  defaultPlacement?(config: C, graph: Graph): DefaultPlacement;
  build(ctx: BuildContext<C>): BuildResult;
  /** wrap mode: closes the span after composition (default: LayerNorm(hidden + residual)). */
  close?(ctx: CloseContext<C>): string;
  /**
   * Parameters a placement adds (for inspect and tests): one count per site it splices at, plus the model-level
   * parameters it shares across them (declared once with `builder.sharedParam`). Total = Σ perSite + shared.
   */
  paramCount?(args: ParamCountArgs<C>): ParamCounts;
  /** True when this config starts as an exact identity (outputs equal the base model's). */
  isIdentityAtInit?(config: C): boolean;
  /** The `config` object written to AdapterHub's adapter_config.json (default: the config plus `architecture: name`). */
  toHubConfig?(config: C): Record<string, unknown>;
  /** Reads an AdapterHub config back as input for this plugin, or undefined when the config is not this plugin's. */
  fromHubConfig?(hub: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined;
  /**
   * The one key-mapping hook: every full checkpoint key of one of this adapter's parameters, site-bound or model-level
   * (e.g. MAD-X's `bert.invertible_adapters.NAME.F.0.weight`, Compacter's `bert.shared_parameters.NAME.phm_rule`).
   * Default: `${module}.${hubCollection}.${as}.${l}` for each `l` of `hubKeys(local)` (`defaultCheckpointKeys`).
   */
  checkpointKeys?(param: CheckpointKeyArgs<C>): readonly string[];
  /**
   * AdapterHub's names for one of this adapter's parameters (used by the default `checkpointKeys`), given its local key (what follows `adapters.NAME.`,
   * e.g. `scaling.scale`) — relative to the same module, e.g. `['scaling']`. Default: `[local]`. `saveAdapter`
   * writes the tensor under every name (AdapterHub's state dict lists a module shared by two parents under both);
   * `loadAdapter` reads the first name the file has, accepts the others, and checks that copies agree.
   */
  hubKeys?(local: string, config: C): readonly string[];
  /**
   * The ModuleDict of AdapterHub's layer module that holds this plugin's modules: `adapters` (default, bottleneck
   * adapters: `...output.adapters.NAME.x`) or e.g. `loras` (LoRA and (IA)³: `...attention.self.query.loras.NAME.lora_A`).
   */
  readonly hubCollection?: string;
  /**
   * Fields of the hub config whose integral values `saveAdapter` writes as JSON floats (`1.0`, not `1`), for readers
   * that tell them apart: AdapterHub 1.3.0 accepts a numeric `scaling` only when Python parses it as a float.
   */
  readonly hubFloats?: readonly string[];
}

/** Makes an adapter plugin; a plain object, so plugins are easy to write, compose and test. */
export function defineAdapter<C extends object>(plugin: AdapterPlugin<C>): AdapterPlugin<C> {
  if (typeof plugin.name !== 'string' || !/^[a-z][a-z0-9_-]*$/.test(plugin.name)) throw new PluginDefinitionError(String(plugin.name), 'the name must be lower-case letters, digits, _ or -');
  if (!Array.isArray(plugin.modes) || plugin.modes.length === 0) throw new PluginDefinitionError(plugin.name, 'declares no splice modes');
  const unknownMode = plugin.modes.find((m) => !SPLICE_MODES.includes(m));
  if (unknownMode !== undefined) throw new PluginDefinitionError(plugin.name, `unknown splice mode '${String(unknownMode)}' (modes: ${SPLICE_MODES.join(', ')})`);
  if (typeof plugin.build !== 'function') throw new PluginDefinitionError(plugin.name, 'has no build function');
  return Object.freeze({ ...plugin });
}

// MAD-X placement (Pfeiffer et al. 2020): per layer a language adapter followed by a task adapter,
// Stack(lang, task), both with the Pfeiffer placement (after the FFN, wrapping its add & norm); the language
// adapter's invertible block on the embeddings and its inverse before every masked-LM decoder.
import type { AdapterRegistry, AdapterUse, Graph, PlacementEntry, PlacementRule } from '@adapters/core-graph';
import { adapter, applyPlacements, ConfigError, createRegistry, Stack } from '@adapters/core-graph';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { bottleneckInv } from './plugin';

/** MAD-X's language adapters: reduction factor 2. */
export const LANGUAGE_REDUCTION_FACTOR = 2;
/** MAD-X's task adapters: reduction factor 16. */
export const TASK_REDUCTION_FACTOR = 16;

/** A registry with the plugins a MAD-X model uses (bottleneck, bottleneck_inv). */
export const madxRegistry = (): AdapterRegistry => createRegistry([bottleneck, bottleneckInv]);

/**
 * A language adapter: `seq_bn_inv` (Pfeiffer placement + NICE invertible adapter) with reduction factor 2;
 * with `invertible: false`, a plain `seq_bn` bottleneck adapter with reduction factor 2.
 */
export function languageAdapter(name: string, overrides: Readonly<Record<string, unknown>> = {}, invertible = true): AdapterUse {
  return invertible
    ? adapter(bottleneckInv, name, { config: 'seq_bn_inv', reduction_factor: LANGUAGE_REDUCTION_FACTOR, ...overrides })
    : adapter(bottleneck, name, { config: 'seq_bn', reduction_factor: LANGUAGE_REDUCTION_FACTOR, ...overrides });
}

/** A task adapter: `seq_bn` (Pfeiffer) with reduction factor 16. */
export function taskAdapter(name: string, overrides: Readonly<Record<string, unknown>> = {}): AdapterUse {
  return adapter(bottleneck, name, { config: 'seq_bn', reduction_factor: TASK_REDUCTION_FACTOR, ...overrides });
}

/** True when the graph has a masked-LM head (a `lm_decoder_input` site) for the inverse to go before. */
export const hasMaskedLmHead = (graph: Graph): boolean => [...graph.sites.values()].some((s) => s.kind === 'lm_decoder_input');

/**
 * The invertible block of a language adapter: forward on the `embeddings` site; inverse at every masked-LM head's
 * `lm_decoder_input` site, when the graph has one (heads must be added before the rules are applied).
 */
export function invertibleRules(graph: Graph, lang: AdapterUse): PlacementRule[] {
  const rules: PlacementRule[] = [{ adapter: lang, select: { kinds: ['embeddings'] }, mode: 'after' }];
  if (hasMaskedLmHead(graph)) rules.push({ adapter: lang, select: { kinds: ['lm_decoder_input'] }, mode: 'after' });
  return rules;
}

/** A language adapter on its own (MAD-X step 1): Pfeiffer adapters in every layer + the invertible block. */
export function languageAdapterRules(graph: Graph, name: string, overrides: Readonly<Record<string, unknown>> = {}, invertible = true): PlacementRule[] {
  const lang = languageAdapter(name, overrides, invertible);
  return [{ adapter: lang }, ...(invertible ? invertibleRules(graph, lang) : [])];
}

/** A task adapter on its own (Pfeiffer placement, reduction factor 16). */
export function taskAdapterRule(name: string, overrides: Readonly<Record<string, unknown>> = {}): PlacementRule {
  return { adapter: taskAdapter(name, overrides) };
}

/** What a MAD-X model contains: a language adapter, optionally a task adapter stacked on it. */
export interface MadxSpec {
  readonly language: string;
  readonly task?: string;
  /** Overrides of the language adapter's config (defaults: seq_bn_inv, reduction_factor 2). */
  readonly languageConfig?: Readonly<Record<string, unknown>>;
  /** Overrides of the task adapter's config (defaults: seq_bn, reduction_factor 16). */
  readonly taskConfig?: Readonly<Record<string, unknown>>;
  /** Give the language adapter an invertible block (default true). */
  readonly invertible?: boolean;
}

/** A base graph (encoder + heads, no adapters) and the MAD-X graph built from it. */
export interface MadxModel {
  readonly base: Graph;
  readonly graph: Graph;
  readonly spec: MadxSpec;
  readonly report: readonly PlacementEntry[];
}

/** The rules for `spec` on `base`: Stack(lang, task) (or lang alone) in every layer, then the invertible block. */
export function madxRules(base: Graph, spec: MadxSpec): PlacementRule[] {
  if (spec.task !== undefined && spec.task === spec.language) throw new ConfigError('task', `the task adapter needs a name other than the language adapter's ('${spec.language}')`);
  const invertible = spec.invertible ?? true;
  const lang = languageAdapter(spec.language, spec.languageConfig, invertible);
  const layers: PlacementRule = { adapter: spec.task === undefined ? lang : Stack(lang, taskAdapter(spec.task, spec.taskConfig)) };
  return [layers, ...(invertible ? invertibleRules(base, lang) : [])];
}

/**
 * Builds the MAD-X graph from a base graph. Add the heads first (a masked-LM head for language adapters,
 * the task's head): the inverse is only spliced before masked-LM heads that exist when the rules apply.
 */
export function buildMadx(base: Graph, spec: MadxSpec, registry: AdapterRegistry = madxRegistry()): MadxModel {
  if (base.splices.length > 0) throw new ConfigError('base', `the base graph already has adapters (${base.splices.map((s) => s.composition).join(', ')}); build from the graph without adapters`);
  const { graph, report } = applyPlacements(base, madxRules(base, spec), registry);
  return { base, graph, spec, report };
}

/** Parameter owners of the model's language adapter (bottleneck + invertible) and task adapter. */
export const languageOwner = (model: MadxModel): string => `adapter:${model.spec.language}`;
export const taskOwner = (model: MadxModel): string | undefined => (model.spec.task === undefined ? undefined : `adapter:${model.spec.task}`);

// The `compacter` adapter plugin (Karimi Mahabadi et al. 2021): the bottleneck's placement and AdapterHub's protocol
// (createBottleneckPlugin) with PHM layers as the down and up projections. Presets `compacter` (Houlsby placement,
// double_seq_bn protocol) and `compacter++` (Pfeiffer placement, seq_bn protocol).
import type { BottleneckPlacement, Projection } from '@adapters/adapter-bottleneck';
import { createBottleneckPlugin } from '@adapters/adapter-bottleneck';
import type { AdapterCatalog, AdapterPlugin, CheckpointKeyArgs, Graph, Init, ParamArg, ParamDecl, PlacementRule, TrainPolicy } from '@adapters/core-graph';
import { adapter, adapterPolicy, defaultCheckpointKeys, defineAdapter, GraphError } from '@adapters/core-graph';
import type { CompacterConfig } from './config';
import {
  checkPhmDivisible, COMPACTER_PRESET_NAMES, COMPACTER_PRESETS, COMPACTER_SCHEMA, compacterParamCounts, DEFAULT_COMPACTER_PRESET, resolveCompacter, validateCompacter,
} from './config';
import { compacterFromHubConfig, compacterToHubConfig } from './hub';
import { PHM_OP, phmOp } from './phm-op';

/** Prefix of an adapter's model-level (shared) parameters: `shared.adapters.NAME.` (owner `adapter:NAME`, no layer). */
export const sharedPrefix = (name: string): string => `shared.adapters.${name}.`;

/** The key of a shared parameter, e.g. `sharedKey('sst2', 'phm_rule')` = `shared.adapters.sst2.phm_rule`. */
export const sharedKey = (name: string, param: string): string => `${sharedPrefix(name)}${param}`;

/** Rule matrices shared by all layers: N(0, phm_init_range²) or U(-1, 1) (AdapterHub's init_shared_parameters). */
function sharedRuleInit(c: CompacterConfig): Init {
  return c.phm_c_init === 'normal' ? { kind: 'normal', std: c.phm_init_range } : { kind: 'uniform', low: -1, high: 1 };
}

/** Per-layer rule matrices: N(0, 0.01²) or U(-0.01, 0.01) (AdapterHub's PHMLayer.reset_parameters; phm_init_range is not used there). */
function layerRuleInit(c: CompacterConfig): Init {
  return c.phm_c_init === 'normal' ? { kind: 'normal', std: 0.01 } : { kind: 'uniform', low: -0.01, high: 0.01 };
}

/**
 * Init of a W tensor [n, rows, cols], drawn per slice W[i] as AdapterHub's init_W: Glorot with fan_in + fan_out =
 * rows + cols of one slice (not of the 3-D tensor), or N(0, phm_init_range²) for `normal`. `phm` is drawn as
 * `glorot-normal`, which is what AdapterHub does for every value (its `if config["hypercomplex_nonlinearity"]` is always true).
 */
function wInit(c: CompacterConfig, rows: number, cols: number): Init {
  switch (c.hypercomplex_nonlinearity) {
    case 'glorot-uniform': {
      const limit = Math.sqrt(6 / (rows + cols));
      return { kind: 'uniform', low: -limit, high: limit };
    }
    case 'glorot-normal':
    case 'phm':
      return { kind: 'normal', std: Math.sqrt(2 / (rows + cols)) };
    case 'normal':
      return { kind: 'normal', std: c.phm_init_range };
  }
}

const ZEROS: Init = { kind: 'zeros' };

/** A PHM projection k → d under `local` (`adapter_down.0`, `adapter_down.1` or `adapter_up`), with AdapterHub's parameter names. */
export const phmProjection: Projection<CompacterConfig> = (scope, local, input, inDim, outDim, ctx) => {
  const c = ctx.config;
  const n = c.phm_dim;
  checkPhmDivisible(n, inDim, outDim, ctx.path, `the ${ctx.position}-projection ${inDim} → ${outDim}`);
  const a = inDim / n;
  const b = outDim / n;
  const r = c.phm_rank;
  const shared = (param: string, decl: ParamDecl): ParamArg => ({ ref: scope.sharedParam(sharedKey(ctx.name, param), decl) });
  const params: Record<string, ParamArg> = {};
  // Rule matrices A_i.
  if (c.shared_phm_rule) {
    const init = sharedRuleInit(c);
    if (c.factorized_phm_rule) {
      params['phm_rule_left'] = shared('phm_rule_left', { shape: [n, n, 1], init, kind: 'other' });
      params['phm_rule_right'] = shared('phm_rule_right', { shape: [n, 1, n], init, kind: 'other' });
    } else {
      params['phm_rule'] = shared('phm_rule', { shape: [n, n, n], init, kind: 'other' });
    }
  } else {
    const init = layerRuleInit(c);
    if (c.factorized_phm_rule) {
      params['phm_rule_left'] = { shape: [n, n, 1], init, kind: 'other' };
      params['phm_rule_right'] = { shape: [n, 1, n], init, kind: 'other' };
    } else {
      params['phm_rule'] = { shape: [n, n, n], init, kind: 'other' };
    }
  }
  // W (B_i or its factors). init_weights 'mam_adapter' (ours): the up-projection's right factor (or W) starts at 0.
  const zeroUp = ctx.position === 'up' && c.init_weights === 'mam_adapter';
  const decl = (shape: [number, number, number], zero = false): ParamDecl => ({ shape, init: zero ? ZEROS : wInit(c, shape[1], shape[2]), kind: 'other' });
  if (c.factorized_phm_W) {
    const left = decl([n, a, r]);
    const right = decl([n, r, b], zeroUp);
    params['W_left'] = c.shared_W_phm ? shared(`W_${ctx.position}_left`, left) : left;
    params['W_right'] = c.shared_W_phm ? shared(`W_${ctx.position}_right`, right) : right;
  } else {
    const w = decl([n, a, b], zeroUp);
    params['W'] = c.shared_W_phm ? shared(`W_${ctx.position}`, w) : w;
  }
  if (c.phm_bias) params['b'] = { shape: [outDim], init: ZEROS, kind: 'bias' };
  return scope.op(PHM_OP, local, [input], { params, attrs: { strategy: c.phm_strategy } });
};

const compacterBase: AdapterPlugin<CompacterConfig> = createBottleneckPlugin<CompacterConfig>({
  name: 'compacter',
  description: 'Compacter adapters (PHM projections, shared rule matrices): compacter, compacter++',
  presets: COMPACTER_PRESET_NAMES,
  defaults: COMPACTER_PRESETS[DEFAULT_COMPACTER_PRESET],
  schema: COMPACTER_SCHEMA,
  resolve: resolveCompacter,
  validate: validateCompacter,
  projection: phmProjection,
  // The PHM op travels with the plugin: a rewrite with it types the nodes, the graph it builds runs them.
  ops: [phmOp],
  paramCount: compacterParamCounts,
  toHubConfig: compacterToHubConfig,
  fromHubConfig: compacterFromHubConfig,
});

/**
 * Compacter's checkpoint keys: a shared parameter `shared.adapters.NAME.x` is AdapterHub's
 * `${prefix}shared_parameters.NAME.x` (its `base_model.shared_parameters[NAME]`), also written under our own
 * `${prefix}shared.adapters.NAME.x` (files saved before this hook have both; AdapterHub ignores it); the rest as the
 * bottleneck's.
 */
export function compacterCheckpointKeys(param: CheckpointKeyArgs<CompacterConfig>): readonly string[] {
  const own = defaultCheckpointKeys(compacterBase as never, param as never);
  if (param.site !== undefined || !param.key.startsWith('shared.adapters.')) return own;
  return [`${param.prefix}shared_parameters.${param.as}.${param.local}`, ...own];
}

/** Compacter (Houlsby placement) and Compacter++ (Pfeiffer placement) with PHM projections; AdapterHub's CompacterConfig / CompacterPlusPlusConfig. */
export const compacter: AdapterPlugin<CompacterConfig> = defineAdapter<CompacterConfig>({ ...compacterBase, checkpointKeys: compacterCheckpointKeys });

/** A placement rule for one Compacter: `compacterRule('sst2', 'compacter++', { phm_dim: 8 })`. */
export function compacterRule(name: string, preset: string = DEFAULT_COMPACTER_PRESET, overrides: Readonly<Record<string, unknown>> = {}, placement: BottleneckPlacement = {}): PlacementRule {
  return { adapter: adapter(compacter, name, { config: preset, ...overrides }), ...placement };
}

const RULE_KEY = /\.phm_rule(_left|_right)?$/;

/**
 * `base` (default adapterPolicy) with the rule matrices of every Compacter whose config has `learn_phm: false`
 * frozen. Core-graph policies see only a parameter's owner and kind, so `learn_phm` needs this wrapper.
 */
export function compacterPolicy(graph: Graph, base: TrainPolicy = adapterPolicy): TrainPolicy {
  const catalog = (graph.meta['adapters'] as AdapterCatalog | undefined) ?? {};
  const frozen = new Set(Object.entries(catalog).filter(([, e]) => e.plugin === compacter.name && e.config['learn_phm'] === false).map(([n]) => `adapter:${n}`));
  return (p) => base(p) && !(frozen.has(p.owner) && RULE_KEY.test(p.key));
}

/** The keys of an adapter's shared (model-level) parameters in `graph`. */
export function sharedParamKeys(graph: Graph, name: string): string[] {
  if (![...graph.params.values()].some((p) => p.owner === `adapter:${name}`)) throw new GraphError(`the graph has no parameters of adapter '${name}'`);
  return [...graph.params.keys()].filter((k) => k.startsWith(sharedPrefix(name)));
}

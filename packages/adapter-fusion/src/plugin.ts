// The `Fuse` composition block (Pfeiffer et al. 2021, AdapterHub's `compose_fuse` + `BertFusion`), carrying the
// fusion ops it emits; `fuse()` trees carry it, and `fusionPackage` lists it for `createRuntime`. At one site, with h = sublayer output, x = sublayer input:
//   a, q, r  = pre_forward of the LAST fused adapter (seq_bn: a = LN(h + x), q = a (or h: query_before_ln), r = h)
//   z_n      = up-projection of adapter n on a                 (each child runs on the same state)
//   Z        = stack(z_1..z_N)  [batch, seq, N, d]             (+ r first, when residual_before)
//   p        = softmax_n((Q q) · (K z_n) / T)                  (dropout on the scores while training)
//   out      = Σ_n p_n V z_n  (+ r)
// Computed without projecting the N outputs: (Q q)·(K z_n) = ((Q q) Kᵀ)·z_n + (Q q)·b_K, and V (no bias) is
// applied once to Σ_n p_n z_n. Same parameters and values as AdapterHub, 2 instead of 2N + 1 full-width matmuls.
//   y        = the last adapter's close: LN(out + x)           (AdapterHub's post_forward)
import type {
  AdapterTree, BlockContext, BlockDef, BlockPosition, CompositionBlock, ComposeState, GraphBuilder, GraphMeta, Init, Scope, SpliceMode,
} from '@adapters/core-graph';
import { block, compositionRegistry, describeTree, leaves, PlacementError, STATE_OWNER_PREFIX } from '@adapters/core-graph';
import type { FusionConfig, FusionConfigInput } from './config';
import { DEFAULT_FUSION_PRESET, resolveFusionConfig, TEMPERATURE_START, toHubFusionConfig } from './config';
import { FUSION_OPS, registerFusionOps } from './ops';

declare module '@adapters/core-graph' {
  interface GraphMetaRegister {
    /** The fusions placed in the graph, by name (adapter-fusion). */
    readonly fusions?: FusionCatalog;
  }
}

/** Where a fusion layer's nodes are, per site (kept in graph meta `fusions`). */
export interface FusionSiteRecord {
  readonly layer?: number;
  /** Names of the fused children at this site, in order (AdapterHub: the adapters; a Stack child by its last adapter). */
  readonly children: readonly string[];
  /** Node ids of the softmax weights [batch, seq, N], the fusion output (before the span is closed), query and stacked outputs. */
  readonly probs: string;
  readonly output: string;
  readonly query: string;
  /** The fusion residual (added to the weighted sum, or to the stack with residual_before). */
  readonly residual: string;
  readonly stacked: string;
  /** The fused children's outputs (their up-projections), in order. */
  readonly ups: readonly string[];
  /** Parameter keys of Q, K, V at this site by AdapterHub module name (`query.weight`, ...). */
  readonly params: Readonly<Record<string, string>>;
}

export interface FusionRecord {
  readonly name: string;
  readonly config: FusionConfig;
  /** The union of the fused children over all sites, in order of first appearance. */
  readonly adapters: readonly string[];
  readonly sites: Readonly<Record<string, FusionSiteRecord>>;
}

export type FusionCatalog = Readonly<Record<string, FusionRecord>>;

export const FUSIONS_META = 'fusions';

export interface FuseOptions {
  /** The fusion's name (weights are owned by `fusion:NAME`); AdapterHub's default: the children's names joined by ','. */
  readonly name?: string;
  /** A preset name (`dynamic`, `static`) or `{ config?: preset, ...AdapterHub fields }`. Default `dynamic`. */
  readonly config?: FusionConfigInput;
}

/** AdapterHub's `Fuse.name`: children joined by ',', a Stack child by its last adapter. */
export function defaultFusionName(children: readonly AdapterTree[]): string {
  return children.map(childName).join(',');
}

function childName(child: AdapterTree): string {
  if (child.kind === 'adapter') return child.name;
  const ls = leaves(child);
  return (ls[ls.length - 1] as { name: string }).name;
}

/** `fuse([a, b], { name, config })`: a Fuse block with a resolved config. */
export function fuse(children: readonly AdapterTree[], options: FuseOptions = {}): CompositionBlock {
  const name = options.name ?? defaultFusionName(children);
  checkFusionName(name);
  return block('Fuse', children, { name, config: { ...resolveFusionConfig(options.config ?? DEFAULT_FUSION_PRESET, `Fuse(${name}).config`) } }, fuseBlock);
}

/** `Fuse(a, b, c)`: fuse adapters with the default (dynamic) config, named 'a,b,c'. */
export function Fuse(...children: AdapterTree[]): CompositionBlock {
  return fuse(children);
}

/**
 * The weight key of a `temperature: true` fusion's softmax temperature T: one scalar per fusion, shared by its sites,
 * in the weight store (so two models in one process keep their own T, and saveFusion/loadFusion carry it). Its owner
 * is `fusionStateOwner(name)` (`state:fusion:NAME`), which no core policy trains.
 */
export const fusionTemperatureKey = (name: string): string => `fusions.${name}.temperature`;
export const fusionStateOwner = (name: string): string => `${STATE_OWNER_PREFIX}fusion:${name}`;

export function checkFusionName(name: string): void {
  if (!/^[A-Za-z0-9_,-]+$/.test(name)) throw new PlacementError(`fusion name '${name}' may use only letters, digits, _, - and ','`);
}

/** The fusions of a graph (graph meta `fusions`). */
export function fusionCatalog(graph: { readonly meta: GraphMeta }): FusionCatalog {
  return graph.meta.fusions ?? {};
}

/** The fields of a bottleneck-protocol config that decide pre_forward (AdapterHub's Adapter / ParallelAdapter). */
interface PreForwardFields {
  readonly is_parallel: boolean;
  readonly original_ln_before: boolean;
  readonly residual_before_ln: boolean | 'post_add';
}

function preForwardFields(config: object): PreForwardFields | undefined {
  const c = config as Record<string, unknown>;
  if (!('original_ln_before' in c) || !('residual_before_ln' in c)) return undefined;
  return { is_parallel: c['is_parallel'] === true, original_ln_before: c['original_ln_before'] === true, residual_before_ln: c['residual_before_ln'] as boolean | 'post_add' };
}

/** What must agree between fused adapters so that running each child's own pre_forward equals AdapterHub's shared one. */
function protocolOf(state: ComposeState): string {
  const last = state.last;
  if (!last) return 'none';
  const f = preForwardFields(last.ctx.config);
  return f ? JSON.stringify(f) : `plugin:${last.plugin.name}`;
}

function spanNormOf(b: GraphBuilder, ctx: BlockContext): { weight: string; bias: string; eps: number } | undefined {
  const id = ctx.site.residual?.norm;
  if (id === undefined) return undefined;
  const n = b.node(id);
  const weight = n.params['weight'];
  const bias = n.params['bias'];
  if (n.op !== 'layerNorm' || weight === undefined || bias === undefined) return undefined;
  return { weight, bias, eps: n.attrs['eps'] as number };
}

/**
 * The query and fusion residual: AdapterHub's pre_forward of the last fused adapter (with the fusion config).
 * Plugins outside the bottleneck protocol (no `original_ln_before` / `residual_before_ln` fields) read and keep
 * the state they are given: query = residual = that state.
 */
function queryAndResidual(ctx: BlockContext, sc: Scope, state: ComposeState, last: ComposeState, config: FusionConfig): { query: string; residual: string } {
  const h = state.hidden;
  const x = state.residual;
  const fields = last.last ? preForwardFields(last.last.ctx.config) : undefined;
  if (ctx.mode !== 'wrap' || x === undefined || !fields) return { query: h, residual: h };
  if (fields.is_parallel) return { query: x, residual: x };
  let residual: string | undefined = fields.residual_before_ln === true ? h : undefined;
  let a = h;
  if (fields.original_ln_before) {
    const sum = sc.add('pre_residual', h, x);
    if (fields.residual_before_ln === 'post_add') residual = sum;
    const norm = spanNormOf(ctx.builder, ctx);
    a = norm ? sc.layerNorm('pre_LayerNorm', sum, norm.eps, { weight: norm.weight, bias: norm.bias }) : sum;
  }
  if (fields.residual_before_ln === false) residual = a;
  return { query: config.query_before_ln ? h : a, residual: residual ?? a };
}

const BERT_INIT: Init = { kind: 'normal', std: 0.02 };

function composeFuse(ctx: BlockContext, node: CompositionBlock, state: ComposeState, composeChild: (c: AdapterTree, s: ComposeState) => ComposeState): ComposeState {
  const desc = describeTree(node);
  const where = `${desc} at '${ctx.site.name}'`;
  const allowed: readonly SpliceMode[] = ['wrap', 'after', 'before'];
  if (!allowed.includes(ctx.mode)) throw new PlacementError(`${where}: Fuse cannot be placed with mode '${ctx.mode}' (use ${allowed.join(', ')}; AdapterHub fuses at the bottleneck layer, mode 'wrap')`);
  const name = typeof node.options?.['name'] === 'string' ? node.options['name'] : defaultFusionName(node.children);
  checkFusionName(name);
  const config = resolveFusionConfig((node.options?.['config'] as FusionConfigInput | undefined) ?? DEFAULT_FUSION_PRESET, `Fuse(${name}).config`);

  const results = node.children.map((c) => composeChild(c, state));
  const names = node.children.map(childName);
  results.forEach((r, i) => {
    if (r.up === undefined) {
      throw new PlacementError(`${where}: '${names[i]}' gives no output to fuse (it is left out at this layer, or its plugin returns no up-projection)`);
    }
  });
  const protocols = results.map(protocolOf);
  const odd = protocols.findIndex((p) => p !== protocols[0]);
  if (odd > 0) {
    throw new PlacementError(`${where}: adapters '${names[0]}' and '${names[odd]}' are incompatible for fusion: they read the sublayer differently (${protocols[0]} vs ${protocols[odd]}); all fused adapters must share placement and input protocol`);
  }
  const last = results[results.length - 1] as ComposeState;

  const sc = ctx.blockScope(`fusion:${name}`);
  const d = ctx.width;
  const { query, residual } = queryAndResidual(ctx, sc, state, last, config);
  let stacked = sc.op('fusionStack', 'stack', results.map((r) => r.up as string));
  // AdapterHub adds the residual in place to the one tensor it passes as both keys and values.
  if (config.residual_before) stacked = sc.add('residual_before', stacked, sc.op('fusionExpand', 'residual_expand', [residual]));
  const params: Record<string, string> = {};
  const dense = (local: 'query' | 'key' | 'value', x: string, bias: boolean, init: Init): string => {
    const id = sc.dense(local, x, d, { bias, init });
    const n = ctx.builder.node(id);
    params[`${local}.weight`] = n.params['weight'] as string;
    if (bias) params[`${local}.bias`] = n.params['bias'] as string;
    return id;
  };
  const q = config.query ? dense('query', query, true, BERT_INIT) : query;
  const valueInit: Init = config.value_initialized ? { kind: 'identity', offDiagonal: 1e-6 } : BERT_INIT;
  const model = ctx.builder.getMeta('config');
  const dropout = config.dropout_prob ?? model?.attentionDropout ?? 0;
  const softmaxAttrs = { dropout };
  const softmaxParams = config.temperature ? { temperature: { ref: declareTemperature(ctx, name) } } : {};
  let probs: string;
  if (config.key) {
    // The key projection is folded into the query (fusionKeyScores): same parameters and keys as a dense 'key'.
    const id = sc.op('fusionKeyScores', 'key', [q, stacked], {
      params: { weight: { shape: [d, d], init: BERT_INIT, kind: 'kernel' }, bias: { shape: [d], init: { kind: 'zeros' }, kind: 'bias' } },
    });
    const n = ctx.builder.node(id);
    params['key.weight'] = n.params['weight'] as string;
    params['key.bias'] = n.params['bias'] as string;
    probs = sc.op('fusionSoftmax', 'probs', [id], { attrs: softmaxAttrs, params: softmaxParams });
  } else {
    probs = sc.op('fusionProbs', 'probs', [q, stacked], { attrs: softmaxAttrs, params: softmaxParams });
  }
  let out = sc.op('fusionMix', 'context', [probs, stacked]);
  // The value projection has no bias, so Σ_n p_n (z_n V) = (Σ_n p_n z_n) V: applied once after the mix whether
  // AdapterHub's value_before_softmax says before or after (it projects all N outputs when it says before).
  if (config.value) out = dense('value', out, false, valueInit);
  if (!config.residual_before) out = sc.add('residual', out, residual);

  record(ctx, name, config, names, { ...(ctx.site.layer === undefined ? {} : { layer: ctx.site.layer }), children: names, probs, output: out, query, residual, stacked, ups: results.map((r) => r.up as string), params });
  return { hidden: out, ...(state.residual === undefined ? {} : { residual: state.residual }), ...(last.last ? { last: last.last } : {}) };
}

/** Declares (once per fusion) the scalar T, starting at AdapterHub's 50; trainFusion anneals it. */
function declareTemperature(ctx: BlockContext, name: string): string {
  const decl = { shape: [], init: { kind: 'constant', value: TEMPERATURE_START }, kind: 'scalar' } as const;
  return ctx.builder.withOwner(fusionStateOwner(name), undefined, () => ctx.builder.sharedParam(fusionTemperatureKey(name), decl));
}

function record(ctx: BlockContext, name: string, config: FusionConfig, names: readonly string[], site: FusionSiteRecord): void {
  const b = ctx.builder;
  const catalog = b.getMeta('fusions') ?? {};
  const known = catalog[name];
  if (known && JSON.stringify(toHubFusionConfig(known.config)) !== JSON.stringify(toHubFusionConfig(config))) {
    throw new PlacementError(`fusion '${name}' already exists with a different config`);
  }
  if (known?.sites[ctx.site.name]) throw new PlacementError(`fusion '${name}' is already placed at '${ctx.site.name}'`);
  const adapters = [...(known?.adapters ?? [])];
  for (const n of names) if (!adapters.includes(n)) adapters.push(n);
  const entry: FusionRecord = { name, config, adapters, sites: { ...(known?.sites ?? {}), [ctx.site.name]: site } };
  b.setMeta('fusions', { ...catalog, [name]: entry });
}

/** The `Fuse` block definition (children: adapters or Stacks, as AdapterHub allows) and the ops it emits. */
export const fuseBlock: BlockDef = {
  type: 'Fuse',
  ops: FUSION_OPS,
  allowedChildren: ['adapter', 'Stack'],
  validate: validateFuse,
  compose: composeFuse,
};

/** Before any placement: the name and the config (the errors name the Fuse block and the tree). */
function validateFuse(node: CompositionBlock, { tree }: BlockPosition): void {
  const raw = node.options?.['name'];
  if (raw !== undefined && typeof raw !== 'string') throw new PlacementError(`${describeTree(node)} in ${tree}: name must be a string`);
  const name = raw ?? defaultFusionName(node.children);
  try {
    checkFusionName(name);
    resolveFusionConfig((node.options?.['config'] as FusionConfigInput | undefined) ?? DEFAULT_FUSION_PRESET, `Fuse(${name}).config`);
  } catch (e) {
    if (e instanceof PlacementError) throw new PlacementError(`${describeTree(node)} in ${tree}: ${e.message}`);
    throw e;
  }
}

/**
 * Registers the fusion ops and the Fuse block with core-graph's default runtime (idempotent), for code that builds
 * `block('Fuse', ...)` trees by name without a runtime. Importing the package no longer does it: use
 * `createRuntime([fusionPackage, ...])`, or `fuse()` trees, which carry the block.
 */
export function registerFusion(): void {
  registerFusionOps();
  compositionRegistry.register(fuseBlock);
}

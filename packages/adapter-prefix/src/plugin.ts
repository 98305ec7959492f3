// The `prefix_tuning` plugin: prefix tuning (Li & Liang 2021) as AdapterHub's PrefixTuningConfig (adapters 1.3,
// methods/prefix_tuning.py). One model-level pool per adapter (`shared.adapters.NAME.*`) produces, for the L layers
// that carry a prefix, a table KV [P, L·2·hidden]:
//   MLP (flat = false):  KV = dropout(W₂ᵀ·act(W₁ᵀ·E + b₁) + b₂),  E [P, hidden] (wte), W₁ [hidden, bottleneck], W₂ [bottleneck, L·2·hidden]
//   flat:                KV = dropout(T),  T [P, L·2·hidden]
// Layer l's prefix keys are columns [2j·hidden, (2j+1)·hidden) and values [(2j+1)·hidden, (2j+2)·hidden), j = its
// index among the prefixed layers (AdapterHub's view [P, 2L, heads, head_dim]); the layer's attention is rebuilt with
// them prepended to k and v and the mask extended by P ones (the site `layer.{i}.attention.self`, mode `after`).
import type { AnyAdapterPlugin, BuildContext, BuildResult, DefaultPlacement, Graph, GraphBuilder, Init, Scope } from '@adapters/core-graph';
import { defineAdapter, PlacementError } from '@adapters/core-graph';
import type { PrefixTuningConfig } from './config';
import { PREFIX_DEFAULTS, PREFIX_SCHEMA, prefixLayers, validatePrefix } from './config';
import { prefixFromHubConfig, prefixToHubConfig } from './hub';
import { PREFIX_TABLE_OP, prefixTableOp } from './ops';

/** Site kind the encoder declares per layer for prefix tuning (opt-in: only selected by kind or exact name). */
export const PREFIX_SITE_KIND = 'prefix';

/** torch defaults: nn.Embedding and torch.randn are N(0, 1); nn.Linear is U(±1/√fan_in) for weight and bias. */
const STANDARD_NORMAL: Init = { kind: 'normal', std: 1 };
const linearInit = (fanIn: number): { init: Init; biasInit: Init } => ({
  init: { kind: 'kaimingUniform', a: Math.sqrt(5) },
  biasInit: { kind: 'uniform', low: -1 / Math.sqrt(fanIn), high: 1 / Math.sqrt(fanIn) },
});

/** Node ids of an adapter's pool. */
export const poolScope = (name: string): string => `shared.adapters.${name}`;
/** The node holding KV [P, L·2·hidden] (before dropout). */
export const poolOutput = (name: string, c: PrefixTuningConfig): string => `${poolScope(name)}.${c.flat ? 'control_trans' : 'control_trans.2'}`;

/** Parameters of the pool for L prefixed layers of width `hidden`. */
export function prefixParamCount(c: PrefixTuningConfig, hidden: number, layers: number): number {
  const out = layers * 2 * hidden;
  return c.flat ? c.prefix_length * out : c.prefix_length * hidden + hidden * c.bottleneck_size + c.bottleneck_size + c.bottleneck_size * out + out;
}

/** KV with dropout, built once per adapter (the first layer's splice declares the pool's parameters). */
function pool(ctx: BuildContext<PrefixTuningConfig>, hidden: number, layers: number): string {
  const c = ctx.config;
  const sc: Scope = ctx.builder.scope(poolScope(ctx.name), `adapter:${ctx.name}`);
  const kvId = poolOutput(ctx.name, c);
  const dropped = sc.id('dropout');
  if (ctx.builder.has(kvId)) return c.dropout > 0 ? dropped : kvId;
  const out = layers * 2 * hidden;
  let kv: string;
  if (c.flat) {
    kv = sc.op(PREFIX_TABLE_OP, 'control_trans', [], { params: { weight: { shape: [c.prefix_length, out], init: STANDARD_NORMAL, kind: 'embedding' } } });
  } else {
    const wte = sc.op(PREFIX_TABLE_OP, 'wte', [], { params: { weight: { shape: [c.prefix_length, hidden], init: STANDARD_NORMAL, kind: 'embedding' } } });
    const h = sc.act(c.non_linearity, 'control_trans.1', sc.dense('control_trans.0', wte, c.bottleneck_size, linearInit(hidden)));
    kv = sc.dense('control_trans.2', h, out, linearInit(c.bottleneck_size));
  }
  return c.dropout > 0 ? sc.dropout('dropout', kv, c.dropout) : kv;
}

const width = (b: GraphBuilder, id: string): number => {
  const d = b.typeOf(id).shape.at(-1);
  if (typeof d !== 'number') throw new PlacementError(`node '${id}' has no fixed feature width`);
  return d;
};

function build(ctx: BuildContext<PrefixTuningConfig>): BuildResult {
  const { site, builder: b } = ctx;
  if (site.kind !== PREFIX_SITE_KIND || site.layer === undefined) {
    throw new PlacementError(`adapter '${ctx.name}' (prefix_tuning) extends a self-attention: place it at a '${PREFIX_SITE_KIND}' site (select: { kinds: ['${PREFIX_SITE_KIND}'] }), not '${site.name}' (${site.kind})`);
  }
  if (ctx.input !== site.exit) throw new PlacementError(`adapter '${ctx.name}' (prefix_tuning) at '${site.name}': composition blocks (Stack, Parallel, ...) are not supported; place it alone`);
  const layers = prefixLayers(ctx.config, ctx.numLayers);
  const index = layers.indexOf(site.layer);
  if (index < 0) throw new PlacementError(`adapter '${ctx.name}': layer ${site.layer} is in leave_out, but the rule selects '${site.name}'`);
  const attention = b.node(site.exit);
  if (attention.op !== 'attention' || attention.inputs.length !== 4) {
    throw new PlacementError(`adapter '${ctx.name}' at '${site.name}': expected a masked attention node (q, k, v, mask) as the site's exit, got '${attention.op}' with ${attention.inputs.length} inputs (one prefix per layer)`);
  }
  const hidden = width(b, site.exit);
  const kv = pool(ctx, hidden, layers.length);
  const sc = ctx.scope;
  const keys = sc.op('slice', 'prefix_keys', [kv], { attrs: { axis: 1, begin: 2 * index * hidden, size: hidden } });
  const values = sc.op('slice', 'prefix_values', [kv], { attrs: { axis: 1, begin: (2 * index + 1) * hidden, size: hidden } });
  return { output: sc.op('attention', 'context', [...attention.inputs, keys, values], { attrs: attention.attrs }) };
}

/** Every prefix site except leave_out's layers. */
export function prefixDefaultPlacement(c: PrefixTuningConfig, graph: Graph): DefaultPlacement {
  const names = [...graph.sites.values()].filter((s) => s.kind === PREFIX_SITE_KIND && s.layer !== undefined && !c.leave_out.includes(s.layer)).map((s) => s.name);
  if (names.length === 0) throw new PlacementError(`prefix_tuning: the model has no '${PREFIX_SITE_KIND}' sites outside leave_out`);
  return { select: { kinds: [PREFIX_SITE_KIND], names }, mode: 'after' };
}

/** AdapterHub's pool names: `wte.weight`, `control_trans.0.weight`, ..., and flat's `control_trans` (no `.weight`). */
export function prefixHubKeys(local: string): readonly string[] {
  return [local === 'control_trans.weight' ? 'control_trans' : local];
}

export const prefixTuning = defineAdapter<PrefixTuningConfig>({
  name: 'prefix_tuning',
  description: 'Prefix tuning (AdapterHub PrefixTuningConfig): per-layer key/value prefixes from a reparameterisation MLP or flat',
  modes: ['after'],
  // The flat prefix table op travels with the plugin: a rewrite with it types the node, the graph it builds runs it.
  ops: [prefixTableOp],
  defaults: PREFIX_DEFAULTS,
  schema: PREFIX_SCHEMA,
  validate: validatePrefix,
  defaultPlacement: prefixDefaultPlacement,
  build,
  // No paramCount: the pool's size depends on the model's depth (L·2·hidden outputs), which paramCount(config,
  // width, layer) is not given; prefixParamCount(config, hidden, L) is the count, checked against the placement report.
  // Extra attended keys change every output.
  isIdentityAtInit: () => false,
  toHubConfig: prefixToHubConfig,
  fromHubConfig: prefixFromHubConfig,
  hubKeys: prefixHubKeys,
  hubCollection: 'prefix_tunings',
  hubFloats: ['dropout'],
});

/** Every plugin of this package, for `createRegistry(plugins)` and CLI discovery. */
export const plugins: readonly AnyAdapterPlugin[] = [prefixTuning];

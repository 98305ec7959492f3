// The `prefix_tuning` plugin: prefix tuning (Li & Liang 2021) as AdapterHub's PrefixTuningConfig (adapters 1.3,
// methods/prefix_tuning.py). One model-level pool per adapter (`shared.adapters.NAME.*`) produces, for the L layers
// that carry a prefix, a table KV [P, L·2·hidden]:
//   MLP (flat = false):  KV = dropout(W₂ᵀ·act(W₁ᵀ·E + b₁) + b₂),  E [P, hidden] (wte), W₁ [hidden, bottleneck], W₂ [bottleneck, L·2·hidden]
//   flat:                KV = dropout(T),  T [P, L·2·hidden] (stored 1-D, [P·L·2·hidden], as AdapterHub stores it)
// Layer l's prefix keys are columns [2j·hidden, (2j+1)·hidden) and values [(2j+1)·hidden, (2j+2)·hidden), j = its
// index among the prefixed layers (AdapterHub's view [P, 2L, heads, head_dim]); the layer's attention is rebuilt with
// them prepended to k and v and the mask extended by P ones (the site `layer.{i}.attention.self`, mode `after`).
import type { AnyAdapterPlugin, BuildContext, CheckpointKeyArgs, BuildResult, DefaultPlacement, Graph, GraphBuilder, Init, Scope } from '@adapters/core-graph';
import { defineAdapter, PlacementError, SEQ_MEAN_OP } from '@adapters/core-graph';
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

/** Gate outputs per layer with use_gating: one shared by keys and values, or one each. */
export const prefixGates = (c: PrefixTuningConfig): number => (c.shared_gating ? 1 : 2);

/** Parameters of the pool for L prefixed layers of width `hidden`, plus each layer's gate with use_gating. */
export function prefixParamCount(c: PrefixTuningConfig, hidden: number, layers: number): number {
  const out = layers * 2 * hidden;
  const pool = c.flat ? c.prefix_length * out : c.prefix_length * hidden + hidden * c.bottleneck_size + c.bottleneck_size + c.bottleneck_size * out + out;
  return pool + (c.use_gating ? layers * (hidden + 1) * prefixGates(c) : 0);
}

/**
 * UniPELT's gate (AdapterHub PrefixTuningLayer.prefix_gates): g = mean over positions of sigmoid(x·W_g + b_g),
 * [batch, 1, gates]; W_g ~ N(0, 0.02²), b_g as nn.Linear (U(±1/√hidden)). Returns the key and value gates [batch, 1, 1].
 */
function prefixGate(sc: Scope, x: string, hidden: number, gates: number): { key: string; value: string } {
  const bound = 1 / Math.sqrt(hidden);
  const logits = sc.dense('gate', x, gates, { init: { kind: 'normal', std: 0.02 }, biasInit: { kind: 'uniform', low: -bound, high: bound } });
  const g = sc.op(SEQ_MEAN_OP, 'gate_mean', [sc.act('sigmoid', 'gate_act', logits)]);
  if (gates === 1) return { key: g, value: g };
  return {
    key: sc.op('slice', 'gate_key', [g], { attrs: { axis: 2, begin: 0, size: 1 } }),
    value: sc.op('slice', 'gate_value', [g], { attrs: { axis: 2, begin: gates - 1, size: 1 } }),
  };
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
    // Stored 1-D as AdapterHub's FlatPrefixTuning.control_trans [P·L·2·hidden] (files exchange as they are), read as P rows.
    kv = sc.op(PREFIX_TABLE_OP, 'control_trans', [], { attrs: { rows: c.prefix_length }, params: { weight: { shape: [c.prefix_length * out], init: STANDARD_NORMAL, kind: 'embedding' } } });
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
  let keys = sc.op('slice', 'prefix_keys', [kv], { attrs: { axis: 1, begin: 2 * index * hidden, size: hidden } });
  let values = sc.op('slice', 'prefix_values', [kv], { attrs: { axis: 1, begin: (2 * index + 1) * hidden, size: hidden } });
  if (ctx.config.use_gating) {
    // Per example: [batch, 1, 1] · [prefix, hidden] → [batch, prefix, hidden], which the attention op takes as is.
    const gate = prefixGate(sc, site.entry, hidden, prefixGates(ctx.config));
    keys = sc.op('mul', 'gated_keys', [keys, gate.key]);
    values = sc.op('mul', 'gated_values', [values, gate.value]);
  }
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

/**
 * AdapterHub's own module paths (adapters 1.3 on BERT): the pool is the model-level
 * `prefix_tuning.prefix_tunings.NAME.self_prefix.*` (`self_prefix`: BERT self-attention's location key), each layer's
 * gate `encoder.layer.N.attention.self.prefix_tuning.prefix_gates.NAME.{weight,bias}`.
 */
export function prefixCheckpointKeys(p: CheckpointKeyArgs<PrefixTuningConfig>): readonly string[] {
  // Model-level pool (no site): AdapterHub's bert.prefix_tuning.prefix_tunings.NAME.self_prefix.*
  if (p.site === undefined) return prefixHubKeys(p.local).map((l) => `${p.prefix}prefix_tuning.prefix_tunings.${p.as}.self_prefix.${l}`);
  const gate = /^gate\.(weight|bias)$/.exec(p.local);
  if (gate) return [`${p.module as string}.prefix_tuning.prefix_gates.${p.as}.${gate[1] as string}`];
  return [`${p.module as string}.prefix_tunings.${p.as}.${p.local}`];
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
  // The pool is model-level: its outputs cover every prefixed layer of the model (L·2·hidden, L = numLayers minus
  // leave_out), declared once by the first splice; the sites add nothing of their own.
  paramCount: ({ config, sites, width: hidden, numLayers }) => ({
    perSite: sites.map(() => 0),
    shared: sites.length === 0 ? 0 : prefixParamCount(config, hidden, prefixLayers(config, numLayers).length),
  }),
  // Extra attended keys change every output.
  isIdentityAtInit: () => false,
  toHubConfig: prefixToHubConfig,
  fromHubConfig: prefixFromHubConfig,
  checkpointKeys: prefixCheckpointKeys,
  hubCollection: 'prefix_tunings',
  hubFloats: ['dropout'],
});

/** Every plugin of this package, for `createRegistry(plugins)` and CLI discovery. */
export const plugins: readonly AnyAdapterPlugin[] = [prefixTuning];

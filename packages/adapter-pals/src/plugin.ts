// The `pals` plugin: Projected Attention Layers (Stickland & Murray 2019, "BERT and PALs"). In every adapted layer l
// a task-specific function runs in parallel to the whole layer (self-attention + FFN) and is added before the
// layer's final LayerNorm:
//   a = LN(h + SA(h)),   h' = LN(a + FFN(a) + TS(h)),   TS(h) = V^D · g(V^E · h)
// with g a multi-head self-attention in d_s dimensions (query, key, value per layer; no output projection, V^D
// plays that role) and V^E [hidden → d_s], V^D [d_s → hidden] shared by all layers of one adapter (model-level
// parameters `shared.adapters.NAME.encoder|decoder`). One adapter = one task's PALs; multi-task runs give each task
// its own adapter. Spliced at the `ffn` site in mode `parallel` (the site's exit, FFN(a), gets TS(h) added), reading
// the layer input h from the layer's `attention` site entry.
import type { AnyAdapterPlugin, BuildContext, BuildResult, DefaultPlacement, Graph, Init, ParamCountArgs, ParamCounts, Site } from '@adapters/core-graph';
import { defineAdapter, PlacementError } from '@adapters/core-graph';
import type { PalsConfig } from './config';
import { PALS_DEFAULTS, PALS_SCHEMA, palsLayerParams, palsSharedParams, palsWidth, validatePals } from './config';
import { PALS_HUB_COLLECTION } from './hub';

const BERT: Init = { kind: 'normal', std: 0.02 };
const ZEROS: Init = { kind: 'zeros' };

/** Prefix of an adapter's model-level (shared) parameters. */
export const palsSharedPrefix = (name: string): string => `shared.adapters.${name}.`;

/** The input of layer `layer` (the entry of its attention sublayer, after any rewiring by earlier splices). */
function layerInput(sites: readonly Site[], layer: number | undefined, at: string): string {
  const attention = sites.find((s) => s.kind === 'attention' && s.layer === layer);
  if (!attention) throw new PlacementError(`pals at '${at}': the model has no attention site in layer ${String(layer)} to read the layer input from`);
  return attention.entry;
}

function build(ctx: BuildContext<PalsConfig>): BuildResult {
  const c = ctx.config;
  const site = ctx.site;
  if (ctx.mode !== 'parallel' || site.kind !== 'ffn') {
    throw new PlacementError(`adapter '${ctx.name}' (pals) runs in parallel to a whole layer: place it at 'ffn' sites in mode 'parallel' (select: { kinds: ['ffn'] }), not '${site.name}' (${site.kind}, ${ctx.mode})`);
  }
  if (ctx.input !== site.entry) {
    throw new PlacementError(`adapter '${ctx.name}' (pals) at '${site.name}': PALs read the layer input, so they cannot be composed in a Stack, Parallel or BatchSplit`);
  }
  if (site.layer !== undefined && c.leave_out.includes(site.layer)) {
    throw new PlacementError(`adapter '${ctx.name}': layer ${site.layer} is in leave_out, but the rule selects '${site.name}'`);
  }
  const b = ctx.builder;
  const sc = ctx.scope;
  const hidden = ctx.width;
  const ds = palsWidth(c, hidden);
  if (ds % c.heads !== 0) throw new PlacementError(`adapter '${ctx.name}': d_s = ${ds} is not divisible by heads = ${c.heads}`);
  const shared = (local: string, shape: number[], init: Init, kind: 'kernel' | 'bias') => ({ ref: sc.sharedParam(`${palsSharedPrefix(ctx.name)}${local}`, { shape, init, kind }) });
  const decoderInit = c.init_weights === 'zero_decoder' ? ZEROS : BERT;
  const x = layerInput(b.siteList(), site.layer, site.name);
  const down = sc.op('dense', 'encoder', [x], { params: { weight: shared('encoder.weight', [hidden, ds], BERT, 'kernel'), bias: shared('encoder.bias', [ds], ZEROS, 'bias') } });
  const q = sc.dense('query', down, ds, { init: BERT });
  const k = sc.dense('key', down, ds, { init: BERT });
  const v = sc.dense('value', down, ds, { init: BERT });
  const mask = b.has('inputs.attention_mask') ? ['inputs.attention_mask'] : [];
  const g = sc.op('attention', 'attention', [q, k, v, ...mask], { attrs: { heads: c.heads, dropout: c.attention_dropout } });
  const up = sc.op('dense', 'decoder', [g], { params: { weight: shared('decoder.weight', [ds, hidden], decoderInit, 'kernel'), bias: shared('decoder.bias', [hidden], ZEROS, 'bias') } });
  return { output: up, up };
}

/** Every layer's `ffn` site except leave_out, in mode parallel. */
export function palsDefaultPlacement(c: PalsConfig, graph: Graph): DefaultPlacement {
  const layers = [...new Set([...graph.sites.values()].filter((s) => s.kind === 'ffn' && s.layer !== undefined && !c.leave_out.includes(s.layer)).map((s) => s.layer as number))];
  if (layers.length === 0) throw new PlacementError(`pals: leave_out ${JSON.stringify(c.leave_out)} leaves no layer of the model`);
  return { select: { kinds: ['ffn'], layers }, mode: 'parallel' };
}

/** Per adapted layer: g's query/key/value; shared once per adapter: V^E and V^D. */
export function palsParamCount({ config, sites, width }: ParamCountArgs<PalsConfig>): ParamCounts {
  const ds = palsWidth(config, width);
  return { perSite: sites.map(() => palsLayerParams(ds)), shared: sites.length > 0 ? palsSharedParams(ds, width) : 0 };
}

export const pals = defineAdapter<PalsConfig>({
  name: 'pals',
  description: 'PALs (BERT and PALs): per-layer low-dimensional multi-head attention between projections V^E / V^D shared across layers, in parallel to each layer',
  modes: ['parallel'],
  defaults: PALS_DEFAULTS,
  schema: PALS_SCHEMA,
  validate: validatePals,
  defaultPlacement: palsDefaultPlacement,
  build,
  paramCount: palsParamCount,
  isIdentityAtInit: (c) => c.init_weights === 'zero_decoder',
  // Our own file names (AdapterHub has no PALs): see hub.ts.
  hubCollection: PALS_HUB_COLLECTION,
});

/** Every plugin of this package, for `createRegistry(plugins)` and CLI discovery. */
export const plugins: readonly AnyAdapterPlugin[] = [pals];

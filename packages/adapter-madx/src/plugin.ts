// `bottleneck_inv`: a bottleneck adapter with an invertible adapter, AdapterHub's SeqBnInvConfig ('seq_bn_inv',
// 'pfeiffer+inv') and DoubleSeqBnInvConfig ('double_seq_bn_inv', 'houlsby+inv'): a BnConfig plus `inv_adapter`
// and `inv_adapter_reduction_factor`. One adapter name owns both parts, as in AdapterHub:
//   - at transformer sites (ffn / attention, mode 'wrap') it is the bottleneck adapter (delegated to
//     @adapters/adapter-bottleneck, so a Stack with plain bottleneck adapters composes as AdapterHub's does);
//   - at the `embeddings` site (mode 'after') it is the NICE block's forward pass;
//   - at a masked-LM head's `lm_decoder_input` site (mode 'after') it is the NICE block's inverse.
// The NICE weights are model-level parameters `invertible_adapters.NAME.{F,G}.{0,2}.{weight,bias}` owned by
// `adapter:NAME`, shared by the forward and inverse splices.
import type { AdapterPlugin, BuildContext, BuildResult, CheckpointKeyArgs, CloseContext, Graph } from '@adapters/core-graph';
import { ConfigError, defineAdapter, moduleCheckpointKeys, PlacementError } from '@adapters/core-graph';
import { bottleneck, bottleneckParamCount, bottleneckToHubConfig, validateBottleneck } from '@adapters/adapter-bottleneck';
import type { BottleneckInvConfig } from './config';
import { BOTTLENECK_INV_SCHEMA, bottleneckPart, INV_PRESET_NAMES, resolveBottleneckInv } from './config';
import { buildNiceForward, buildNiceInverse, declareNiceParams, invertibleKeyPrefix, niceDims, niceParamCount } from './invertible';

function invertibleSplice(ctx: BuildContext<BottleneckInvConfig>, inverse: boolean): BuildResult {
  if (ctx.mode !== 'after') {
    throw new PlacementError(`the invertible part of adapter '${ctx.name}' is spliced with mode 'after' at '${ctx.site.name}', not '${ctx.mode}'`);
  }
  const c = ctx.config;
  const dims = niceDims(ctx.width, c.inv_adapter_reduction_factor, `${ctx.name}.config.inv_adapter_reduction_factor`);
  const params = declareNiceParams(ctx.scope, invertibleKeyPrefix(ctx.name), dims);
  const build = inverse ? buildNiceInverse : buildNiceForward;
  return { output: build(ctx.scope, ctx.input, dims, params, c.non_linearity) };
}

function build(ctx: BuildContext<BottleneckInvConfig>): BuildResult {
  if (ctx.site.kind === 'embeddings') return invertibleSplice(ctx, false);
  if (ctx.site.kind === 'lm_decoder_input') return invertibleSplice(ctx, true);
  return bottleneck.build({ ...ctx, config: bottleneckPart(ctx.config) });
}

function close(ctx: CloseContext<BottleneckInvConfig>): string {
  const closeBn = bottleneck.close;
  if (!closeBn) throw new PlacementError(`the bottleneck plugin has no close step`);
  return closeBn({ ...ctx, config: bottleneckPart(ctx.config) });
}

/** AdapterHub's config dict: BnConfig fields + `inv_adapter`, `inv_adapter_reduction_factor`, architecture 'bottleneck'. */
function toHubConfig(c: BottleneckInvConfig): Record<string, unknown> {
  // The bottleneck's dict (every BnConfig field AdapterHub writes, its no-op fields at their defaults) + ours.
  const out: Record<string, unknown> = { architecture: 'bottleneck', ...bottleneckToHubConfig(bottleneckPart(c)) };
  for (const [k, v] of Object.entries(c)) if (k !== 'config' && k !== 'layer_adapter') out[k] = v;
  delete out['config'];
  delete out['layer_adapter'];
  return out;
}

/** BnConfig fields AdapterHub writes that we accept only at their defaults. */
const HUB_ONLY_DEFAULTS: Readonly<Record<string, unknown>> = {
  use_gating: false, cross_adapter: false, phm_layer: false, stochastic_depth: 0, init_weights_seed: null,
};

function fromHubConfig(hub: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  if ((hub['architecture'] ?? 'bottleneck') !== 'bottleneck') return undefined;
  if (typeof hub['inv_adapter'] !== 'string') return undefined;
  const known = BOTTLENECK_INV_SCHEMA.properties ?? {};
  const out: Record<string, unknown> = { config: hub['mh_adapter'] === true ? 'double_seq_bn_inv' : 'seq_bn_inv' };
  for (const [k, v] of Object.entries(hub)) {
    if (k === 'architecture' || k === 'config') continue;
    // Fields AdapterHub always writes but this plugin supports only at their default come first: the bottleneck
    // schema it extends may know them (cross_adapter, for encoder-decoders), and the default stays implicit.
    if (k in HUB_ONLY_DEFAULTS) {
      if (v !== HUB_ONLY_DEFAULTS[k] && !(v === undefined)) throw new ConfigError(`config.${k}`, `${JSON.stringify(v)} is not supported (only ${JSON.stringify(HUB_ONLY_DEFAULTS[k])})`);
    } else if (k in known) out[k] = v;
    else if (!k.startsWith('phm_') && !['factorized_phm_W', 'shared_W_phm', 'shared_phm_rule', 'factorized_phm_rule', 'learn_phm', 'hypercomplex_nonlinearity'].includes(k)) {
      throw new ConfigError(`config.${k}`, 'is not a field this plugin knows');
    }
  }
  return out;
}

/**
 * AdapterHub's keys: the NICE block's `invertible_adapters.NAME.x` is the model's `${prefix}invertible_adapters.NAME.x`
 * (its `base_model.invertible_adapters[NAME]`); the bottleneck part is in the layers' `adapters` ModuleDict.
 */
export function invCheckpointKeys(param: CheckpointKeyArgs<BottleneckInvConfig>): readonly string[] {
  const inv = `${invertibleKeyPrefix(param.name)}.`;
  if (param.module === undefined && param.key.startsWith(inv)) return [`${param.prefix}${invertibleKeyPrefix(param.as)}.${param.key.slice(inv.length)}`];
  return moduleCheckpointKeys(param);
}

/**
 * The MAD-X language adapter: a bottleneck adapter (default `seq_bn_inv`: Pfeiffer placement) plus a NICE invertible
 * adapter on the embeddings whose inverse feeds the tied masked-LM decoder. See `languageAdapterRules`.
 */
export const bottleneckInv: AdapterPlugin<BottleneckInvConfig> = defineAdapter<BottleneckInvConfig>({
  name: 'bottleneck_inv',
  description: 'bottleneck adapter + invertible (NICE) embedding adapter, AdapterHub seq_bn_inv / double_seq_bn_inv (MAD-X language adapters)',
  modes: ['wrap', 'after', 'before', 'parallel'],
  presets: INV_PRESET_NAMES,
  defaults: resolveBottleneckInv({ config: 'seq_bn_inv' }) as unknown as BottleneckInvConfig,
  schema: BOTTLENECK_INV_SCHEMA,
  resolve: resolveBottleneckInv,
  validate: (c, path) => validateBottleneck(bottleneckPart(c), path),
  defaultPlacement: (c: BottleneckInvConfig, graph: Graph) => {
    const place = bottleneck.defaultPlacement;
    if (!place) throw new PlacementError('the bottleneck plugin has no default placement');
    return place(bottleneckPart(c), graph);
  },
  build,
  close,
  /**
   * At a transformer layer's site, the bottleneck part; the NICE block (`invertible_adapters.NAME`) is model-level:
   * shared, declared once by the first site outside the layers (the embeddings; the inverse before a masked-LM
   * decoder reuses it and adds nothing).
   */
  paramCount: ({ config: c, sites, width }) => ({
    perSite: sites.map((s) => (s.layer === undefined ? 0 : bottleneckParamCount(bottleneckPart(c), s.outWidth, s.layer))),
    shared: sites.some((s) => s.layer === undefined) ? niceParamCount(niceDims(width, c.inv_adapter_reduction_factor)) : 0,
  }),
  isIdentityAtInit: () => false,
  toHubConfig,
  fromHubConfig,
  checkpointKeys: invCheckpointKeys,
  hubFloats: bottleneck.hubFloats ?? [],
});

// K-Adapter (Wang et al. 2021) as a core-graph plugin in `tap` mode. A knowledge adapter is a chain of
// adapter layers outside the frozen model. With h_l the model's output at tapped layer l_i and o_0 = 0:
//
//   x_i = h_{l_i} + o_{i-1}                                   (fusion of the tap and the previous adapter layer)
//   o_i = x_i + up( T_N ∘ … ∘ T_1 ( down(x_i) ) )             (down → N transformer layers → up, residual)
//   o_i += o'_{i-k}   when k = adapter_skip_layers ≥ 1, i ≡ 0 (mod k) and i > k   (o' = before skips)
//
// and the adapter's task feature is  output = W[h_last ; o_last] + b  (2d → d). Published outputs:
// `${name}.output` (the projected feature) and `${name}.chain` (o_last). The model path is not touched.
import type { BuildContext, BuildResult, Graph, Init, Scope } from '@adapters/core-graph';
import { ConfigError, defineAdapter, numLayersOf, PlacementError } from '@adapters/core-graph';
import type { KAdapterConfig } from './config';
import { KADAPTER_OPS } from './ops';
import {
  KADAPTER_DEFAULTS, KADAPTER_PRESETS, kadapterParamCount, KADAPTER_SCHEMA, resolveAdapterList, resolveKAdapterConfig, validateKAdapterConfig,
} from './config';

/** The exit of `encoder.output`: the model's last hidden state (after any splices at the last layer). */
function lastHiddenState(ctx: BuildContext<KAdapterConfig>): string {
  try {
    return ctx.builder.getSite('encoder.output').exit;
  } catch {
    throw new PlacementError(`adapter '${ctx.name}': the graph has no 'encoder.output' site; K-Adapter needs an encoder built by buildEncoder`);
  }
}

/** One post-LN transformer layer of the adapter (BERT's layout and module names). */
function transformerLayer(s: Scope, prefix: string, x: string, mask: string | undefined, c: KAdapterConfig): string {
  const init: Init = { kind: 'normal', std: c.layer_init_range };
  const a = c.adapter_size;
  const dense = (local: string, input: string, out: number) => s.dense(`${prefix}.${local}`, input, out, { init });
  const q = dense('attention.self.query', x, a);
  const k = dense('attention.self.key', x, a);
  const v = dense('attention.self.value', x, a);
  const context = s.op('attention', `${prefix}.attention.self.context`, mask ? [q, k, v, mask] : [q, k, v], { attrs: { heads: c.adapter_heads, dropout: c.attention_dropout } });
  const attnProj = s.dropout(`${prefix}.attention.output.dropout`, dense('attention.output.dense', context, a), c.dropout);
  const attn = s.layerNorm(`${prefix}.attention.output.LayerNorm`, s.add(`${prefix}.attention.output.residual`, attnProj, x), c.layer_norm_eps);
  const inter = s.act(c.hidden_act, `${prefix}.intermediate.act`, dense('intermediate.dense', attn, c.adapter_intermediate_size));
  const ffn = s.dropout(`${prefix}.output.dropout`, dense('output.dense', inter, a), c.dropout);
  return s.layerNorm(`${prefix}.output.LayerNorm`, s.add(`${prefix}.output.residual`, ffn, attn), c.layer_norm_eps);
}

function buildKAdapter(ctx: BuildContext<KAdapterConfig>): BuildResult {
  if (ctx.mode !== 'tap') throw new PlacementError(`adapter '${ctx.name}' (kadapter) runs beside the model: use mode 'tap'`);
  const c = ctx.config;
  const path = `${ctx.name}.config`;
  const taps = ctx.taps ?? [ctx.input];
  if (c.adapter_list !== null) {
    const wanted = resolveAdapterList(c, ctx.numLayers, path);
    if (wanted.length !== taps.length) {
      throw new ConfigError(`${path}.adapter_list`, `names ${wanted.length} layer(s) [${wanted.join(', ')}] but the placement rule tapped ${taps.length} site(s)`);
    }
  }
  const s = ctx.scope;
  const width = ctx.width;
  for (const t of taps) {
    if (s.width(t) !== width) throw new PlacementError(`adapter '${ctx.name}': tapped node '${t}' has width ${s.width(t)}, expected ${width}`);
  }
  const projInit: Init = { kind: 'normal', std: c.init_range };
  const mask = c.mask_padding && ctx.builder.has('inputs.attention_mask') ? 'inputs.attention_mask' : undefined;
  const before: string[] = [];
  let previous: string | undefined;
  taps.forEach((tap, i) => {
    const p = `adapter.${i}`;
    const fusion = previous === undefined ? tap : s.add(`${p}.fusion`, tap, previous);
    let h = s.dense(`${p}.down_project`, fusion, c.adapter_size, { init: projInit });
    for (let j = 0; j < c.adapter_transformer_layers; j++) h = transformerLayer(s, `${p}.encoder.layer.${j}`, h, mask, c);
    const up = s.dense(`${p}.up_project`, h, width, { init: projInit });
    let out = s.add(`${p}.residual`, fusion, up);
    before.push(out);
    const k = c.adapter_skip_layers;
    const count = i + 1;
    if (k >= 1 && count % k === 0 && count > k) out = s.add(`${p}.skip`, out, before[count - k - 1] as string);
    previous = out;
  });
  const chain = previous as string;
  const joined = s.op('concat', 'com_concat', [lastHiddenState(ctx), chain], { attrs: { axis: -1 } });
  const output = s.dense('com_dense', joined, width, { init: { kind: 'normal', std: c.layer_init_range } });
  return { output, outputs: { output, chain } };
}

/** The K-Adapter plugin: `applyPlacements(graph, [{ adapter: adapter('kadapter', 'factual', {...}) }], registry)`. */
export const kadapter = defineAdapter<KAdapterConfig>({
  name: 'kadapter',
  description: 'K-Adapter (Wang et al. 2021): a knowledge adapter chain of small transformers beside the frozen model, reading several layers (tap mode)',
  modes: ['tap'],
  // The knowledge heads' ops travel with the plugin: the graphs it builds (and heads added to them) can run them.
  ops: KADAPTER_OPS,
  presets: Object.keys(KADAPTER_PRESETS),
  defaults: KADAPTER_DEFAULTS,
  schema: KADAPTER_SCHEMA,
  resolve: resolveKAdapterConfig,
  validate: validateKAdapterConfig,
  defaultPlacement(config: KAdapterConfig, graph: Graph) {
    return { select: { glob: 'layer.*.output', layers: resolveAdapterList(config, numLayersOf(graph)) }, mode: 'tap' };
  },
  build: buildKAdapter,
  // Per tapped site one adapter layer; the output projection (2d² + d) is model-level, declared once.
  paramCount: ({ config, sites, width }) => ({
    perSite: sites.map(() => kadapterParamCount(config, width, 1) - kadapterParamCount(config, width, 0)),
    shared: sites.length > 0 ? kadapterParamCount(config, width, 0) : 0,
  }),
  toHubConfig: (config) => ({ architecture: 'kadapter', ...config }),
});

// The `bottleneck` adapter plugin: AdapterHub's bottleneck protocol (pre_forward → adapter → post_forward)
// on core-graph's splice modes. Formulas (h = sublayer output, x = sublayer input, f = up ∘ act ∘ down):
//   sequential, wrap:  a, r = pre_forward(h, x);  out = r + s·f(a);  y = LN(out + x)  (original_ln_after)
//   parallel, wrap:    out = s·f(x);              y = LN(out + h + x)
//   parallel mode:     the core adds s·f(x) to h; the span's own add & LN follow
//   after / before:    y = z + s·f(z)  on the site's exit (after) or entry (before)
// `createBottleneckPlugin` builds plugins with this placement and protocol and other projection layers (f's down/up).
import type {
  AdapterPlugin, BuildContext, BuildResult, CloseContext, DefaultPlacement, Init, JsonSchema, OpDef, ParamCountArgs, ParamCounts, PlacementRule, Scope, SiteSelector, SpliceMode,
} from '@adapters/core-graph';
import { adapter, ConfigError, countPerSite, defineAdapter, PlacementError, SEQ_MEAN_OP } from '@adapters/core-graph';
import { bottleneckLowering } from './fused';
import type { BottleneckConfig } from './config';
import { BOTTLENECK_PLUGIN_SCHEMA, BOTTLENECK_PRESETS, bottleneckParamCount, bottleneckSize, DEFAULT_PRESET, isLeftOut, PRESET_NAMES, resolveBottleneck, validateBottleneck } from './config';
import { bottleneckFromHubConfig, bottleneckHubKeys, bottleneckToHubConfig } from './hub';

/** eps of the LayerNorms an adapter adds (ln_before, ln_after): PyTorch's nn.LayerNorm default, as AdapterHub. */
export const ADAPTER_LN_EPS = 1e-5;

interface Inits {
  readonly down: Init;
  readonly downBias: Init;
  readonly up: Init;
  readonly upBias: Init;
}

/** AdapterHub's init_weights: bert N(0, 0.02); houlsby truncated N(0, 0.01²) within ±2σ; mam_adapter Kaiming-uniform down, zero up. Biases 0. */
export function initsOf(init: BottleneckConfig['init_weights']): Inits {
  const zeros: Init = { kind: 'zeros' };
  switch (init) {
    case 'bert':
      return { down: { kind: 'normal', std: 0.02 }, downBias: zeros, up: { kind: 'normal', std: 0.02 }, upBias: zeros };
    case 'houlsby':
      return { down: { kind: 'truncatedNormal', std: 0.01, bound: 2 }, downBias: zeros, up: { kind: 'truncatedNormal', std: 0.01, bound: 2 }, upBias: zeros };
    case 'mam_adapter':
      return { down: { kind: 'kaimingUniform', a: Math.sqrt(5) }, downBias: zeros, up: zeros, upBias: zeros };
  }
}

/** The config fields the protocol and placement read: a BottleneckConfig whose preset name may be another plugin's. */
export type BottleneckLike = Omit<BottleneckConfig, 'config'> & { readonly config: string };

/** What a projection layer gets besides its input: the adapter's config and where the layer sits. */
export interface ProjectionContext<C extends BottleneckLike = BottleneckConfig> {
  readonly config: C;
  /** `down` (d → m, AdapterHub's `adapter_down`) or `up` (m → d, `adapter_up`). */
  readonly position: 'down' | 'up';
  /** The weight and bias inits `init_weights` asks for (what a dense projection uses). */
  readonly init: Init;
  readonly biasInit: Init;
  /** The adapter's name (e.g. for model-level parameters: `scope.sharedParam(\`shared.adapters.${name}.x\`, ...)`). */
  readonly name: string;
  readonly layer: number | undefined;
  /** Config path for errors, `NAME.config`. */
  readonly path: string;
  /** The splice being built (site, mode, builder, ...). */
  readonly build: BuildContext<C>;
}

/**
 * A projection layer of the bottleneck: adds the nodes computing `input` [.., inDim] → [.., outDim] under
 * `scope` with the local node name `local` (`adapter_down.0`, `adapter_down.1` or `adapter_up`) and returns the output node.
 */
export type Projection<C extends BottleneckLike = BottleneckConfig> = (
  scope: Scope, local: string, input: string, inDim: number, outDim: number, ctx: ProjectionContext<C>,
) => string;

/** The bottleneck's default projection: a dense layer (nn.Linear), weight [in, out] and bias. */
export const denseProjection: Projection = (scope, local, input, _inDim, outDim, ctx) => scope.dense(local, input, outDim, { init: ctx.init, biasInit: ctx.biasInit });

/** s·f(LN_before(v)) with dropout; returns the up-projection (before scaling, for fusion) and the scaled branch. */
function branch<C extends BottleneckLike>(sc: Scope, ctx: BuildContext<C>, projection: Projection<C>, v: string, width: number, path: string): { up: string; scaled: string } {
  const c = ctx.config;
  const layer = ctx.layer;
  const inits = initsOf(c.init_weights);
  const m = bottleneckSize(c, width, layer, path);
  const input = c.ln_before ? sc.layerNorm('adapter_norm_before', v, ADAPTER_LN_EPS) : v;
  const common = { config: c, name: ctx.name, layer, path, build: ctx };
  // Named like AdapterHub's modules so adapter files use its keys: adapter_down = Sequential([LN,] Linear, act).
  const down = projection(sc, c.ln_before ? 'adapter_down.1' : 'adapter_down.0', input, width, m, { ...common, position: 'down', init: inits.down, biasInit: inits.downBias });
  const up = projection(sc, 'adapter_up', sc.act(c.non_linearity, 'act', down), m, width, { ...common, position: 'up', init: inits.up, biasInit: inits.upBias });
  let scaled = up;
  if (c.scaling === 'learned' || c.scaling === 'channel') {
    const shape = c.scaling === 'learned' ? [1] : [width];
    scaled = sc.op('scaleByParam', 'scaling', [up], { params: { scale: { shape, init: { kind: 'ones' }, kind: 'scalar' } } });
  } else if (c.scaling !== 1) {
    scaled = sc.op('scale', 'scaling', [up], { attrs: { factor: c.scaling } });
  }
  if (c.dropout > 0) scaled = sc.dropout('dropout', scaled, c.dropout);
  if (c.use_gating === true) scaled = sc.op('mul', 'gated', [scaled, gate(sc, v)]);
  return { up, scaled };
}

/** g = mean over positions of sigmoid(a·W_g + b_g), [batch, 1, 1]; AdapterHub inits the gate like BERT (N(0, 0.02²), bias 0) for every init_weights. */
function gate(sc: Scope, a: string): string {
  const logits = sc.dense('gate', a, 1, { init: { kind: 'normal', std: 0.02 }, biasInit: { kind: 'zeros' } });
  return sc.op(SEQ_MEAN_OP, 'gate_mean', [sc.act('sigmoid', 'gate_act', logits)]);
}

/** Adapter.forward: residual r around the bottleneck, with the optional new LayerNorm after it. */
function sequentialForward<C extends BottleneckLike>(sc: Scope, ctx: BuildContext<C>, projection: Projection<C>, a: string, r: string, width: number, path: string): BuildResult {
  const c = ctx.config;
  const { up, scaled } = branch(sc, ctx, projection, a, width, path);
  let out = scaled;
  if (c.adapter_residual_before_ln) out = sc.add('residual', out, r);
  if (c.ln_after) out = sc.layerNorm('adapter_norm_after', out, ADAPTER_LN_EPS);
  if (!c.adapter_residual_before_ln) out = sc.add('residual', out, r);
  return { output: out, up };
}

function checkMode(ctx: BuildContext<BottleneckLike>, path: string, pluginName: string): void {
  const c = ctx.config;
  const { mode } = ctx;
  if (mode === 'tap') throw new PlacementError(`${pluginName} adapter '${ctx.name}' does not support mode 'tap'`);
  if (c.is_parallel && mode !== 'parallel' && mode !== 'wrap') {
    throw new ConfigError(`${path}.is_parallel`, `a parallel adapter needs mode 'parallel' or 'wrap', the rule places it with '${mode}' at '${ctx.site.name}'`);
  }
  if (!c.is_parallel && mode === 'parallel') {
    throw new ConfigError(`${path}.is_parallel`, `is false, but the rule places the adapter in mode 'parallel' at '${ctx.site.name}' (use config 'par_bn' or is_parallel: true)`);
  }
  if (mode !== 'wrap' && c.original_ln_before) {
    throw new ConfigError(`${path}.original_ln_before`, `needs mode 'wrap' (the span's LayerNorm); the rule places the adapter with '${mode}' at '${ctx.site.name}'`);
  }
  if (mode === 'parallel' && !c.original_ln_after) {
    throw new ConfigError(`${path}.original_ln_after`, `false needs mode 'wrap': in mode 'parallel' the span's own add & LayerNorm stay in place`);
  }
}

function buildWith<C extends BottleneckLike>(ctx: BuildContext<C>, projection: Projection<C>, pluginName: string): BuildResult {
  const c = ctx.config;
  const sc = ctx.scope;
  const path = `${ctx.name}.config`;
  checkMode(ctx, path, pluginName);
  if (isLeftOut(c, ctx.layer)) {
    // An explicit selector reached a layer in leave_out: splice an exact identity with no parameters.
    if (ctx.mode === 'parallel') return { output: sc.op('scale', 'left_out', [ctx.input], { attrs: { factor: 0 } }) };
    return { output: ctx.input };
  }
  const width = ctx.width;
  switch (ctx.mode) {
    case 'wrap': {
      const x = ctx.residual;
      if (x === undefined) throw new PlacementError(`site '${ctx.site.name}' gave the wrapped adapter '${ctx.name}' no residual input`);
      if (c.is_parallel) {
        // ParallelAdapter: reads the sublayer input; post_forward (close) adds h and x.
        const { up, scaled } = branch(sc, ctx, projection, x, width, path);
        return { output: c.ln_after ? sc.layerNorm('adapter_norm_after', scaled, ADAPTER_LN_EPS) : scaled, up };
      }
      // Adapter.pre_forward
      const h = ctx.input;
      let a = h;
      let r: string | undefined = c.residual_before_ln === true ? h : undefined;
      if (c.original_ln_before) {
        const sum = sc.add('pre_residual', h, x);
        if (c.residual_before_ln === 'post_add') r = sum;
        a = ctx.norm ? sc.layerNorm('pre_LayerNorm', sum, ctx.norm.eps, { weight: ctx.norm.weight, bias: ctx.norm.bias }) : sum;
      }
      if (c.residual_before_ln === false) r = a;
      return sequentialForward(sc, ctx, projection, a, r ?? a, width, path);
    }
    case 'parallel': {
      const { up, scaled } = branch(sc, ctx, projection, ctx.input, width, path);
      return { output: c.ln_after ? sc.layerNorm('adapter_norm_after', scaled, ADAPTER_LN_EPS) : scaled, up };
    }
    default:
      return sequentialForward(sc, ctx, projection, ctx.input, ctx.input, width, path);
  }
}

/** Adapter.post_forward: y = LN(out + x) with the layer's LayerNorm (parallel: LN(out + h + x)). */
function close(ctx: CloseContext<BottleneckLike>): string {
  const c = ctx.config;
  const sc = ctx.scope;
  const x = ctx.residual as string;
  const leftOut = isLeftOut(c, ctx.layer);
  let hidden = ctx.hidden;
  if (!leftOut && c.is_parallel) hidden = sc.add('post_sublayer', hidden, ctx.spanOutput);
  if (!leftOut && !c.original_ln_after) return hidden;
  const sum = sc.add('post_residual', hidden, x);
  return ctx.norm ? sc.layerNorm('post_LayerNorm', sum, ctx.norm.eps, { weight: ctx.norm.weight, bias: ctx.norm.bias }) : sum;
}

/** Where the config puts the adapter: attention/cross-attention/ffn sites (mh_adapter/cross_adapter/output_adapter) or layer outputs (layer_adapter), minus leave_out. */
export function bottleneckDefaultPlacement(c: BottleneckLike): DefaultPlacement {
  const kinds = c.layer_adapter
    ? ['output']
    : [...(c.mh_adapter ? ['attention'] : []), ...(c.cross_adapter === true ? ['cross_attention'] : []), ...(c.output_adapter ? ['ffn'] : [])];
  const mode: SpliceMode = c.layer_adapter ? 'after' : c.is_parallel ? 'parallel' : 'wrap';
  const select: SiteSelector = c.leave_out.length > 0 ? { kinds, exclude: { layers: [...c.leave_out] } } : { kinds };
  return { select, mode };
}

/** With a zero up-projection (mam_adapter) the adapter adds exactly 0, and these configs then reproduce the base layer bit for bit. */
function isIdentityAtInit(c: BottleneckLike): boolean {
  if (c.init_weights !== 'mam_adapter' || c.ln_after) return false;
  if (c.is_parallel) return c.original_ln_after;
  if (c.layer_adapter) return true;
  return c.original_ln_after && c.residual_before_ln === true;
}

/** What `createBottleneckPlugin` needs: the plugin's identity and config handling, and its projection layers. */
export interface BottleneckPluginOptions<C extends BottleneckLike> {
  readonly name: string;
  readonly description: string;
  readonly presets: readonly string[];
  readonly defaults: C;
  readonly schema: JsonSchema;
  readonly resolve: (input: Readonly<Record<string, unknown>>) => Record<string, unknown>;
  /** Checks beyond the schema (default: `validateBottleneck`, which checks only the bottleneck fields). */
  readonly validate?: (config: C, path: string) => void;
  /** Builds the down and up projections (default: `denseProjection`). */
  readonly projection: Projection<C>;
  /** Ops the projections emit beyond core's (AdapterPlugin.ops; Compacter's `phm`). */
  readonly ops?: readonly OpDef[];
  /** Parameters one placement adds (AdapterPlugin.paramCount). */
  readonly paramCount: (args: ParamCountArgs<C>) => ParamCounts;
  /** Default: true for the configs whose up-projection starts at exactly zero (`mam_adapter`), as `bottleneck`. */
  readonly isIdentityAtInit?: (config: C) => boolean;
  readonly toHubConfig?: (config: C) => Record<string, unknown>;
  readonly fromHubConfig?: (hub: Readonly<Record<string, unknown>>) => Record<string, unknown> | undefined;
  /** AdapterHub's names of a parameter (AdapterPlugin.hubKeys); default: the protocol's (`bottleneckHubKeys`: bare `scaling`, ...). */
  readonly hubKeys?: (local: string, config: C) => readonly string[];
}

/**
 * A plugin with the bottleneck's placement (mh_adapter/output_adapter/layer_adapter, is_parallel, leave_out) and
 * AdapterHub's protocol (pre_forward → adapter → post_forward, in every splice mode), with its own projection layers:
 * `bottleneck` itself is `createBottleneckPlugin({ ..., projection: denseProjection })`.
 */
export function createBottleneckPlugin<C extends BottleneckLike>(options: BottleneckPluginOptions<C>): AdapterPlugin<C> {
  const { name, projection } = options;
  return defineAdapter<C>({
    name,
    description: options.description,
    modes: ['wrap', 'parallel', 'after', 'before'],
    presets: options.presets,
    // Sequential adapters built in mode 'wrap' run as one fused op at inference (fused.ts).
    lowerings: [bottleneckLowering],
    ops: options.ops ?? [],
    defaults: options.defaults,
    schema: options.schema,
    resolve: options.resolve,
    validate: options.validate ?? ((c, path) => validateBottleneck(c as unknown as BottleneckConfig, path)),
    defaultPlacement: bottleneckDefaultPlacement,
    build: (ctx) => buildWith(ctx, projection, name),
    close,
    paramCount: options.paramCount,
    isIdentityAtInit: options.isIdentityAtInit ?? isIdentityAtInit,
    ...(options.toHubConfig ? { toHubConfig: options.toHubConfig } : {}),
    ...(options.fromHubConfig ? { fromHubConfig: options.fromHubConfig } : {}),
    hubKeys: options.hubKeys ?? bottleneckHubKeys,
    // BnConfig's float fields, written as AdapterHub writes them (its Adapter takes a numeric scaling only as a float).
    hubFloats: ['scaling', 'dropout', 'stochastic_depth', 'phm_init_range', 'inv_adapter_reduction_factor'],
  });
}

/** Bottleneck adapters: Houlsby (double_seq_bn), Pfeiffer (seq_bn), He et al. (par_bn, scaled_par_bn), Bapna & Firat (bapna_firat). */
export const bottleneck: AdapterPlugin<BottleneckConfig> = createBottleneckPlugin<BottleneckConfig>({
  name: 'bottleneck',
  description: 'bottleneck adapters (AdapterHub BnConfig): double_seq_bn, seq_bn, par_bn, scaled_par_bn, bapna_firat',
  presets: PRESET_NAMES,
  defaults: BOTTLENECK_PRESETS[DEFAULT_PRESET],
  schema: BOTTLENECK_PLUGIN_SCHEMA,
  resolve: resolveBottleneck,
  validate: validateBottleneck,
  projection: denseProjection,
  paramCount: countPerSite((c, site) => bottleneckParamCount(c, site.outWidth, site.layer)),
  toHubConfig: bottleneckToHubConfig,
  fromHubConfig: bottleneckFromHubConfig,
});

export interface BottleneckPlacement {
  readonly select?: SiteSelector;
  readonly mode?: SpliceMode;
}

/**
 * A placement rule for one bottleneck adapter: `bottleneckRule('sst2', 'double_seq_bn', { reduction_factor: 12 })`.
 * Without `placement` the config's own placement is used (mh_adapter/output_adapter/layer_adapter, is_parallel, leave_out).
 */
export function bottleneckRule(name: string, preset: string = DEFAULT_PRESET, overrides: Readonly<Record<string, unknown>> = {}, placement: BottleneckPlacement = {}): PlacementRule {
  return { adapter: adapter(bottleneck, name, { config: preset, ...overrides }), ...placement };
}

// The `lora` plugin: LoRA (Hu et al. 2021) and (IA)³ (Liu et al. 2022) on one dense layer (a `linear` site),
// with AdapterHub's LoRA / IA3 modules (adapters 1.3, methods/lora.py). Our kernels are [in, out]:
//   add   (LoRA, splice mode `parallel`):  y = x·W + b + h,   h = (s·dropout(x)·A)·B, A [in, r], B [r, out], s = alpha/r
//   scale ((IA)³, splice mode `after`):    y = (x·W + b) ⊙ h,  h = alpha·l,            l [1, out]
// With use_gating the gate g = mean_positions(sigmoid(x·W_g + b_g)) [batch, 1, 1] replaces s (add) and alpha (scale).
// In a Stack, each module reads the previous module's h (AdapterHub's LoRAState), the gate always the layer input.
import type { AnyAdapterPlugin, BuildContext, BuildResult, DefaultPlacement, Graph, GraphBuilder, Init, Scope } from '@adapters/core-graph';
import { ConfigError, countPerSite, defineAdapter, PlacementError, SEQ_MEAN_OP } from '@adapters/core-graph';
import type { LoraConfig, LoraInit } from './config';
import { LORA_DEFAULTS, LORA_PRESET_NAMES, LORA_SCHEMA, loraScaling, resolveLora, validateLora } from './config';
import { loraFromHubConfig, loraHubKeys, loraToHubConfig } from './hub';
import { isTarget } from './targets';

/** AdapterHub's gate has one head on a LoRALinear (its get_n_heads). */
export const GATING_HEADS = 1;

const ZEROS: Init = { kind: 'zeros' };
const ONES: Init = { kind: 'ones' };
const BERT: Init = { kind: 'normal', std: 0.02 };

/** A and B inits for `add` (AdapterHub's LoRA): lora = Kaiming-uniform(a = √5) over fan-in `in`, and zeros. */
export function loraInits(init: LoraInit): { readonly a: Init; readonly b: Init } {
  switch (init) {
    case 'lora':
      return { a: { kind: 'kaimingUniform', a: Math.sqrt(5) }, b: ZEROS };
    case 'bert':
      return { a: BERT, b: BERT };
    case 'ia3':
      return { a: ONES, b: ONES };
  }
}

/** The (IA)³ vector's init (AdapterHub's IA3): lora = zeros, bert = N(0, 0.02²), ia3 = ones. */
export const ia3Init = (init: LoraInit): Init => (init === 'lora' ? ZEROS : init === 'bert' ? BERT : ONES);

/** The splice mode a composition mode needs: `parallel` adds h to x·W + b, `after` scales x·W + b. */
export const modeOf = (c: LoraConfig): 'parallel' | 'after' => (c.composition_mode === 'add' ? 'parallel' : 'after');

/** Parameters of one module on a dense layer [in → out]. */
export function loraParamCount(c: LoraConfig, inDim: number, outDim: number): number {
  const gate = c.use_gating ? inDim * GATING_HEADS + GATING_HEADS : 0;
  return (c.composition_mode === 'add' ? c.r * (inDim + outDim) : outDim) + gate;
}

const width = (b: GraphBuilder, id: string): number => {
  const d = b.typeOf(id).shape.at(-1);
  if (typeof d !== 'number') throw new PlacementError(`node '${id}' has no fixed feature width`);
  return d;
};

/** Whether `id` reads, within this splice's nodes, a node made by one of `ops` (Parallel: branchInput; BatchSplit: slice). */
function readsSplit(b: GraphBuilder, id: string, siteName: string, ops: readonly string[]): boolean {
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const cur = stack.pop() as string;
    if (seen.has(cur) || !cur.startsWith(`${siteName}.`)) continue;
    seen.add(cur);
    const n = b.node(cur);
    if (ops.includes(n.op)) return true;
    stack.push(...n.inputs);
  }
  return false;
}

/**
 * Parallel on one dense layer needs the layer's other tensors (the other projections, the residual) replicated as
 * well, which AdapterHub does at run time (adjust_tensors_for_parallel) and core-graph's ops do not: so a LoRA
 * Parallel is placed only where a Parallel splice in a lower layer already replicated the batch.
 */
function checkParallel(ctx: BuildContext<LoraConfig>): void {
  if (!readsSplit(ctx.builder, ctx.input, ctx.site.name, ['branchInput'])) return;
  const layer = ctx.site.layer ?? Infinity;
  const replicated = ctx.builder.spliceList().some((s) => s.composition.startsWith('Parallel(') && s.layer !== undefined && s.layer < layer);
  if (!replicated) {
    throw new PlacementError(
      `adapter '${ctx.name}' in Parallel at '${ctx.site.name}': a dense layer cannot replicate the batch by itself (the layer's other projections and residual keep the original batch); ` +
        'place a Parallel composition in a lower layer first (e.g. bottleneck adapters), or use BatchSplit',
    );
  }
}

/** The dense layer's input x, which the gate reads (AdapterHub's layer_input). */
function layerInput(ctx: BuildContext<LoraConfig>): string {
  if (ctx.mode === 'parallel' && ctx.input === ctx.site.entry) return ctx.input;
  if (readsSplit(ctx.builder, ctx.input, ctx.site.name, ['branchInput', 'slice'])) {
    throw new PlacementError(`adapter '${ctx.name}': use_gating inside Parallel or BatchSplit is not supported (the gate reads the layer input of the whole batch) at '${ctx.site.name}'`);
  }
  return ctx.site.entry;
}

/** g = mean over positions of sigmoid(x·W_g + b_g): [batch, 1, 1]; W_g ~ N(0, 0.02²), b_g as nn.Linear (U(±1/√in)). */
function gate(sc: Scope, x: string, inDim: number): string {
  const bound = 1 / Math.sqrt(inDim);
  const logits = sc.dense('gate', x, GATING_HEADS, { init: BERT, biasInit: { kind: 'uniform', low: -bound, high: bound } });
  return sc.op(SEQ_MEAN_OP, 'gate_mean', [sc.act('sigmoid', 'gate_act', logits)]);
}

function build(ctx: BuildContext<LoraConfig>): BuildResult {
  const c = ctx.config;
  const sc = ctx.scope;
  const path = `${ctx.name}.config`;
  const site = ctx.site;
  if (ctx.mode !== modeOf(c)) {
    throw new ConfigError(`${path}.composition_mode`, `'${c.composition_mode}' needs splice mode '${modeOf(c)}', the rule places the adapter with '${ctx.mode}' at '${site.name}'`);
  }
  if (site.kind !== 'linear') {
    throw new PlacementError(`adapter '${ctx.name}' (lora) adapts one dense layer: place it at a 'linear' site (select: { kinds: ['linear'], ... }), not '${site.name}' (${site.kind})`);
  }
  if (site.layer !== undefined && c.leave_out.includes(site.layer)) {
    throw new PlacementError(`adapter '${ctx.name}': layer ${site.layer} is in leave_out, but the rule selects '${site.name}'`);
  }
  checkParallel(ctx);
  const b = ctx.builder;
  const inDim = width(b, site.entry);
  const outDim = ctx.width;
  if (c.composition_mode === 'add') {
    // In a Stack the second module reads the first one's h: AdapterHub's A is [r, in_features], so the layer must be square.
    if (width(b, ctx.input) !== inDim) {
      throw new PlacementError(`adapter '${ctx.name}' at '${site.name}': a stacked LoRA reads the previous module's output (width ${width(b, ctx.input)}), but A takes the layer's input width ${inDim}`);
    }
    const inits = loraInits(c.init_weights);
    const x = c.dropout > 0 ? sc.dropout('lora_dropout', ctx.input, c.dropout) : ctx.input;
    const a = sc.dense('lora_A', x, c.r, { bias: false, init: inits.a });
    // s·(x·A)·B = s·x·A·B: scaling the r-wide product instead of the out-wide one costs r/out of the multiplies.
    const s = loraScaling(c);
    const scaled = c.use_gating ? sc.op('mul', 'gated', [a, gate(sc, layerInput(ctx), inDim)]) : s === 1 ? a : sc.op('scale', 'scaling', [a], { attrs: { factor: s } });
    const h = sc.dense('lora_B', scaled, outDim, { bias: false, init: inits.b });
    return { output: h, up: h };
  }
  // scale: the vector is declared [1, out] so AdapterHub's [out, 1] lora_B is its checkpoint (transposed) layout.
  const scaled = sc.op('scaleByParam', 'lora_B', [ctx.input], { params: { scale: { shape: [1, outDim], init: ia3Init(c.init_weights), kind: 'kernel' } } });
  if (c.use_gating) return { output: sc.op('mul', 'gated', [scaled, gate(sc, layerInput(ctx), inDim)]) };
  return { output: c.alpha === 1 ? scaled : sc.op('scale', 'scaling', [scaled], { attrs: { factor: c.alpha } }) };
}

/** The linear sites the config targets, by name; a config that targets none of the model's dense layers is an error. */
export function loraDefaultPlacement(c: LoraConfig, graph: Graph): DefaultPlacement {
  const prefix = String(graph.meta['prefix'] ?? '');
  const names = [...graph.sites.values()].filter((s) => isTarget(c, s, prefix)).map((s) => s.name);
  if (names.length === 0) {
    const what = c.target_modules === null ? 'selfattn_lora / intermediate_lora / output_lora with this leave_out' : `target_modules ${JSON.stringify(c.target_modules)}`;
    throw new PlacementError(`lora: ${what} selects no dense layer of the model (modules are named like encoder.layer.0.attention.self.query)`);
  }
  return { select: { kinds: ['linear'], names }, mode: modeOf(c) };
}

export const lora = defineAdapter<LoraConfig>({
  name: 'lora',
  description: 'LoRA (composition_mode add) and (IA)³ (scale) on dense layers, AdapterHub LoRAConfig / IA3Config and PEFT target_modules',
  modes: ['parallel', 'after'],
  presets: LORA_PRESET_NAMES,
  defaults: LORA_DEFAULTS,
  schema: LORA_SCHEMA,
  resolve: resolveLora,
  validate: validateLora,
  defaultPlacement: loraDefaultPlacement,
  build,
  // A linear site's entry width is the layer's input features, its exit width the output features.
  paramCount: countPerSite((c, site) => loraParamCount(c, site.inWidth, site.outWidth)),
  isIdentityAtInit: (c) => (c.composition_mode === 'add' ? c.init_weights === 'lora' : c.init_weights === 'ia3' && c.alpha === 1 && !c.use_gating),
  toHubConfig: loraToHubConfig,
  fromHubConfig: loraFromHubConfig,
  hubKeys: loraHubKeys,
  hubCollection: 'loras',
  hubFloats: ['dropout'],
});

/** Every plugin of this package, for `createRegistry(plugins)` and CLI discovery. */
export const plugins: readonly AnyAdapterPlugin[] = [lora];

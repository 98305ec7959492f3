// The `udapter` plugin: after every layer's output (mode `after` at `output` sites), y = z + f_L(z) with f_L a
// bottleneck whose weights are generated for the example's language L (cpg-op.ts). The language embedding
// e_L = W2·relu(W1·t_L + b1) + b2 comes from the typology vector t_L, fed as the graph input `language`
// [batch, typology_dim]. Only the MLP and the generator are parameters, shared by all languages; a language never
// trained on gets adapters from its typology vector alone. With `generate: false` the bottleneck is a plain
// dense adapter shared by all languages (the "one multilingual adapter" baseline).
import type { AnyAdapterPlugin, BuildContext, BuildResult, DefaultPlacement, Graph, Init, ParamCountArgs, ParamCounts } from '@adapters/core-graph';
import * as tf from '@tensorflow/tfjs';
import { defineAdapter, PlacementError } from '@adapters/core-graph';
import type { UdapterConfig } from './config';
import { UDAPTER_DEFAULTS, UDAPTER_SCHEMA, udapterLayerParams, udapterSharedParams, udapterWidth, validateUdapter } from './config';
import { CPG_BOTTLENECK_OP, cpgBottleneckOp } from './cpg-op';

const ZEROS: Init = { kind: 'zeros' };
const NORMAL: Init = { kind: 'normal', std: 0.02 };

/** The graph input carrying each example's typology vector. */
export const LANGUAGE_INPUT = 'language';
/**
 * The typology vectors of a batch as the value of the `language` input node, or undefined when the graph has no
 * such input (the generator-free baseline). Given as a run constant, not a feed: feeds must be [batch, seq].
 */
export function languageConstants(graph: Graph, rows: readonly Float32Array[]): Map<string, tf.Tensor> | undefined {
  const input = graph.inputs.find((i) => i.name === LANGUAGE_INPUT);
  if (input === undefined) return undefined;
  const width = graph.node(input.node).type.shape[1];
  const bad = rows.findIndex((r) => r.length !== width);
  if (bad >= 0) throw new PlacementError(`udapter: typology vector ${bad} has ${rows[bad]?.length} features, the graph reads ${String(width)}`);
  return new Map([[input.node, tf.tensor2d(rows.map((r) => Array.from(r)))]]);
}

export const udapterSharedPrefix = (name: string): string => `shared.adapters.${name}.`;

/** The language-embedding node of adapter `name`, built once and read by every layer's generator. */
function languageEmbedding(ctx: BuildContext<UdapterConfig>): string {
  const b = ctx.builder;
  const c = ctx.config;
  const inputId = `inputs.${LANGUAGE_INPUT}`;
  const input = b.has(inputId) ? inputId : b.input(LANGUAGE_INPUT, ['batch', c.typology_dim], 'float32');
  const width = b.typeOf(input).shape[1];
  if (width !== c.typology_dim) throw new PlacementError(`udapter '${ctx.name}': the graph's language input is ${String(width)} wide, the config says typology_dim ${c.typology_dim}`);
  const prefix = `${udapterSharedPrefix(ctx.name)}language`;
  const out = `${prefix}.embedding`;
  if (b.has(out)) return out;
  const sc = b.scope(prefix, ctx.scope.owner);
  const shared = (local: string, shape: number[], init: Init, kind: 'kernel' | 'bias') => ({ ref: sc.sharedParam(`${prefix}.${local}`, { shape, init, kind }) });
  const h = sc.op('dense', 'hidden', [input], { params: { weight: shared('0.weight', [c.typology_dim, c.language_hidden], NORMAL, 'kernel'), bias: shared('0.bias', [c.language_hidden], ZEROS, 'bias') } });
  const act = sc.act('relu', 'act', h);
  return sc.op('dense', 'embedding', [act], { params: { weight: shared('1.weight', [c.language_hidden, c.language_dim], { kind: 'normal', std: 0.2 }, 'kernel'), bias: shared('1.bias', [c.language_dim], NORMAL, 'bias') } });
}

function build(ctx: BuildContext<UdapterConfig>): BuildResult {
  const c = ctx.config;
  if (ctx.mode !== 'after') throw new PlacementError(`adapter '${ctx.name}' (udapter) runs after a layer's output: place it with mode 'after', not '${ctx.mode}'`);
  if (ctx.layer !== undefined && c.leave_out.includes(ctx.layer)) throw new PlacementError(`adapter '${ctx.name}': layer ${ctx.layer} is in leave_out, but the rule selects '${ctx.site.name}'`);
  const sc = ctx.scope;
  const d = ctx.width;
  const m = udapterWidth(c, d);
  if (!c.generate) {
    const down = sc.dense('adapter_down', ctx.input, m, { init: NORMAL, biasInit: ZEROS });
    const up = sc.dense('adapter_up', sc.act('relu', 'act', down), d, { init: ZEROS, biasInit: ZEROS });
    return { output: sc.add('residual', up, ctx.input), up };
  }
  const e = languageEmbedding(ctx);
  const k = c.language_dim;
  // The up-generator starts at zero: every generated adapter is an exact identity at init, for every language.
  const out = sc.op(CPG_BOTTLENECK_OP, 'generated', [ctx.input, e], {
    params: {
      down: { shape: [k, d * m], init: { kind: 'normal', std: 0.02 / Math.sqrt(k) }, kind: 'kernel' },
      down_bias: { shape: [k, m], init: ZEROS, kind: 'kernel' },
      up: { shape: [k, m * d], init: ZEROS, kind: 'kernel' },
      up_bias: { shape: [k, d], init: ZEROS, kind: 'kernel' },
    },
  });
  return { output: out };
}

/** Every layer's `output` site except leave_out, in mode after. */
export function udapterDefaultPlacement(c: UdapterConfig, graph: Graph): DefaultPlacement {
  const layers = [...new Set([...graph.sites.values()].filter((s) => s.kind === 'output' && s.layer !== undefined && !c.leave_out.includes(s.layer)).map((s) => s.layer as number))];
  if (layers.length === 0) throw new PlacementError(`udapter: leave_out ${JSON.stringify(c.leave_out)} leaves no layer of the model`);
  return { select: { kinds: ['output'], layers }, mode: 'after' };
}

export function udapterParamCount({ config, sites, width }: ParamCountArgs<UdapterConfig>): ParamCounts {
  return { perSite: sites.map(() => udapterLayerParams(config, width)), shared: sites.length > 0 ? udapterSharedParams(config) : 0 };
}

export const udapter = defineAdapter<UdapterConfig>({
  name: 'udapter',
  description: 'UDapter: bottleneck adapters after every layer, generated from a typology-based language embedding (contextual parameter generator)',
  modes: ['after'],
  defaults: UDAPTER_DEFAULTS,
  schema: UDAPTER_SCHEMA,
  validate: validateUdapter,
  defaultPlacement: udapterDefaultPlacement,
  build,
  paramCount: udapterParamCount,
  isIdentityAtInit: () => true,
  ops: [cpgBottleneckOp],
  hubCollection: 'udapter',
});

/** Every plugin of this package, for `createRegistry(plugins)` and CLI discovery. */
export const plugins: readonly AnyAdapterPlugin[] = [udapter];

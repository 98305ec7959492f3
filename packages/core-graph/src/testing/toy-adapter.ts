// A tiny adapter plugin for tests of core-graph and of adapter plugins: a linear bottleneck
// (down → relu → up) that supports every splice mode. With `zeroInit` the up-projection starts at
// zero, so the adapter is an exact identity (parallel mode: an exact zero branch).
import type { Init } from '../graph/types';
import type { AdapterPlugin, BuildContext, BuildResult, SpliceMode } from '../plugin/define-adapter';
import { countPerSite, defineAdapter, SPLICE_MODES } from '../plugin/define-adapter';

export interface ToyAdapterConfig {
  /** Bottleneck width. */
  readonly size: number;
  /** Start the up-projection (weight and bias) at zero: the adapter is then an identity. */
  readonly zeroInit: boolean;
}

const RANDOM_INIT: Init = { kind: 'normal', std: 0.1 };

function buildToy(ctx: BuildContext<ToyAdapterConfig>): BuildResult {
  const { scope, config } = ctx;
  const upInit: Init = config.zeroInit ? { kind: 'zeros' } : RANDOM_INIT;
  const down = scope.dense('down', ctx.input, config.size, { init: RANDOM_INIT, biasInit: RANDOM_INIT });
  const up = scope.dense('up', scope.act('relu', 'act', down), ctx.width, { init: upInit, biasInit: upInit });
  if (ctx.mode === 'tap') {
    // Publishes the sum of the tapped exits plus the adapter's view of the first one.
    const taps = ctx.taps ?? [ctx.input];
    return { output: up, outputs: { sum: scope.op('sum', 'taps', [...taps]), up } };
  }
  // parallel adds the branch to the span output itself, so it must not carry its own residual.
  if (ctx.mode === 'parallel') return { output: up, up };
  return { output: scope.add('residual', up, ctx.input), up };
}

function toyPlugin(name: string, defaults: ToyAdapterConfig, modes: readonly SpliceMode[] = SPLICE_MODES): AdapterPlugin<ToyAdapterConfig> {
  return defineAdapter<ToyAdapterConfig>({
    name,
    description: 'toy linear bottleneck (tests only)',
    modes,
    defaults,
    schema: {
      type: 'object',
      properties: { size: { type: 'integer', minimum: 1, maximum: 64 }, zeroInit: { type: 'boolean' } },
      additionalProperties: false,
    },
    defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
    build: buildToy,
    paramCount: countPerSite((config, { outWidth: d }) => d * config.size + config.size + config.size * d + d),
    isIdentityAtInit: (config) => config.zeroInit,
  });
}

/** Linear bottleneck with random init; supports after, before, parallel, wrap and tap. */
export const toyAdapter = toyPlugin('toy', { size: 4, zeroInit: false });

/** The same bottleneck with a zero up-projection by default: outputs equal the base model's at init. */
export const toyZeroAdapter = toyPlugin('toy-zero', { size: 4, zeroInit: true });

/** A toy adapter that supports only the given modes (for "unsupported mode" tests). */
export function toyAdapterWithModes(name: string, modes: readonly SpliceMode[]): AdapterPlugin<ToyAdapterConfig> {
  return toyPlugin(name, { size: 4, zeroInit: false }, modes);
}

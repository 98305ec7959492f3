// Invertible adapters (Pfeiffer et al. 2020, MAD-X §2.3): a NICE coupling block applied to the embedding
// output, and its exact inverse applied to the input of the tied masked-LM output layer.
//
// Layout, as AdapterHub's NICECouplingBlock (adapters/methods/modeling.py): the last axis of e (width d) is split
// into e1 = e[..., :⌊d/2⌋] and e2 = e[..., ⌊d/2⌋:]; F maps e2 → |e1|, G maps |e1| → |e2|, each
// Linear(n → n // rf) → non-linearity → Linear(n // rf → out) (module indices 0 and 2, so weight keys are
// F.0.weight, F.0.bias, F.2.weight, F.2.bias), initialised as AdapterHub's init_bert_weights: N(0, 0.02²), zero bias.
//   forward:  o1 = e1 + F(e2);  o2 = e2 + G(o1);  out = [o1, o2]
//   inverse:  e2 = o2 − G(o1);  e1 = o1 − F(e2);  out = [e1, e2]
// The Jacobian of the forward map is block-triangular with identity diagonal blocks, so log|det J| = 0 (NICE is
// volume preserving; AdapterHub's `jacobian` returns 0).
import type { Activation, Init, ParamDecl, Scope } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';
import { pyFloorDiv } from '@adapters/adapter-bottleneck';

/** Invertible block types AdapterHub knows; this package implements NICE. */
export const INV_ADAPTER_TYPES = ['nice'] as const;
export type InvAdapterType = (typeof INV_ADAPTER_TYPES)[number];

/** Widths of a NICE block on features of width d with reduction factor rf. */
export interface NiceDims {
  readonly width: number;
  /** |e1| = ⌊d/2⌋ */
  readonly split1: number;
  /** |e2| = d − ⌊d/2⌋ */
  readonly split2: number;
  /** Hidden width of F (input e2): int(|e2| // rf). */
  readonly hiddenF: number;
  /** Hidden width of G (input o1): int(|e1| // rf). */
  readonly hiddenG: number;
}

export function niceDims(width: number, reductionFactor: number, path = 'config.inv_adapter_reduction_factor'): NiceDims {
  if (!Number.isInteger(width) || width < 2) throw new ConfigError(path, `an invertible adapter needs a feature width of at least 2, got ${width}`);
  if (!(reductionFactor > 0)) throw new ConfigError(path, `must be > 0, got ${reductionFactor}`);
  const split1 = Math.floor(width / 2);
  const split2 = width - split1;
  const hiddenF = pyFloorDiv(split2, reductionFactor);
  const hiddenG = pyFloorDiv(split1, reductionFactor);
  if (hiddenF < 1 || hiddenG < 1) {
    throw new ConfigError(path, `${reductionFactor} leaves no hidden units for width ${width} (F: ${split2} // ${reductionFactor} = ${hiddenF}, G: ${split1} // ${reductionFactor} = ${hiddenG})`);
  }
  return { width, split1, split2, hiddenF, hiddenG };
}

/** Parameters of one NICE block: F (split2 → hF → split1) and G (split1 → hG → split2), weights and biases. */
export function niceParamCount(d: NiceDims): number {
  const f = d.split2 * d.hiddenF + d.hiddenF + d.hiddenF * d.split1 + d.split1;
  const g = d.split1 * d.hiddenG + d.hiddenG + d.hiddenG * d.split2 + d.split2;
  return f + g;
}

/** Where an invertible adapter's weights live: model-level keys shared by the forward and the inverse splice. */
export const invertibleKeyPrefix = (adapterName: string): string => `invertible_adapters.${adapterName}`;

const WEIGHT_INIT: Init = { kind: 'normal', std: 0.02 };
const BIAS_INIT: Init = { kind: 'zeros' };

/** The weight keys of F and G: `${prefix}.{F,G}.{0,2}.{weight,bias}` (kernels stored [in, out]). */
export interface NiceParams {
  readonly F: { readonly w0: string; readonly b0: string; readonly w2: string; readonly b2: string };
  readonly G: { readonly w0: string; readonly b0: string; readonly w2: string; readonly b2: string };
}

/** Declares (or finds, on the second splice) the shared parameters of a NICE block, owned by the scope's owner. */
export function declareNiceParams(scope: Scope, prefix: string, d: NiceDims): NiceParams {
  const decl = (shape: number[], kind: 'kernel' | 'bias'): ParamDecl => ({ shape, init: kind === 'kernel' ? WEIGHT_INIT : BIAS_INIT, kind });
  const sub = (name: 'F' | 'G', inDim: number, hidden: number, outDim: number) => ({
    w0: scope.sharedParam(`${prefix}.${name}.0.weight`, decl([inDim, hidden], 'kernel')),
    b0: scope.sharedParam(`${prefix}.${name}.0.bias`, decl([hidden], 'bias')),
    w2: scope.sharedParam(`${prefix}.${name}.2.weight`, decl([hidden, outDim], 'kernel')),
    b2: scope.sharedParam(`${prefix}.${name}.2.bias`, decl([outDim], 'bias')),
  });
  return { F: sub('F', d.split2, d.hiddenF, d.split1), G: sub('G', d.split1, d.hiddenG, d.split2) };
}

type Sub = NiceParams['F'];

/** Linear → activation → Linear on the shared weights; nodes `${local}.0`, `${local}.act`, `${local}.2`. */
function subnet(scope: Scope, local: string, x: string, p: Sub, act: Activation): string {
  const h = scope.op('dense', `${local}.0`, [x], { params: { weight: { ref: p.w0 }, bias: { ref: p.b0 } } });
  const a = scope.act(act, `${local}.act`, h);
  return scope.op('dense', `${local}.2`, [a], { params: { weight: { ref: p.w2 }, bias: { ref: p.b2 } } });
}

function split(scope: Scope, x: string, d: NiceDims, names: [string, string]): [string, string] {
  return [
    scope.op('slice', names[0], [x], { attrs: { axis: -1, begin: 0, size: d.split1 } }),
    scope.op('slice', names[1], [x], { attrs: { axis: -1, begin: d.split1, size: d.split2 } }),
  ];
}

/** o1 = e1 + F(e2); o2 = e2 + G(o1); returns concat(o1, o2) along the last axis. */
export function buildNiceForward(scope: Scope, x: string, d: NiceDims, p: NiceParams, act: Activation): string {
  const [e1, e2] = split(scope, x, d, ['e1', 'e2']);
  const o1 = scope.add('o1', e1, subnet(scope, 'F', e2, p.F, act));
  const o2 = scope.add('o2', e2, subnet(scope, 'G', o1, p.G, act));
  return scope.op('concat', 'out', [o1, o2], { attrs: { axis: -1 } });
}

/** e2 = o2 − G(o1); e1 = o1 − F(e2); returns concat(e1, e2): the exact inverse of buildNiceForward. */
export function buildNiceInverse(scope: Scope, y: string, d: NiceDims, p: NiceParams, act: Activation): string {
  const [o1, o2] = split(scope, y, d, ['o1', 'o2']);
  const e2 = scope.op('sub', 'e2', [o2, subnet(scope, 'G', o1, p.G, act)]);
  const e1 = scope.op('sub', 'e1', [o1, subnet(scope, 'F', e2, p.F, act)]);
  return scope.op('concat', 'out', [e1, e2], { attrs: { axis: -1 } });
}

// AdapterHub's parameter counts for the presets, written from its modules (adapters 1.3): PrefixTuning's pool
// (wte [P, d], Linear(d, b), Linear(b, L·2·d)), a prefix gate Linear(d, 1) per layer, the bottleneck's
// Linear(d, m) + Linear(m, d) (m = d // rf) with a gate Linear(d, 1), LoRA's A [r, d] and B [d, r] with a gate.
// Independent of our plugins' own counts, so a test can hold the placed graphs to them.

/** What the counts depend on: hidden width d and number of layers L. */
export interface ModelShape {
  readonly hidden: number;
  readonly layers: number;
}

const prefixPool = (p: number, b: number, { hidden: d, layers: l }: ModelShape): number => p * d + (d * b + b) + (b * l * 2 * d + l * 2 * d);
const bottleneck = (rf: number, d: number): number => {
  const m = Math.max(1, Math.floor(d / rf));
  return d * m + m + m * d + d;
};

/** MAMConfig(): prefix 30 with bottleneck 800 (or `prefixBottleneck`), ParBnConfig (rf 2) at every FFN. */
export function mamParamCount(shape: ModelShape, prefixBottleneck = 800): number {
  return prefixPool(30, prefixBottleneck, shape) + shape.layers * bottleneck(2, shape.hidden);
}

/** UniPELTConfig(): gated prefix 10 with bottleneck 512 (or `prefixBottleneck`), gated seq_bn rf 16, gated LoRA r 8 on q and v. */
export function unipeltParamCount(shape: ModelShape, prefixBottleneck = 512): number {
  const d = shape.hidden;
  const gate = d + 1;
  const perLayer = gate + (bottleneck(16, d) + gate) + 2 * (8 * d + d * 8 + gate);
  return prefixPool(10, prefixBottleneck, shape) + shape.layers * perLayer;
}

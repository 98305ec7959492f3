// Shared pieces of the checks: random samples (encoder, batch, sites), placement, running and bitwise comparison.
import * as tf from '@tensorflow/tfjs';
import type { AdapterCatalog, AdapterRegistry, EncoderConfig, Feeds, Graph, ParamSpec, PlacementResult, SiteSelector, SpliceMode, WeightStore } from '@adapters/core-graph';
import { adapter, applyPlacements, createRegistry, Executor } from '@adapters/core-graph';
import { createRefRng, smallEncoderConfigArb, tokenIdsArb } from '@adapters/core-graph/testing';
import fc from 'fast-check';
import type { NormalizedCase, SuiteContext } from './options';
import { ADAPTER_NAME } from './options';

/**
 * Built-in site choices per mode. Each selects sites of one Hugging Face module at most once per layer
 * (`ffn` and `output` share a module, so they are never selected together: AdapterHub keys would collide).
 */
const DEFAULT_SELECTORS: Readonly<Record<SpliceMode, readonly SiteSelector[]>> = {
  after: [{ kinds: ['ffn'] }, { kinds: ['attention'] }, { kinds: ['attention', 'ffn'] }, { kinds: ['output'] }, { kinds: ['ffn'], layers: [-1] }],
  before: [{ kinds: ['ffn'] }, { kinds: ['attention'] }, { kinds: ['attention', 'ffn'] }, { kinds: ['ffn'], layers: [0] }],
  parallel: [{ kinds: ['ffn'] }, { kinds: ['attention'] }, { kinds: ['attention', 'ffn'] }, { kinds: ['ffn'], layers: [-1] }],
  wrap: [{ kinds: ['ffn'] }, { kinds: ['attention'] }, { kinds: ['attention', 'ffn'] }, { kinds: ['ffn'], layers: [0] }],
  tap: [{ kinds: ['output'] }, { kinds: ['output'], layers: [-1] }, { kinds: ['output'], layers: [0] }],
};

export function selectorsFor(ctx: SuiteContext, mode: SpliceMode): readonly SiteSelector[] {
  const given = ctx.options.select?.[mode];
  if (given === undefined) return DEFAULT_SELECTORS[mode];
  return Array.isArray(given) ? (given as readonly SiteSelector[]) : [given as SiteSelector];
}

export interface Sample {
  readonly encoder: Partial<EncoderConfig>;
  readonly case: NormalizedCase;
  readonly select: SiteSelector;
  readonly batch: number;
  readonly seq: number;
  readonly ids: number[][];
  /** Attention mask with some right padding (every row keeps at least one token). */
  readonly mask: number[][];
  readonly seed: number;
}

export const casesFor = (ctx: SuiteContext, mode: SpliceMode, filter: (c: NormalizedCase) => boolean = () => true): NormalizedCase[] =>
  ctx.cases.filter((c) => c.modes.includes(mode) && filter(c));

export function sampleArb(ctx: SuiteContext, mode: SpliceMode, cases: readonly NormalizedCase[]): fc.Arbitrary<Sample> {
  const encoders = ctx.options.encoders ?? smallEncoderConfigArb({ architectures: ['bert', 'roberta'], maxLayers: 2 });
  return fc
    .record({
      encoder: encoders,
      case: fc.constantFrom(...cases),
      select: fc.constantFrom(...selectorsFor(ctx, mode)),
      batch: fc.integer({ min: 2, max: 3 }),
      seq: fc.integer({ min: 2, max: 5 }),
      seed: fc.integer({ min: 0, max: 10_000 }),
    })
    .chain((s) =>
      fc.record({
        s: fc.constant(s),
        ids: tokenIdsArb(s.encoder.vocabSize ?? 30, s.batch, s.seq),
        lengths: fc.array(fc.integer({ min: 1, max: s.seq }), { minLength: s.batch, maxLength: s.batch }),
      }),
    )
    .map(({ s, ids, lengths }) => ({ ...s, ids, mask: lengths.map((n) => Array.from({ length: s.seq }, (_x, j) => (j < n ? 1 : 0))) }));
}

export const feedsOf = (s: Sample): Feeds => ({ input_ids: s.ids, attention_mask: s.mask });

export function fcParams(ctx: SuiteContext): { numRuns: number; seed?: number } {
  return ctx.options.seed === undefined ? { numRuns: ctx.numRuns } : { numRuns: ctx.numRuns, seed: ctx.options.seed };
}

export const registryOf = (ctx: SuiteContext): AdapterRegistry => createRegistry([ctx.plugin, ...(ctx.options.plugins ?? [])]);

export function place(ctx: SuiteContext, base: Graph, c: NormalizedCase, mode: SpliceMode, select: SiteSelector): PlacementResult {
  if (ctx.options.defaultPlacementOnly) return applyPlacements(base, [{ adapter: adapter(ctx.plugin, ADAPTER_NAME, c.config) }], registryOf(ctx));
  return applyPlacements(base, [{ adapter: adapter(ctx.plugin, ADAPTER_NAME, c.config), select, mode }], registryOf(ctx));
}

/** The config core-graph resolved for the adapter (defaults, presets), as kept in the graph's catalog. */
export function resolvedConfigOf(graph: Graph): Record<string, unknown> {
  const entry = (graph.meta['adapters'] as AdapterCatalog | undefined)?.[ADAPTER_NAME];
  if (!entry) throw new Error(`the placed graph has no adapter '${ADAPTER_NAME}' in its catalog`);
  return { ...entry.config };
}

/** Runs the graph and copies each output out of tfjs; no tensors survive. */
export function runOutputs(graph: Graph, store: WeightStore, feeds: Feeds, outputs?: readonly string[]): Record<string, Float32Array | Int32Array> {
  const out = new Executor(graph, store).run(feeds, outputs === undefined ? {} : { outputs });
  const values: Record<string, Float32Array | Int32Array> = {};
  for (const [k, t] of Object.entries(out)) {
    values[k] = t.dataSync() as Float32Array | Int32Array;
    t.dispose();
  }
  return values;
}

/** Index of the first element whose bytes differ (so -0 ≠ +0 and NaN payloads count), or -1. */
export function firstBitDifference(a: Float32Array | Int32Array, b: Float32Array | Int32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

export { maxAbsDiff } from '@adapters/core-graph/testing';

export const sizeOf = (p: ParamSpec): number => p.shape.reduce((a, b) => a * b, 1);

/** Parameters of `graph` that `base` does not have. */
export const newParams = (graph: Graph, base: Graph): ParamSpec[] => [...graph.params.values()].filter((p) => !base.params.has(p.key));

/** Overwrites the given parameters with clearly non-trivial random values (norm weights near 1). */
export function randomizeParams(store: WeightStore, params: readonly ParamSpec[], seed: number): void {
  const rng = createRefRng(seed);
  for (const p of params) {
    if (p.dtype !== 'float32') continue;
    const v = new Float32Array(sizeOf(p));
    for (let i = 0; i < v.length; i++) {
      if (p.kind === 'norm' && p.key.endsWith('weight')) v[i] = 1 + 0.2 * (2 * rng.uniform() - 1);
      else if (p.kind === 'scalar') v[i] = 0.5 + rng.uniform();
      else v[i] = 0.3 * rng.normal();
    }
    const t = tf.tensor(v, [...p.shape], 'float32');
    store.assign(p.key, t);
    t.dispose();
  }
}

export const describeSelector = (s: SiteSelector): string => JSON.stringify(s, (_k, v: unknown) => (typeof v === 'function' ? '<fn>' : v instanceof RegExp ? String(v) : v));

/** Feature width at a site's exit (or entry), as `paramCount` gets it. */
export function widthAt(graph: Graph, siteName: string, end: 'entry' | 'exit' = 'exit'): number {
  const site = graph.site(siteName);
  const d = graph.node(site[end]).type.shape.at(-1);
  if (typeof d !== 'number') throw new Error(`site '${siteName}' has no fixed width at its ${end}`);
  return d;
}

/** The model's hidden width (the encoder config core-graph keeps in the graph's meta). */
/** The model's depth, as `paramCount` gets it. */
export function numLayersOf(graph: Graph): number {
  const n = (graph.meta['config'] as { numLayers?: unknown } | undefined)?.numLayers;
  if (typeof n !== 'number') throw new Error('the graph has no encoder config with a numLayers in its meta');
  return n;
}

export function hiddenWidthOf(graph: Graph): number {
  const d = (graph.meta['config'] as { hiddenSize?: unknown } | undefined)?.hiddenSize;
  if (typeof d !== 'number') throw new Error('the graph has no encoder config with a hiddenSize in its meta');
  return d;
}

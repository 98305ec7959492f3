// fast-check arbitraries for property tests of core-graph and adapter plugins: small random encoder
// configs, token batches, site selectors and placement-rule sets over the encoder's site names.
import fc from 'fast-check';
import type { Site, SiteKind } from '../graph/types';
import type { EncoderConfig } from '../model/config';
import type { SpliceMode } from '../plugin/define-adapter';
import type { PlacementRule } from '../rewrite/apply-placements';
import type { AdapterTree } from '../rewrite/composition';
import { adapter, Average, BatchSplit, Stack } from '../rewrite/composition';
import type { SiteSelector } from '../rewrite/selector';

export interface SmallEncoderOptions {
  readonly architectures?: readonly EncoderConfig['architecture'][];
  readonly minLayers?: number;
  readonly maxLayers?: number;
}

/** A random small BERT/RoBERTa config: hidden 4..24 divisible by heads, 1..3 layers, vocab 10..40. */
export function smallEncoderConfigArb(options: SmallEncoderOptions = {}): fc.Arbitrary<Partial<EncoderConfig>> {
  const dims = fc
    .constantFrom(1, 2, 3, 4)
    .chain((numHeads) => fc.record({ numHeads: fc.constant(numHeads), hiddenSize: fc.integer({ min: Math.ceil(4 / numHeads), max: Math.floor(24 / numHeads) }).map((k) => k * numHeads) }));
  return fc
    .record({
      dims,
      architecture: fc.constantFrom(...(options.architectures ?? ['bert'])),
      numLayers: fc.integer({ min: options.minLayers ?? 1, max: options.maxLayers ?? 3 }),
      vocabSize: fc.integer({ min: 10, max: 40 }),
      intermediateSize: fc.integer({ min: 4, max: 32 }),
      typeVocabSize: fc.integer({ min: 1, max: 2 }),
      hiddenAct: fc.constantFrom('gelu' as const, 'gelu_new' as const, 'relu' as const),
      layerNormEps: fc.constantFrom(1e-12, 1e-5),
    })
    .map(({ dims: d, ...rest }) => ({ ...rest, ...d, maxPositions: 24, padTokenId: rest.architecture === 'roberta' ? 1 : 0 }));
}

/** Random token ids [batch][seq] within the vocabulary. */
export function tokenIdsArb(vocabSize: number, batch: number, seq: number): fc.Arbitrary<number[][]> {
  const row = fc.array(fc.integer({ min: 0, max: vocabSize - 1 }), { minLength: seq, maxLength: seq });
  return fc.array(row, { minLength: batch, maxLength: batch });
}

const KINDS: readonly SiteKind[] = ['embeddings', 'attention', 'ffn', 'output', 'encoder.output'];

/** Names of the sites buildEncoder creates for `numLayers` layers. */
export function encoderSiteNames(numLayers: number): string[] {
  const names = ['embeddings'];
  for (let i = 0; i < numLayers; i++) names.push(`layer.${i}.attention`, `layer.${i}.ffn`, `layer.${i}.output`);
  return [...names, 'encoder.output'];
}

/** A random selector in one of the supported styles (names, suffix, glob, regex, kinds, layers), maybe with an exclude. */
export function siteSelectorArb(numLayers: number): fc.Arbitrary<SiteSelector> {
  const layerIndex = fc.integer({ min: -numLayers, max: numLayers - 1 });
  const base: fc.Arbitrary<SiteSelector> = fc.oneof(
    fc.subarray(encoderSiteNames(numLayers), { minLength: 1 }).map((names) => ({ names })),
    fc.subarray(['attention', 'ffn', 'output'], { minLength: 1 }).map((names) => ({ names, suffix: true })),
    fc.constantFrom('layer.*.ffn', 'layer.*.attention', 'layer.*.*', '**.ffn', '**', 'layer.0.*', '*.output', 'lay*.*.o*').map((glob) => ({ glob })),
    fc.constantFrom<string | RegExp>('layer\\.\\d+\\.(attention|ffn)', 'layer\\.[0-9]+\\.output', '.*ffn', 'embeddings|encoder\\.output', /layer\.0\..*/).map((regex) => ({ regex })),
    fc.subarray([...KINDS], { minLength: 1 }).map((kinds) => ({ kinds })),
    fc.record({ layers: fc.array(layerIndex, { minLength: 1, maxLength: 3 }), kinds: fc.subarray(['attention', 'ffn', 'output'] as SiteKind[], { minLength: 1 }) }),
  );
  const exclude: fc.Arbitrary<SiteSelector | undefined> = fc.option(
    fc.oneof(fc.record({ layers: fc.array(layerIndex, { minLength: 1, maxLength: 1 }) }), fc.subarray([...KINDS], { minLength: 1, maxLength: 1 }).map((kinds) => ({ kinds }))),
    { nil: undefined, freq: 3 },
  );
  return fc.tuple(base, exclude).map(([sel, ex]) => (ex === undefined ? sel : { ...sel, exclude: ex }));
}

export type CompositionKind = 'single' | 'Stack' | 'Average' | 'BatchSplit';

export interface RuleSetOptions {
  readonly numLayers: number;
  /** Batch size the graph will run with: BatchSplit sizes partition it. */
  readonly batch: number;
  /** Plugin name (registered in the test's registry); default `toy`. */
  readonly plugin?: string;
  readonly modes?: readonly SpliceMode[];
  readonly compositions?: readonly CompositionKind[];
  readonly minRules?: number;
  readonly maxRules?: number;
  /** Restrict selections to sites inside a layer (attention, ffn, output). */
  readonly layerSitesOnly?: boolean;
  /** Extra config given to every adapter. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Average weight choices (undefined = equal weights); default: equal, [0.25, 0.75] and [1, 0.5]. */
  readonly averageWeights?: readonly (readonly number[] | undefined)[];
}

const AVERAGE_WEIGHTS: readonly (readonly number[] | undefined)[] = [undefined, [0.25, 0.75], [1, 0.5]];

/** Sizes of 2 parts that sum to batch (batch >= 2). */
const splitArb = (batch: number): fc.Arbitrary<number[]> => fc.integer({ min: 1, max: batch - 1 }).map((k) => [k, batch - k]);

function treeArb(options: RuleSetOptions, kinds: readonly CompositionKind[], plugin: string, prefix: string): fc.Arbitrary<AdapterTree> {
  const { batch } = options;
  const config = options.config ?? {};
  const leaf = (i: number) => fc.integer({ min: 1, max: 6 }).map((size) => adapter(plugin, `${prefix}${i}`, { ...config, size }));
  const usable = kinds.filter((k) => k !== 'BatchSplit' || batch >= 2);
  return fc.constantFrom(...usable).chain((kind): fc.Arbitrary<AdapterTree> => {
    switch (kind) {
      case 'single':
        return leaf(0);
      case 'Stack':
        return fc.tuple(leaf(0), leaf(1), fc.option(leaf(2), { nil: undefined })).map(([a, b, c]) => (c ? Stack(a, b, c) : Stack(a, b)));
      case 'Average':
        return fc.tuple(leaf(0), leaf(1), fc.constantFrom(...(options.averageWeights ?? AVERAGE_WEIGHTS))).map(([a, b, w]) => Average(w, a, b));
      case 'BatchSplit':
        return fc.tuple(leaf(0), leaf(1), splitArb(batch)).map(([a, b, sizes]) => BatchSplit(sizes, a, b));
    }
  });
}

const hasResidual = (site: Site): boolean => site.residual !== undefined;
const inLayer = (site: Site): boolean => site.layer !== undefined;

/**
 * A random list of placement rules over an encoder's sites. Every rule has an explicit selector and
 * mode; adapter names are unique across the set. At most one rule wraps (a site can be wrapped once),
 * and wrap rules only select sites with a residual add & norm. Rules may still select nothing after
 * `exclude`; callers skip those cases (applyPlacements throws PlacementError).
 */
export function ruleSetArb(options: RuleSetOptions): fc.Arbitrary<PlacementRule[]> {
  const modes = options.modes ?? ['after', 'before', 'parallel', 'wrap'];
  const kinds = options.compositions ?? ['single', 'Stack', 'Average', 'BatchSplit'];
  const plugin = options.plugin ?? 'toy';
  const one = (index: number) =>
    fc.record({ select: siteSelectorArb(options.numLayers), mode: fc.constantFrom(...modes), adapter: treeArb(options, kinds, plugin, `r${index}_`) });
  return fc
    .integer({ min: options.minRules ?? 1, max: options.maxRules ?? 3 })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_x, i) => one(i))))
    .map((rules) => {
      let wrapped = false;
      return rules.map((r): PlacementRule => {
        let mode = r.mode;
        if (mode === 'wrap' && wrapped) mode = 'after';
        if (mode === 'wrap') wrapped = true;
        const where = mode === 'wrap' ? hasResidual : options.layerSitesOnly ? inLayer : undefined;
        return { adapter: r.adapter, mode, select: where ? { ...r.select, where } : r.select };
      });
    });
}

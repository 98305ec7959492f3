import { PlacementError } from '../errors';
import type { GraphBuilder, Scope } from '../graph/builder';
import type { Site } from '../graph/types';
import type { OpDef } from '../ops/op-def';
import type { BuildContext, SpliceMode } from '../plugin/define-adapter';
import type { AnyAdapterPlugin } from '../plugin/registry';
import type { AdapterTree, BlockPosition, BlockRules, CompositionBlock } from './composition';

/** State threaded through a composition: the current hidden state, the span's residual input (wrap), the last up-projection. */
export interface ComposeState {
  readonly hidden: string;
  readonly residual?: string;
  /** wrap: the span's own output h (per batch copy inside Parallel/BatchSplit branches). */
  readonly spanOutput?: string;
  readonly up?: string;
  /** The leaf that produced `hidden`, whose plugin closes a wrapped span. */
  readonly last?: { readonly plugin: AnyAdapterPlugin; readonly ctx: BuildContext<object> };
}

export interface BlockContext {
  readonly builder: GraphBuilder;
  readonly site: Site;
  readonly mode: SpliceMode;
  readonly width: number;
  /** A fresh scope for nodes the block itself adds (splits, sums, fusion layers...). */
  blockScope(owner?: string): Scope;
  /** A graph input whose batch is the model's batch (Parallel branches compare against it). */
  readonly batchReference: string;
}

export type ComposeChild = (child: AdapterTree, state: ComposeState) => ComposeState;

/**
 * How a composition block combines its children; plugins register more (Fuse). `allowedChildren` and `validate`
 * (checks of its options and position, errors naming the block) are what `validateTree` asks of it.
 */
export interface BlockDef extends BlockRules {
  readonly type: string;
  /** Ops `compose` emits beyond core's (fusion's): a runtime with the block has them, as a plugin's `ops`. */
  readonly ops?: readonly OpDef[];
  compose(ctx: BlockContext, block: CompositionBlock, state: ComposeState, composeChild: ComposeChild): ComposeState;
}

const splitState = (s: ComposeState, f: (id: string, tag: string) => string): ComposeState => ({
  hidden: f(s.hidden, 'hidden'),
  ...(s.residual === undefined ? {} : { residual: f(s.residual, 'residual') }),
  ...(s.spanOutput === undefined ? {} : { spanOutput: f(s.spanOutput, 'span_output') }),
});

const stack: BlockDef = {
  type: 'Stack',
  allowedChildren: ['adapter', 'Parallel', 'BatchSplit', 'Average', 'Fuse'],
  compose: (_ctx, block, state, child) => block.children.reduce((s, c) => child(c, s), state),
};

/** Concatenates the children's hidden states (and residual inputs) along the batch; keeps the last child's closer. */
function concatBatch(ctx: BlockContext, results: ComposeState[], parts: ComposeState[], original: ComposeState): ComposeState {
  const sc = ctx.blockScope();
  const hidden = sc.op('concat', 'hidden', results.map((r) => r.hidden), { attrs: { axis: 0 } });
  // Residual input and span output are re-assembled too, so a wrapped span closes on matching batches.
  const residual = original.residual === undefined ? undefined : sc.op('concat', 'residual', parts.map((p) => p.residual as string), { attrs: { axis: 0 } });
  const spanOutput = original.spanOutput === undefined ? undefined : sc.op('concat', 'span_output', parts.map((p) => p.spanOutput as string), { attrs: { axis: 0 } });
  const last = results[results.length - 1]?.last;
  return { hidden, ...(residual === undefined ? {} : { residual }), ...(spanOutput === undefined ? {} : { spanOutput }), ...(last ? { last } : {}) };
}

const parallel: BlockDef = {
  type: 'Parallel',
  allowedChildren: ['adapter', 'Stack', 'BatchSplit', 'Average'],
  validate(_block, { parent, tree }: BlockPosition) {
    if (parent !== undefined && parent !== 'Stack') throw new PlacementError(`Parallel must be at the top level or inside Stack in ${tree}`);
  },
  compose(ctx, block, state, child) {
    const parts = block.children.length;
    // Stacked copies must mean the same thing everywhere: one branch count per graph.
    const existing = ctx.builder.getMeta('parallelCopies');
    if (existing !== undefined && existing !== parts) throw new PlacementError(`Parallel with ${parts} branches conflicts with an existing Parallel of ${String(existing)}`);
    ctx.builder.setMeta('parallelCopies', parts);
    const inputs = block.children.map((_c, index) => {
      const sc = ctx.blockScope();
      return splitState(state, (id, tag) => sc.op('branchInput', tag, [id, ctx.batchReference], { attrs: { parts, index } }));
    });
    const results = block.children.map((c, i) => child(c, inputs[i] as ComposeState));
    return concatBatch(ctx, results, inputs, state);
  },
};

const batchSplit: BlockDef = {
  type: 'BatchSplit',
  allowedChildren: ['adapter', 'Stack', 'BatchSplit', 'Average'],
  validate(block, { tree }) {
    const sizes = block.options?.['sizes'];
    if (!Array.isArray(sizes) || sizes.length !== block.children.length || !sizes.every((s) => Number.isInteger(s) && s > 0)) {
      throw new PlacementError(`BatchSplit needs one positive integer size per child in ${tree}`);
    }
  },
  compose(ctx, block, state, child) {
    const sizes = block.options?.['sizes'] as number[];
    let begin = 0;
    // `total` makes the slices check at run time that the batch has exactly sum(sizes) rows.
    const total = sizes.reduce((a, b) => a + b, 0);
    const parts: ComposeState[] = [];
    const results = block.children.map((c, i) => {
      const sc = ctx.blockScope();
      const size = sizes[i] as number;
      const part = splitState(state, (id, tag) => sc.op('slice', tag, [id], { attrs: { axis: 0, begin, size, total } }));
      begin += size;
      parts.push(part);
      return child(c, part);
    });
    return concatBatch(ctx, results, parts, state);
  },
};

const average: BlockDef = {
  type: 'Average',
  allowedChildren: ['adapter', 'Stack', 'BatchSplit'],
  validate(block, { tree }) {
    const w = block.options?.['weights'];
    if (w !== undefined && (!Array.isArray(w) || w.length !== block.children.length || !w.every((x) => typeof x === 'number'))) {
      throw new PlacementError(`Average needs one numeric weight per child in ${tree}`);
    }
  },
  compose(ctx, block, state, child) {
    const n = block.children.length;
    const weights = (block.options?.['weights'] as number[] | undefined) ?? Array.from({ length: n }, () => 1 / n);
    const results = block.children.map((c) => child(c, state));
    const sc = ctx.blockScope();
    const scaled = results.map((r, i) => sc.op('scale', `w${i}`, [r.hidden], { attrs: { factor: weights[i] as number } }));
    const hidden = sc.op('sum', 'hidden', scaled);
    const last = results[n - 1]?.last;
    const { up: _incomingUp, last: _incomingLast, ...carried } = state;
    return { ...carried, hidden, ...(last ? { last } : {}) };
  },
};

/** Read access to the composition block types a rewrite knows (a runtime's, or the default ones). */
export interface BlockTable {
  get(type: string): BlockDef;
  has(type: string): boolean;
  /** The definition of `type`, or undefined (what `validateTree` reads a block's rules from). */
  find(type: string): BlockDef | undefined;
  types(): string[];
}

export interface MutableBlockTable extends BlockTable {
  register(def: BlockDef): void;
}

export function createBlockTable(defs: readonly BlockDef[] = []): MutableBlockTable {
  const blocks = new Map<string, BlockDef>();
  const table: MutableBlockTable = {
    get(type) {
      const def = blocks.get(type);
      if (!def) throw new PlacementError(`unknown composition block '${type}'`);
      return def;
    },
    has: (type) => blocks.has(type),
    find: (type) => blocks.get(type),
    types: () => [...blocks.keys()],
    register(def) {
      const existing = blocks.get(def.type);
      if (existing && existing !== def) throw new PlacementError(`composition block '${def.type}' is already registered`);
      blocks.set(def.type, def);
    },
  };
  for (const def of defs) table.register(def);
  return table;
}

/** Core's blocks: Stack, Parallel, BatchSplit, Average. */
export const CORE_BLOCKS: readonly BlockDef[] = [stack, parallel, batchSplit, average];

/**
 * The default runtime's composition blocks; the compatibility hook through which a plugin that is not yet a
 * package descriptor (adapter-fusion's Fuse) adds a block. A runtime from `createRuntime` has its own table.
 */
export const compositionRegistry: MutableBlockTable = createBlockTable(CORE_BLOCKS);

// A ConfigUnion (MAM, UniPELT, ...) as a child of Stack / Parallel / BatchSplit, as AdapterHub 1.3 composes it: each
// method's layer composes the setup restricted to its own modules (adapter_layer_base.py: a Stack skips children the
// layer does not hold; Parallel and BatchSplit pass such a child's slice of the batch through unchanged). Here each
// placement (sites + mode) is such a layer: the tree is projected onto the leaves placed there — a union contributes
// the component placed there — and spliced once per placement.
import { PlacementError } from '../errors';
import type { AdapterTree } from './composition';
import { block, describeTree } from './composition';

/** Blocks a union may sit in: those every method's AdapterHub layer implements (prefix tuning: only these three). */
export const UNION_BLOCKS: readonly string[] = ['Stack', 'Parallel', 'BatchSplit'];

/** Refuses blocks a union cannot sit in (Average, Fuse, plugin blocks), naming the union and the tree. */
export function checkUnionBlocks(tree: AdapterTree, unions: readonly string[]): void {
  const walk = (node: AdapterTree): void => {
    if (node.kind === 'adapter') return;
    if (!UNION_BLOCKS.includes(node.type)) {
      throw new PlacementError(`adapter '${unions[0] as string}' is a union (ConfigUnion): a union may sit in ${UNION_BLOCKS.join(', ')} (as AdapterHub composes each method's layer), not in ${node.type}: ${describeTree(tree)}`, 'E_UNION_COMPOSITION');
    }
    node.children.forEach(walk);
  };
  walk(tree);
}

/** An identity child: an empty Stack passes its state through (a branch whose adapter is not at this placement). */
const IDENTITY: AdapterTree = block('Stack', []);

/**
 * `tree` restricted to the leaves `keep` accepts (AdapterHub's per-layer composition): Stack drops other children (one
 * left: that child), Parallel and BatchSplit keep their branches and batch slices, other children becoming the
 * identity. Undefined when no leaf is kept.
 */
export function projectTree(tree: AdapterTree, keep: (name: string) => boolean): AdapterTree | undefined {
  if (tree.kind === 'adapter') return keep(tree.name) ? tree : undefined;
  const children = tree.children.map((c) => projectTree(c, keep));
  if (children.every((c) => c === undefined)) return undefined;
  if (tree.type === 'Stack') {
    const kept = children.filter((c): c is AdapterTree => c !== undefined);
    return kept.length === 1 ? kept[0] : block('Stack', kept, tree.options);
  }
  return block(tree.type, children.map((c) => c ?? IDENTITY), tree.options);
}

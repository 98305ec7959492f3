import { PlacementError } from '../errors';
import type { AnyAdapterPlugin } from '../plugin/registry';

/** One adapter in a rule: which plugin builds it, its name (weights are keyed by it) and its config. */
export interface AdapterUse {
  readonly kind: 'adapter';
  readonly plugin: string | AnyAdapterPlugin;
  readonly name: string;
  readonly config?: Readonly<Record<string, unknown>>;
}

/** A composition block (AdapterHub semantics): Stack, Parallel, BatchSplit, Average, or a plugin's (Fuse). */
export interface CompositionBlock {
  readonly kind: 'block';
  readonly type: string;
  readonly children: readonly AdapterTree[];
  readonly options?: Readonly<Record<string, unknown>>;
}

export type AdapterTree = AdapterUse | CompositionBlock;

export function adapter(plugin: string | AnyAdapterPlugin, name: string, config?: Readonly<Record<string, unknown>>): AdapterUse {
  return config === undefined ? { kind: 'adapter', plugin, name } : { kind: 'adapter', plugin, name, config };
}

export const block = (type: string, children: readonly AdapterTree[], options?: Readonly<Record<string, unknown>>): CompositionBlock =>
  options === undefined ? { kind: 'block', type, children } : { kind: 'block', type, children, options };

/** Adapters applied one after another: the output of each is the input of the next. */
export const Stack = (...children: AdapterTree[]): CompositionBlock => block('Stack', children);
/** Each child processes its own copy of the whole batch; outputs are stacked along the batch axis. */
export const Parallel = (...children: AdapterTree[]): CompositionBlock => block('Parallel', children);
/** The batch is split by `sizes`; child i processes rows of slice i. */
export const BatchSplit = (sizes: readonly number[], ...children: AdapterTree[]): CompositionBlock => block('BatchSplit', children, { sizes: [...sizes] });
/** Weighted average of the children's outputs (equal weights by default). */
export const Average = (weights: readonly number[] | undefined, ...children: AdapterTree[]): CompositionBlock =>
  block('Average', children, weights === undefined ? {} : { weights: [...weights] });

/** Leaves of a tree, in order. */
export function leaves(tree: AdapterTree): AdapterUse[] {
  return tree.kind === 'adapter' ? [tree] : tree.children.flatMap(leaves);
}

export function describeTree(tree: AdapterTree): string {
  return tree.kind === 'adapter' ? tree.name : `${tree.type}(${tree.children.map(describeTree).join(', ')})`;
}

/** Which children each block accepts ('adapter' = a single adapter); filled by the block registry. */
const ALLOWED_CHILDREN: Record<string, readonly string[]> = {};

/** Records the children a block type accepts (called by compositionRegistry.register). */
export function allowChildren(type: string, children: readonly string[]): void {
  ALLOWED_CHILDREN[type] = [...children];
}

/** Rejects invalid nesting, duplicate adapters and bad block options, naming the offending block. */
export function validateTree(tree: AdapterTree, isRegistered: (type: string) => boolean): void {
  const seen = new Set<string>();
  for (const leaf of leaves(tree)) {
    if (seen.has(leaf.name)) throw new PlacementError(`adapter '${leaf.name}' appears twice in ${describeTree(tree)}`);
    seen.add(leaf.name);
  }
  const walk = (node: AdapterTree, parent: string | undefined): void => {
    if (node.kind === 'adapter') return;
    if (!isRegistered(node.type)) throw new PlacementError(`unknown composition block '${node.type}' (install the plugin that provides it)`);
    if (parent !== undefined && !(ALLOWED_CHILDREN[parent] ?? []).includes(node.type)) {
      throw new PlacementError(`${node.type} cannot be nested in ${parent} (${parent} accepts: ${(ALLOWED_CHILDREN[parent] ?? []).join(', ')}) in ${describeTree(tree)}`);
    }
    if (node.children.length === 0) throw new PlacementError(`${node.type} in ${describeTree(tree)} has no children`);
    if (node.type === 'Parallel' && parent !== undefined && parent !== 'Stack') {
      throw new PlacementError(`Parallel must be at the top level or inside Stack in ${describeTree(tree)}`);
    }
    if (node.type === 'BatchSplit') {
      const sizes = node.options?.['sizes'];
      if (!Array.isArray(sizes) || sizes.length !== node.children.length || !sizes.every((s) => Number.isInteger(s) && s > 0)) {
        throw new PlacementError(`BatchSplit needs one positive integer size per child in ${describeTree(tree)}`);
      }
    }
    if (node.type === 'Average') {
      const w = node.options?.['weights'];
      if (w !== undefined && (!Array.isArray(w) || w.length !== node.children.length || !w.every((x) => typeof x === 'number'))) {
        throw new PlacementError(`Average needs one numeric weight per child in ${describeTree(tree)}`);
      }
    }
    for (const c of node.children) walk(c, node.type);
  };
  walk(tree, undefined);
}

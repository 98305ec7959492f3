import { PlacementError } from '../errors';
import type { AnyAdapterPlugin } from '../plugin/registry';
import type { BlockDef } from './blocks';

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
  /**
   * The block's definition, carried by the node (as an adapter use may carry its plugin object): a rewrite whose
   * runtime lacks the type uses it, with its ops. Without it the type is looked up in the runtime.
   */
  readonly def?: BlockDef;
}

export type AdapterTree = AdapterUse | CompositionBlock;

export function adapter(plugin: string | AnyAdapterPlugin, name: string, config?: Readonly<Record<string, unknown>>): AdapterUse {
  return config === undefined ? { kind: 'adapter', plugin, name } : { kind: 'adapter', plugin, name, config };
}

export const block = (type: string, children: readonly AdapterTree[], options?: Readonly<Record<string, unknown>>, def?: BlockDef): CompositionBlock => {
  if (def !== undefined && def.type !== type) throw new PlacementError(`block '${type}' carries the definition of '${def.type}'`);
  return { kind: 'block', type, children, ...(options === undefined ? {} : { options }), ...(def === undefined ? {} : { def }) };
};

/** The block definitions a tree's nodes carry (`block(type, children, options, def)`), one per type. */
export function carriedBlocks(tree: AdapterTree): BlockDef[] {
  const found = new Map<string, BlockDef>();
  const walk = (node: AdapterTree): void => {
    if (node.kind === 'adapter') return;
    const def = node.def;
    if (def !== undefined) {
      const known = found.get(def.type);
      if (known !== undefined && known !== def) throw new PlacementError(`two different definitions of block '${def.type}' in ${describeTree(tree)}`);
      found.set(def.type, def);
    }
    node.children.forEach(walk);
  };
  walk(tree);
  return [...found.values()];
}

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

/** Where a block sits, for its own checks. */
export interface BlockPosition {
  /** The enclosing block's type; undefined at the top of the tree. */
  readonly parent: string | undefined;
  /** The whole tree, described, for error messages. */
  readonly tree: string;
}

/** What `validateTree` asks of a block type (a BlockDef carries these). */
export interface BlockRules {
  /** Child types it accepts ('adapter' for a single adapter). */
  readonly allowedChildren: readonly string[];
  /** Checks of the block's own options and position; throw a PlacementError naming the block. */
  validate?(block: CompositionBlock, position: BlockPosition): void;
}

/**
 * Rejects invalid nesting, duplicate adapters and bad block options, naming the offending block. Each block's own
 * rules (children, options, position) come from its definition: `rulesOf(type)`, undefined for an unknown type.
 */
export function validateTree(tree: AdapterTree, rulesOf: (type: string) => BlockRules | undefined): void {
  const seen = new Set<string>();
  for (const leaf of leaves(tree)) {
    if (seen.has(leaf.name)) throw new PlacementError(`adapter '${leaf.name}' appears twice in ${describeTree(tree)}`);
    seen.add(leaf.name);
  }
  const described = describeTree(tree);
  const walk = (node: AdapterTree, parent: BlockRules | undefined, parentType: string | undefined): void => {
    if (node.kind === 'adapter') return;
    const rules = rulesOf(node.type);
    if (!rules) throw new PlacementError(`unknown composition block '${node.type}' (install the plugin that provides it)`);
    if (parent && parentType !== undefined && !parent.allowedChildren.includes(node.type)) {
      throw new PlacementError(`${node.type} cannot be nested in ${parentType} (${parentType} accepts: ${parent.allowedChildren.join(', ')}) in ${described}`);
    }
    if (node.children.length === 0) throw new PlacementError(`${node.type} in ${described} has no children`);
    rules.validate?.(node, { parent: parentType, tree: described });
    for (const c of node.children) walk(c, rules, node.type);
  };
  walk(tree, undefined, undefined);
}

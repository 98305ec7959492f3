// An explicit runtime: what a process knows (ops, composition blocks, adapter plugins, heads, lowerings) is a
// value built from package descriptors, passed to the rewrite and the executor, instead of module singletons
// that plugins fill at import. Two runtimes in one process never see each other's registrations.
import { PluginDefinitionError } from '../errors';
import type { AnyHeadDef, HeadRegistry } from '../model/head-def';
import { createHeadRegistry } from '../model/head-def';
import { CORE_HEADS, coreHeads } from '../model/heads';
import type { OpDef } from '../ops/op-def';
import type { OpTable } from '../ops/registry';
import { CORE_OPS, createOpTable, opRegistry } from '../ops/registry';
import { addLayerNormLowering } from '../passes/add-layer-norm';
import type { Lowering } from '../passes/lower';
import type { AdapterRegistry, AnyAdapterPlugin } from '../plugin/registry';
import { createRegistry } from '../plugin/registry';
import type { BlockDef, BlockTable } from '../rewrite/blocks';
import { compositionRegistry, CORE_BLOCKS, createBlockTable } from '../rewrite/blocks';

/** What one package contributes to a runtime (`definePackage`). */
export interface PackageDescriptor {
  readonly name: string;
  readonly adapters: readonly AnyAdapterPlugin[];
  readonly ops: readonly OpDef[];
  readonly blocks: readonly BlockDef[];
  readonly heads: readonly AnyHeadDef[];
  readonly lowerings: readonly Lowering[];
}

export interface PackageParts {
  readonly name: string;
  readonly adapters?: readonly AnyAdapterPlugin[];
  readonly ops?: readonly OpDef[];
  readonly blocks?: readonly BlockDef[];
  readonly heads?: readonly AnyHeadDef[];
  readonly lowerings?: readonly Lowering[];
}

/** Everything a graph is built, rewritten and run with. */
export interface Runtime {
  /** Package names, in the order given (core first). */
  readonly packages: readonly string[];
  readonly ops: OpTable;
  readonly blocks: BlockTable;
  readonly plugins: AdapterRegistry;
  readonly heads: HeadRegistry;
  /** Inference lowerings `Executor.run()` applies (see passes/lower.ts). */
  readonly lowerings: readonly Lowering[];
}

function distinct<T>(items: readonly T[], nameOf: (t: T) => string, what: string, pkg: string): void {
  const seen = new Set<string>();
  for (const item of items) {
    const name = nameOf(item);
    if (seen.has(name)) throw new PluginDefinitionError(`package '${pkg}'`, `lists ${what} '${name}' twice`);
    seen.add(name);
  }
}

/** Checks and freezes a package descriptor: a name, and no two contributions of one kind with one name. */
export function definePackage(parts: PackageParts): PackageDescriptor {
  if (typeof parts.name !== 'string' || parts.name.length === 0) throw new PluginDefinitionError('package', `definePackage: name must be a non-empty string, got ${JSON.stringify(parts.name)}`);
  const d: PackageDescriptor = Object.freeze({
    name: parts.name,
    adapters: Object.freeze([...(parts.adapters ?? [])]),
    ops: Object.freeze([...(parts.ops ?? [])]),
    blocks: Object.freeze([...(parts.blocks ?? [])]),
    heads: Object.freeze([...(parts.heads ?? [])]),
    lowerings: Object.freeze([...(parts.lowerings ?? [])]),
  });
  distinct(d.adapters, (a) => a.name, 'adapter', d.name);
  distinct(d.ops, (o) => o.name, 'op', d.name);
  distinct(d.blocks, (b) => b.type, 'block', d.name);
  distinct(d.heads, (h) => h.type, 'head', d.name);
  distinct(d.lowerings, (l) => l.name, 'lowering', d.name);
  return d;
}

/** Core's built-ins: its ops (with `addLayerNorm`), Stack/Parallel/BatchSplit/Average, its heads, the add+LayerNorm lowering. */
export const corePackage: PackageDescriptor = definePackage({
  name: '@adapters/core-graph',
  ops: CORE_OPS,
  blocks: CORE_BLOCKS,
  heads: CORE_HEADS,
  lowerings: [addLayerNormLowering],
});

/** Every op a package brings: its own, its plugins', its blocks', its heads' and its lowerings' (one object counted once). */
function opsOf(p: PackageDescriptor): OpDef[] {
  return unique([
    ...p.ops, ...p.adapters.flatMap((a) => a.ops ?? []), ...p.blocks.flatMap((b) => b.ops ?? []), ...p.heads.flatMap((h) => h.ops ?? []), ...loweringsOf(p).flatMap((l) => l.ops ?? []),
  ]);
}

function loweringsOf(p: PackageDescriptor): Lowering[] {
  return unique([...p.lowerings, ...p.adapters.flatMap((a) => a.lowerings ?? [])]);
}

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

/**
 * A runtime holding core's built-ins and these packages' contributions (with the ops and lowerings their
 * plugins declare). Two packages contributing different definitions under one op, block, adapter, head or
 * lowering name is a PluginDefinitionError naming both (listing one package twice is too).
 */
export function createRuntime(packages: readonly PackageDescriptor[] = []): Runtime {
  const all = [corePackage, ...packages.filter((p) => p !== corePackage)];
  const owner = new Map<string, { pkg: string; def: unknown }>();
  const claim = (kind: string, name: string, def: unknown, pkg: string): boolean => {
    const key = `${kind}\u0000${name}`;
    const first = owner.get(key);
    if (first === undefined) {
      owner.set(key, { pkg, def });
      return true;
    }
    if (first.def === def) return false;
    throw new PluginDefinitionError(`package '${pkg}'`, `${kind} '${name}' is also contributed by '${first.pkg}'`);
  };
  const seen = new Set<string>();
  const ops: OpDef[] = [];
  const blockDefs: BlockDef[] = [];
  const adapters: AnyAdapterPlugin[] = [];
  const heads: AnyHeadDef[] = [];
  const lowerings: Lowering[] = [];
  for (const p of all) {
    if (seen.has(p.name)) throw new PluginDefinitionError(`package '${p.name}'`, 'is listed twice');
    seen.add(p.name);
    for (const o of opsOf(p)) if (claim('op', o.name, o, p.name)) ops.push(o);
    for (const b of p.blocks) if (claim('block', b.type, b, p.name)) blockDefs.push(b);
    for (const a of p.adapters) if (claim('adapter', a.name, a, p.name)) adapters.push(a);
    for (const h of p.heads) if (claim('head', h.type, h, p.name)) heads.push(h);
    for (const l of loweringsOf(p)) if (claim('lowering', l.name, l, p.name)) lowerings.push(l);
  }
  const opTable = createOpTable(ops);
  const blocks = createBlockTable(blockDefs);
  return Object.freeze({
    packages: Object.freeze(all.map((p) => p.name)),
    ops: { get: opTable.get, has: opTable.has, names: opTable.names },
    blocks: { get: blocks.get, has: blocks.has, find: blocks.find, types: blocks.types },
    plugins: createRegistry(adapters),
    heads: createHeadRegistry(heads),
    lowerings: Object.freeze(lowerings),
  });
}

/**
 * The runtime of call sites that pass none: core's built-ins plus what plugins not yet migrated to package
 * descriptors register at import (`opRegistry.register`, `compositionRegistry.register`), the compatibility path.
 */
export const defaultRuntime: Runtime = Object.freeze({
  packages: Object.freeze([corePackage.name]),
  ops: opRegistry,
  blocks: compositionRegistry,
  plugins: createRegistry(),
  heads: coreHeads,
  lowerings: corePackage.lowerings,
});

/**
 * `base` with more ops, looked up before its own (e.g. a builder's ops for a graph built without its package, or
 * the ops a head emits). `base` itself when it already has every one of them.
 */
export function withOps(base: Runtime, ops: readonly OpDef[]): Runtime {
  const own = createOpTable(unique(ops.filter((o) => !base.ops.has(o.name) || base.ops.get(o.name) !== o)));
  if (own.names().length === 0) return base;
  const table: OpTable = {
    get: (name, nodeId) => (own.has(name) ? own.get(name) : base.ops.get(name, nodeId)),
    has: (name) => own.has(name) || base.ops.has(name),
    names: () => [...new Set([...own.names(), ...base.ops.names()])].sort(),
  };
  return Object.freeze({ ...base, ops: table });
}

/**
 * `base` with more composition blocks (and the ops they declare), looked up before its own: what a rewrite uses for
 * blocks a tree carries (`block(type, children, options, def)`, e.g. adapter-fusion's `fuse()`). `base` itself when it
 * already has every one of them.
 */
export function withBlocks(base: Runtime, defs: readonly BlockDef[]): Runtime {
  const extra = unique(defs).filter((d) => base.blocks.find(d.type) !== d);
  const withBlockOps = withOps(base, defs.flatMap((d) => d.ops ?? []));
  if (extra.length === 0) return withBlockOps;
  const own = createBlockTable(extra);
  const blocks: BlockTable = {
    get: (type) => (own.has(type) ? own.get(type) : base.blocks.get(type)),
    has: (type) => own.has(type) || base.blocks.has(type),
    find: (type) => own.find(type) ?? base.blocks.find(type),
    types: () => [...new Set([...own.types(), ...base.blocks.types()])],
  };
  return Object.freeze({ ...withBlockOps, blocks });
}

/** Whether a value is a runtime rather than an adapter registry (the two are accepted in the same places). */
export function isRuntime(value: AdapterRegistry | Runtime): value is Runtime {
  return 'lowerings' in value && 'blocks' in value;
}

/**
 * A runtime, or (the older signature) an adapter registry: then `base` (the runtime the graph being rewritten was
 * built with, else the default runtime) with the registry's plugins and the ops and lowerings they declare.
 */
export function asRuntime(registry: AdapterRegistry | Runtime, base: Runtime = defaultRuntime): Runtime {
  if (isRuntime(registry)) return registry;
  const plugins = registry.list();
  const ops = [...plugins.flatMap((p) => p.ops ?? []), ...plugins.flatMap((p) => p.lowerings ?? []).flatMap((l) => l.ops ?? [])];
  const lowerings = unique([...base.lowerings, ...plugins.flatMap((p) => p.lowerings ?? [])]);
  return Object.freeze({ ...withOps(base, ops), plugins: registry, lowerings: Object.freeze(lowerings) });
}

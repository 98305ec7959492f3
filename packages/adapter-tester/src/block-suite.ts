// The conformance suite for composition blocks (Stack, Parallel, BatchSplit, Average, a plugin's Fuse): what
// runAdapterSuite is for adapter plugins. fast-check draws small encoders, a case and token ids; each check places
// the block (over child adapters) and asserts one rule of the block contract.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { AdapterTree, AdapterUse, AnyAdapterPlugin, BlockDef, CompositionBlock, EncoderConfig, Graph, Runtime, SiteSelector, SpliceMode } from '@adapters/core-graph';
import {
  adapter, AdapterGraphError, addHead, applyPlacements, block, buildEncoder, createRuntime, createTrainer, crossEntropy, definePackage, ensureBackend, Executor, leaves, WeightStore,
} from '@adapters/core-graph';
import { createRefRng, smallEncoderConfigArb, toyAdapter } from '@adapters/core-graph/testing';
import fc from 'fast-check';
import { firstBitDifference, randomizeParams, runOutputs } from './fixtures';
import type { TestApi, TrainSettings } from './options';

/** One tree to put through the suite. */
export interface BlockCase {
  readonly name: string;
  /** How many child adapters the tree uses. */
  readonly children: number;
  /** The tree over those children (distinct adapters `c0`, `c1`, ...). */
  readonly tree: (children: readonly AdapterUse[]) => AdapterTree;
  /** Rows of the model input; default 2 (BatchSplit: the sum of its sizes). */
  readonly batch?: number;
  /** Rows of the model output; default `batch` (Parallel: branches × batch). */
  readonly outputBatch?: number;
}

/** A tree the block must reject, with an error (an AdapterGraphError) naming the block. */
export interface InvalidBlockCase {
  readonly name: string;
  readonly children: number;
  readonly tree: (children: readonly AdapterUse[]) => AdapterTree;
  /** What else the message must say. */
  readonly message?: RegExp;
}

/** Save and load of the files a block writes (e.g. saveFusion / loadFusion). */
export interface BlockFiles {
  save(dir: string, graph: Graph, store: WeightStore, tree: AdapterTree): Promise<void>;
  /** Restores the block on `base` (the model without the block; the children's weights are already in `store`). */
  load(dir: string, base: Graph, store: WeightStore, tree: AdapterTree, saved: Graph): Promise<Graph>;
}

export type BlockCheckName = 'composes-valid-shapes' | 'deterministic' | 'trains-only-own-params' | 'validates-children' | 'save-load-round-trip';

export interface BlockSuiteOptions {
  /** The block under test. */
  readonly block: BlockDef;
  /**
   * The runtime every placement uses; it must hold `block` (e.g. `createRuntime([bottleneckPackage, fusionPackage])`).
   * Default: a runtime of core plus a package with `block` and `plugins`. Nothing is registered process-wide.
   */
  readonly runtime?: Runtime;
  readonly cases: readonly BlockCase[];
  readonly invalid?: readonly InvalidBlockCase[];
  /** The child adapter named `name`; default core-graph's toy adapter (random init, every splice mode). */
  readonly child?: (name: string) => AdapterUse;
  /** Plugins the children need (default: the toy adapter); with `runtime`, the runtime's plugins are used. */
  readonly plugins?: readonly AnyAdapterPlugin[];
  /** Default 'wrap'. */
  readonly mode?: SpliceMode;
  /** Default `{ kinds: ['ffn'] }`. */
  readonly select?: SiteSelector;
  /** Owners of the parameters the block declares and trains (e.g. `fusion:NAME`); default none. */
  readonly owners?: (tree: AdapterTree) => readonly string[];
  /** Owners of parameters the block declares but never trains (e.g. a fusion's temperature); default none. */
  readonly stateOwners?: (tree: AdapterTree) => readonly string[];
  /** The block writes files: the suite checks save → load. */
  readonly files?: BlockFiles;
  /** Random encoder configs; default core-graph's `smallEncoderConfigArb` (BERT and RoBERTa, 1–2 layers). */
  readonly encoders?: fc.Arbitrary<Partial<EncoderConfig>>;
  readonly numRuns?: number;
  readonly seed?: number;
  readonly train?: TrainSettings;
  readonly skip?: readonly BlockCheckName[];
  readonly testApi?: TestApi;
  readonly timeout?: number;
}

interface BlockSample {
  readonly encoder: Partial<EncoderConfig>;
  readonly case: BlockCase;
  readonly seq: number;
  readonly seed: number;
}

const childrenOf = (o: BlockSuiteOptions, n: number): AdapterUse[] =>
  Array.from({ length: n }, (_x, i) => (o.child ?? ((name: string) => adapter(toyAdapter, name, { size: 3 })))(`c${i}`));

const runtimes = new WeakMap<BlockSuiteOptions, Runtime>();

/** The suite's runtime: the given one, or core + the block and the children's plugins (built once per suite). */
function runtimeOf(o: BlockSuiteOptions): Runtime {
  const given = o.runtime ?? runtimes.get(o);
  if (given) return given;
  const made = createRuntime([definePackage({ name: `block-suite:${o.block.type}`, blocks: [o.block], adapters: [...(o.plugins ?? [toyAdapter])] })]);
  runtimes.set(o, made);
  return made;
}

function sampleArb(o: BlockSuiteOptions): fc.Arbitrary<BlockSample> {
  return fc.record({
    encoder: o.encoders ?? smallEncoderConfigArb({ architectures: ['bert', 'roberta'], maxLayers: 2 }),
    case: fc.constantFrom(...o.cases),
    seq: fc.integer({ min: 2, max: 5 }),
    seed: fc.integer({ min: 0, max: 10_000 }),
  });
}

const fcParams = (o: BlockSuiteOptions) => ({ numRuns: o.numRuns ?? 3, ...(o.seed === undefined ? {} : { seed: o.seed }) });
const label = (o: BlockSuiteOptions, s: BlockSample): string => `[block ${o.block.type}, case ${s.case.name}, seed ${s.seed}]`;

/** Token ids (1..vocab-1) and a full mask for the case's batch. */
function feedsOf(s: BlockSample): { input_ids: number[][]; attention_mask: number[][] } {
  const rng = createRefRng(s.seed);
  const vocab = s.encoder.vocabSize ?? 30;
  const rows = s.case.batch ?? 2;
  const ids = Array.from({ length: rows }, () => Array.from({ length: s.seq }, () => 1 + Math.min(vocab - 2, Math.floor(rng.uniform() * (vocab - 1)))));
  return { input_ids: ids, attention_mask: ids.map((r) => r.map(() => 1)) };
}

function placeCase(o: BlockSuiteOptions, base: Graph, c: BlockCase): { graph: Graph; tree: AdapterTree } {
  const tree = c.tree(childrenOf(o, c.children));
  const { graph, report } = applyPlacements(base, [{ adapter: tree, select: o.select ?? { kinds: ['ffn'] }, mode: o.mode ?? 'wrap' }], runtimeOf(o));
  assert.ok(report.length > 0, `${c.name}: the placement spliced nothing`);
  return { graph, tree };
}

/** Every output keeps its rank and widths; rows are the case's output batch; values are finite; inferred shapes agree. */
export async function checkBlockShapes(o: BlockSuiteOptions): Promise<void> {
  fc.assert(
    fc.property(sampleArb(o), (s) => {
      const where = label(o, s);
      const base = buildEncoder(s.encoder);
      const { graph } = placeCase(o, base, s.case);
      assert.deepEqual(Object.keys(graph.outputs).sort(), Object.keys(base.outputs).sort(), `${where}: the block changed the model's outputs`);
      const store = WeightStore.create(graph, s.seed);
      const baseStore = WeightStore.create(base, s.seed);
      try {
        const feeds = feedsOf(s);
        const got = runShapes(graph, store, feeds);
        const want = runShapes(base, baseStore, feeds);
        const rows = s.case.outputBatch ?? s.case.batch ?? 2;
        for (const [name, { shape, finite }] of Object.entries(got)) {
          const ref = want[name]?.shape as number[];
          assert.deepEqual(shape, [rows, ...ref.slice(1)], `${where}: output '${name}' has shape [${shape.join(', ')}], expected [${[rows, ...ref.slice(1)].join(', ')}]`);
          assert.ok(finite, `${where}: output '${name}' has non-finite values`);
          const inferred = graph.node(graph.outputs[name] as string).type.shape;
          inferred.forEach((d, i) => assert.ok(typeof d !== 'number' || d === shape[i], `${where}: output '${name}' infers [${inferred.join(', ')}], computes [${shape.join(', ')}]`));
        }
      } finally {
        store.dispose();
        baseStore.dispose();
      }
    }),
    fcParams(o),
  );
}

function runShapes(graph: Graph, store: WeightStore, feeds: ReturnType<typeof feedsOf>): Record<string, { shape: number[]; finite: boolean }> {
  const seq = feeds.input_ids[0]?.length ?? 0;
  const values = runOutputs(graph, store, feeds);
  const out: Record<string, { shape: number[]; finite: boolean }> = {};
  for (const [name, v] of Object.entries(values)) {
    const type = graph.node(graph.outputs[name] as string).type.shape;
    // Resolve the symbolic batch and sequence dims from the element count (the other dims are fixed widths).
    const fixed = type.slice(1).reduce<number>((n, d) => n * (typeof d === 'number' ? d : seq), 1);
    const shape = [v.length / fixed, ...type.slice(1).map((d) => (typeof d === 'number' ? d : seq))];
    out[name] = { shape, finite: v.every((x) => Number.isFinite(x)) };
  }
  return out;
}

/** Placing the same tree twice gives the same graph (fingerprint); running it twice gives the same bits. */
export async function checkBlockDeterministic(o: BlockSuiteOptions): Promise<void> {
  fc.assert(
    fc.property(sampleArb(o), (s) => {
      const where = label(o, s);
      const base = buildEncoder(s.encoder);
      const a = placeCase(o, base, s.case).graph;
      const b = placeCase(o, base, s.case).graph;
      assert.equal(a.fingerprint(), b.fingerprint(), `${where}: two placements of the same tree differ`);
      const store = WeightStore.create(a, s.seed);
      try {
        const feeds = feedsOf(s);
        const first = runOutputs(a, store, feeds);
        const second = runOutputs(b, store, feeds);
        for (const [name, v] of Object.entries(first)) assert.equal(firstBitDifference(v, second[name] as Float32Array), -1, `${where}: output '${name}' differs between two runs`);
      } finally {
        store.dispose();
      }
    }),
    fcParams(o),
  );
}

/**
 * The block adds parameters only under its own owners; training the block and its children (core-graph's trainer,
 * AdamW, cross-entropy of a probe head over every output row, so blocks that multiply the batch such as Parallel are
 * covered too) moves some parameter of every child and of every block owner that has parameters, and nothing else,
 * bit for bit (state the block declares under `stateOwners` included).
 */
export async function checkBlockTrainsOnlyOwnParams(o: BlockSuiteOptions): Promise<void> {
  const settings = o.train ?? {};
  fc.assert(
    fc.property(sampleArb(o), (s) => {
      const where = label(o, s);
      const base = addHead(buildEncoder(s.encoder), { type: 'classification', name: 'probe', numLabels: 2, pooling: 'cls' });
      const { graph, tree } = placeCase(o, base, s.case);
      const children = leaves(tree).map((l) => `adapter:${l.name}`);
      const trained = new Set([...children, ...(o.owners?.(tree) ?? [])]);
      const allowed = new Set([...trained, ...(o.stateOwners?.(tree) ?? [])]);
      for (const p of graph.params.values()) {
        if (!base.params.has(p.key)) assert.ok(allowed.has(p.owner), `${where}: the block added '${p.key}' owned by '${p.owner}' (allowed: ${[...allowed].join(', ')})`);
      }
      const policy = (p: { owner: string }): boolean => trained.has(p.owner);
      const store = WeightStore.create(graph, s.seed);
      const rows = s.case.outputBatch ?? s.case.batch ?? 2;
      const labels = tf.tensor1d(Array.from({ length: rows }, (_x, i) => i % 2), 'int32');
      const trainer = createTrainer({ store, graph, policy, schedule: () => settings.learningRate ?? 1e-2 });
      try {
        const before = store.snapshot();
        const feeds = feedsOf(s);
        const executor = new Executor(graph, store);
        for (let step = 0; step < (settings.steps ?? 3); step++) {
          trainer.step(() => crossEntropy(executor.forward(feeds, { outputs: ['probe.logits'] })['probe.logits'] as tf.Tensor, labels));
        }
        const after = store.snapshot();
        const moved = new Set<string>();
        for (const p of graph.params.values()) {
          const i = firstBitDifference(before.get(p.key) as Float32Array, after.get(p.key) as Float32Array);
          if (!policy(p)) assert.equal(i, -1, `${where}: '${p.key}' (owner ${p.owner}) changed in training at index ${i}`);
          else if (i !== -1) moved.add(p.owner);
        }
        const declared = new Set([...graph.params.values()].map((p) => p.owner));
        for (const owner of trained) if (declared.has(owner)) assert.ok(moved.has(owner), `${where}: no parameter of '${owner}' changed in training`);
      } finally {
        trainer.dispose();
        labels.dispose();
        store.dispose();
      }
    }),
    fcParams(o),
  );
}

/** An empty block, a child type it does not accept, and the given invalid trees are AdapterGraphErrors naming the block. */
export async function checkBlockValidatesChildren(o: BlockSuiteOptions): Promise<void> {
  const type = o.block.type;
  const base = buildEncoder({ numLayers: 1 });
  const runtime = runtimeOf(o);
  const place = (tree: AdapterTree) => applyPlacements(base, [{ adapter: tree, select: o.select ?? { kinds: ['ffn'] }, mode: o.mode ?? 'wrap' }], runtime);
  const expectRejected = (tree: AdapterTree, what: string, message?: RegExp): void => {
    let error: unknown;
    try {
      place(tree);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof AdapterGraphError, `${type}: ${what} was accepted (or failed with ${String(error)}, not an AdapterGraphError)`);
    assert.ok(error.message.includes(type), `${type}: the error for ${what} does not name the block: ${error.message}`);
    if (message) assert.match(error.message, message, `${type}: the error for ${what}`);
  };
  const sample = o.cases[0];
  assert.ok(sample, `runBlockSuite: block ${type} has no case`);
  const tree = sample.tree(childrenOf(o, sample.children));
  const own = findBlock(tree, type);
  assert.ok(own, `${sample.name}: the tree has no ${type} block`);
  expectRejected(replaceBlock(tree, own, block(type, [], own.options)), 'an empty block');
  const leaf = childrenOf(o, 1)[0] as AdapterUse;
  const foreign = ['adapter', 'Stack', 'Parallel', 'BatchSplit', 'Average', 'Fuse'].find((t) => !o.block.allowedChildren.includes(t) && (t === 'adapter' || runtime.blocks.has(t)));
  if (foreign !== undefined) {
    const bad = foreign === 'adapter' ? adapter(leaf.plugin, 'stray', leaf.config) : block(foreign, [adapter(leaf.plugin, 'stray', leaf.config)], foreign === 'BatchSplit' ? { sizes: [2] } : undefined);
    // In place of the last child, so options sized per child (BatchSplit's sizes) still fit.
    expectRejected(replaceBlock(tree, own, block(type, [...own.children.slice(0, -1), bad], own.options)), `a ${foreign} child`, /cannot be nested/);
  }
  for (const c of o.invalid ?? []) expectRejected(c.tree(childrenOf(o, c.children)), `invalid case '${c.name}'`, c.message);
}

function findBlock(tree: AdapterTree, type: string): CompositionBlock | undefined {
  if (tree.kind === 'adapter') return undefined;
  if (tree.type === type) return tree;
  for (const c of tree.children) {
    const f = findBlock(c, type);
    if (f) return f;
  }
  return undefined;
}

function replaceBlock(tree: AdapterTree, target: CompositionBlock, by: CompositionBlock): AdapterTree {
  if (tree === target) return by;
  if (tree.kind === 'adapter') return tree;
  return block(tree.type, tree.children.map((c) => replaceBlock(c, target, by)), tree.options);
}

/** save → load into a store whose block parameters were scrambled restores them and the outputs bit for bit. */
export async function checkBlockSaveLoad(o: BlockSuiteOptions): Promise<void> {
  const files = o.files;
  assert.ok(files, `block ${o.block.type} declares no files`);
  await fc.assert(
    fc.asyncProperty(sampleArb(o), async (s) => {
      const where = label(o, s);
      const base = buildEncoder(s.encoder);
      const { graph, tree } = placeCase(o, base, s.case);
      const own = new Set([...(o.owners?.(tree) ?? []), ...(o.stateOwners?.(tree) ?? [])]);
      const blockParams = [...graph.params.values()].filter((p) => own.has(p.owner));
      const store = WeightStore.create(graph, s.seed);
      const dir = await mkdtemp(join(tmpdir(), 'block-suite-'));
      try {
        randomizeParams(store, blockParams, s.seed + 1);
        const feeds = feedsOf(s);
        const expected = runOutputs(graph, store, feeds);
        const saved = store.snapshot(blockParams.map((p) => p.key));
        await files.save(dir, graph, store, tree);
        randomizeParams(store, blockParams, s.seed + 2);
        const loaded = await files.load(dir, base, store, tree, graph);
        for (const [key, v] of saved) assert.equal(firstBitDifference(store.get(key).dataSync() as Float32Array, v as Float32Array), -1, `${where}: '${key}' differs after save → load`);
        const got = runOutputs(loaded, store, feeds);
        for (const [name, v] of Object.entries(expected)) assert.equal(firstBitDifference(got[name] as Float32Array, v), -1, `${where}: output '${name}' differs after save → load`);
      } finally {
        store.dispose();
        await rm(dir, { recursive: true, force: true });
      }
    }),
    fcParams(o),
  );
}

export interface BlockCheck {
  readonly id: BlockCheckName;
  readonly title: string;
  run(): Promise<void>;
}

/** The checks runBlockSuite registers, as plain functions. */
export function blockChecks(options: BlockSuiteOptions): BlockCheck[] {
  const held = options.runtime?.blocks.find(options.block.type);
  if (options.runtime && held !== options.block) throw new AdapterGraphError(`runBlockSuite: the runtime given ${held ? 'holds another definition of' : 'has no'} block '${options.block.type}'`);
  const skipped = new Set(options.skip ?? []);
  const all: BlockCheck[] = [
    { id: 'composes-valid-shapes', title: 'composes valid shapes (outputs keep rank and widths, finite, as inferred)', run: () => checkBlockShapes(options) },
    { id: 'deterministic', title: 'placement and runs are deterministic (same fingerprint, same bits)', run: () => checkBlockDeterministic(options) },
    { id: 'trains-only-own-params', title: 'adds parameters only under its owners; training moves only its and its children’s (bit-for-bit)', run: () => checkBlockTrainsOnlyOwnParams(options) },
    { id: 'validates-children', title: 'rejects empty blocks, foreign children and invalid options, naming the block', run: () => checkBlockValidatesChildren(options) },
    ...(options.files ? [{ id: 'save-load-round-trip' as const, title: 'save → load restores the block’s weights and outputs exactly', run: () => checkBlockSaveLoad(options) }] : []),
  ];
  return all.filter((c) => !skipped.has(c.id));
}

/** Registers the conformance suite for a composition block: `describe("composition block 'TYPE'")`. */
export function runBlockSuite(options: BlockSuiteOptions): void {
  const g = globalThis as { describe?: TestApi['describe']; test?: TestApi['test'] };
  const api = options.testApi ?? (typeof g.describe === 'function' && typeof g.test === 'function' ? { describe: g.describe, test: g.test } : undefined);
  if (!api) throw new Error('runBlockSuite registers test blocks: call it at the top level of a test file, or pass options.testApi');
  const checks = blockChecks(options);
  api.describe(`composition block '${options.block.type}'`, () => {
    for (const c of checks) {
      const run = async (): Promise<void> => {
        await ensureBackend();
        await c.run();
      };
      if (options.timeout === undefined) api.test(c.title, run);
      else api.test(c.title, run, options.timeout);
    }
  });
}

// The conformance checks. Each is a plain async function that throws (node:assert) on a violation, so
// it runs under any test runner; `runAdapterSuite` registers them as jest/vitest tests.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dim, Graph, ParamSpec, SiteSelector, SpliceMode, TrainExample } from '@adapters/core-graph';
import {
  adapter, adapterPolicy, addHead, applyPlacements, buildEncoder, ConfigError, Executor, loadAdapter, resolveConfig, saveAdapter, selectSites, train,
  validateSchema, WeightStore,
} from '@adapters/core-graph';
import type { JsonSchema } from '@adapters/core-graph';
import { createRefRng } from '@adapters/core-graph/testing';
import fc from 'fast-check';
import type { Sample } from './fixtures';
import {
  casesFor, describeSelector, fcParams, feedsOf, firstBitDifference, maxAbsDiff, newParams, place, randomizeParams, registryOf, resolvedConfigOf, runOutputs,
  sampleArb, selectorsFor, sizeOf, hiddenWidthOf, numLayersOf, widthAt,
} from './fixtures';
import type { CheckName, NormalizedCase, SuiteContext } from './options';
import { ADAPTER_NAME } from './options';

const CONFIG_PATH = `${ADAPTER_NAME}.config`;
const where = (s: Sample, mode: SpliceMode): string =>
  `[case ${s.case.name}, mode ${mode}, select ${describeSelector(s.select)}, encoder ${JSON.stringify(s.encoder)}]`;

// ---------------------------------------------------------------------------------------------------
// Config validation

function expectConfigError(run: () => unknown, path: string, what: string): void {
  let thrown: unknown;
  try {
    run();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) assert.fail(`${what}: was accepted, expected a ConfigError at '${path}'`);
  if (!(thrown instanceof ConfigError)) assert.fail(`${what}: threw ${(thrown as Error).name ?? typeof thrown} instead of a ConfigError: ${(thrown as Error).message ?? String(thrown)}`);
  const p = thrown.path;
  if (p !== path && !p.startsWith(`${path}.`) && !p.startsWith(`${path}[`)) {
    assert.fail(`${what}: ConfigError names '${p}', expected '${path}' (message: ${thrown.message})`);
  }
}

/** Values of a JSON type that a property's schema should not accept. */
const WRONG_VALUES: readonly unknown[] = ['__wrong_type__', 0.5, true, null, ['__wrong_type__'], { __wrong_type__: true }];

const jsonType = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

function rejects(schema: JsonSchema, value: unknown): boolean {
  try {
    validateSchema(schema, value, 'x');
    return false;
  } catch {
    return true;
  }
}

/** The plugin's defaults fit its schema, every case resolves, unknown fields and wrong types fail naming the field. */
export async function checkConfigValidation(ctx: SuiteContext): Promise<void> {
  const { plugin } = ctx;
  validateSchema(plugin.schema, plugin.defaults, `${plugin.name}.defaults`);
  const unknownKey = '__not_a_field__';
  for (const c of ctx.cases) {
    resolveConfig(plugin, c.config, CONFIG_PATH);
    expectConfigError(() => resolveConfig(plugin, { ...c.config, [unknownKey]: 1 }, CONFIG_PATH), `${CONFIG_PATH}.${unknownKey}`, `case ${c.name} + unknown field '${unknownKey}'`);
  }
  const properties = Object.entries(plugin.schema.properties ?? {});
  for (const [field, schema] of properties) {
    // A wrong JSON type: never the declared type, and something the property's schema rejects.
    const wrong = WRONG_VALUES.filter((v) => jsonType(v) !== schema.type && !(schema.type === 'number' && jsonType(v) === 'integer') && rejects(schema, v));
    assert.ok(wrong.length > 0, `schema field '${field}' accepts values of every JSON type; give it a type`);
    for (const value of wrong) {
      for (const c of ctx.cases) {
        expectConfigError(() => resolveConfig(plugin, { ...c.config, [field]: value }, CONFIG_PATH), `${CONFIG_PATH}.${field}`, `case ${c.name} with ${field} = ${JSON.stringify(value)}`);
      }
    }
  }
  // The user-facing route reports the same path.
  // One encoder for the placement route: the first value of the suite's encoder arbitrary, or a tiny default.
  const encoder = ctx.options.encoders ? fc.sample(ctx.options.encoders, { numRuns: 1, seed: 0 })[0] : undefined;
  const base = buildEncoder(encoder ?? { vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 8, maxPositions: 8 });
  const firstMode = ctx.modes[0] as SpliceMode;
  const selectFor = (mode: SpliceMode): SiteSelector => selectorsFor(ctx, mode)[0] as SiteSelector;
  const where = (mode: SpliceMode) => (ctx.options.defaultPlacementOnly ? {} : { select: selectFor(mode), mode });
  expectConfigError(
    () => applyPlacements(base, [{ adapter: adapter(plugin, ADAPTER_NAME, { [unknownKey]: 1 }), ...where(firstMode) }], registryOf(ctx)),
    `${CONFIG_PATH}.${unknownKey}`,
    `applyPlacements with an unknown field`,
  );
  for (const bad of ctx.options.invalidConfigs ?? []) {
    const mode = bad.mode ?? firstMode;
    expectConfigError(
      () => applyPlacements(base, [{ adapter: adapter(plugin, ADAPTER_NAME, bad.config), ...where(mode) }], registryOf(ctx)),
      `${CONFIG_PATH}.${bad.path}`,
      `invalid config ${bad.name ?? JSON.stringify(bad.config)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Placement and shapes

function assertShapes(graph: Graph, s: Sample, label: string): void {
  const store = WeightStore.create(graph, s.seed);
  try {
    const traced = new Executor(graph, store).traceShapes(feedsOf(s));
    const subst = (d: Dim): number => (d === 'batch' ? s.batch : d === 'seq' ? s.seq : d);
    for (const [id, shape] of traced) {
      const inferred = graph.node(id).type.shape.map(subst);
      assert.deepEqual(shape, inferred, `${label}: node '${id}' (${graph.node(id).op}) runs with shape [${shape.join(', ')}] but its inferred type is [${inferred.join(', ')}]`);
    }
    for (const [name, id] of Object.entries(graph.outputs)) assert.ok(traced.has(id), `${label}: output '${name}' was not evaluated`);
  } finally {
    store.dispose();
  }
}

/** Placement in `mode` succeeds, records one splice per selected site, and every traced shape equals the inferred type. */
export async function checkPlacementShapes(ctx: SuiteContext, mode: SpliceMode): Promise<void> {
  fc.assert(
    fc.property(sampleArb(ctx, mode, casesFor(ctx, mode)), (s) => {
      const label = where(s, mode);
      const base = addHead(buildEncoder(s.encoder), { type: 'tokenClassification', name: 'probe', numLabels: 3 });
      const { graph, report } = place(ctx, base, s.case, mode, s.select);
      const sites = selectSites(base, s.select).map((x) => x.name);
      assert.ok(report.length > 0, `${label}: placement reported no splice`);
      if (ctx.options.defaultPlacementOnly) {
        // The plugin chose its sites: each report entry is a real site with its splice record.
        for (const e of report) assert.ok(base.sites.has(e.site) && graph.splices.some((x) => x.site === e.site && x.adapters.includes(ADAPTER_NAME)), `${label}: no splice of the adapter at reported site '${e.site}'`);
        assertShapes(graph, s, label);
        return;
      }
      for (const e of report) assert.equal(e.mode, mode, `${label}: report entry at ${e.site} has mode ${e.mode}`);
      if (mode === 'tap') {
        assert.equal(report.length, 1, `${label}: a tap placement reports one entry`);
        assert.ok(Object.keys(graph.outputs).some((k) => k.startsWith(`${ADAPTER_NAME}.`)), `${label}: a tap adapter publishes no output`);
      } else {
        assert.deepEqual(report.map((e) => e.site).sort(), [...sites].sort(), `${label}: splices do not match the selected sites`);
        const splices = graph.splices.filter((x) => x.adapters.includes(ADAPTER_NAME));
        assert.equal(splices.length, sites.length, `${label}: expected one splice record per selected site`);
      }
      assertShapes(graph, s, label);
    }),
    fcParams(ctx),
  );
}

/** With no rule, the plugin's default placement applies, is one of its modes, and gives valid shapes. */
export async function checkDefaultPlacement(ctx: SuiteContext): Promise<void> {
  const defaultPlacement = ctx.plugin.defaultPlacement;
  assert.ok(defaultPlacement, `plugin '${ctx.plugin.name}' has no defaultPlacement`);
  const mode = ctx.modes[0] as SpliceMode;
  fc.assert(
    fc.property(sampleArb(ctx, mode, ctx.cases), (s) => {
      const base = addHead(buildEncoder(s.encoder), { type: 'tokenClassification', name: 'probe', numLabels: 3 });
      const resolved = resolveConfig(ctx.plugin, s.case.config, CONFIG_PATH);
      const placement = defaultPlacement(resolved, base);
      const label = `[case ${s.case.name}, default placement ${placement.mode} ${describeSelector(placement.select)}]`;
      assert.ok(ctx.plugin.modes.includes(placement.mode), `${label}: default mode '${placement.mode}' is not one of the plugin's modes`);
      const { graph, report } = applyPlacements(base, [{ adapter: adapter(ctx.plugin, ADAPTER_NAME, s.case.config) }], registryOf(ctx));
      assert.ok(report.length > 0, `${label}: default placement spliced nothing`);
      assertShapes(graph, s, label);
    }),
    fcParams(ctx),
  );
}

// ---------------------------------------------------------------------------------------------------
// Parameter count

/**
 * The parameters the placement declares equal `paramCount({ config, sites, width, numLayers, graph, plugins })`: Σ perSite + shared. Shared
 * (model-level) parameters are declared by whichever splice comes first, so per site the report may exceed perSite
 * by at most the shared count; the totals must agree exactly.
 */
export async function checkParamCount(ctx: SuiteContext, mode: SpliceMode): Promise<void> {
  const paramCount = ctx.plugin.paramCount;
  assert.ok(paramCount, `plugin '${ctx.plugin.name}' declares no paramCount`);
  fc.assert(
    fc.property(sampleArb(ctx, mode, casesFor(ctx, mode)), (s) => {
      const label = where(s, mode);
      const base = buildEncoder(s.encoder);
      const { graph, report } = place(ctx, base, s.case, mode, s.select);
      const config = resolvedConfigOf(graph);
      // A tap splice reads several sites ('layer.0.output + layer.1.output'): each of them is a site of the count.
      const rowSites = report.map((e) => e.site.split(' + '));
      const sites = rowSites.flat().map((name) => {
        const layer = base.sites.get(name)?.layer;
        return { name, layer, inWidth: widthAt(base, name, 'entry'), outWidth: widthAt(base, name) };
      });
      const counts = paramCount({ config, sites, width: hiddenWidthOf(base), numLayers: numLayersOf(base), graph: base, plugins: registryOf(ctx) });
      assert.equal(counts.perSite.length, sites.length, `${label}: paramCount returned ${counts.perSite.length} per-site counts for ${sites.length} sites`);
      assert.ok(Number.isInteger(counts.shared) && counts.shared >= 0, `${label}: paramCount's shared count ${counts.shared} is not a whole number >= 0`);
      const actual = report.reduce((n, r) => n + r.params, 0);
      const expected = counts.perSite.reduce((n, c) => n + c, 0) + counts.shared;
      const declared = newParams(graph, base).reduce((n, p) => n + sizeOf(p), 0);
      assert.equal(actual, declared, `${label}: the placement report counts ${actual} parameters, the graph gained ${declared}`);
      let next = 0;
      const own = rowSites.map((names) => names.reduce((n) => n + (counts.perSite[next++] as number), 0));
      const rows = report.map((r, i) => `${r.site} ${r.params} vs ${own[i]}`).join('; ');
      assert.equal(actual, expected, `${label}: placed ${actual} parameters, paramCount says ${expected} (shared ${counts.shared}; per splice: ${rows})`);
      report.forEach((r, i) => {
        const mine = own[i] as number;
        assert.ok(r.params >= mine && r.params <= mine + counts.shared, `${label}: '${r.site}' placed ${r.params} parameters, paramCount says ${mine} (+ up to ${counts.shared} shared)`);
      });
    }),
    fcParams(ctx),
  );
}

// ---------------------------------------------------------------------------------------------------
// Identity at init and tap outputs

const identityCases = (ctx: SuiteContext, mode: SpliceMode): NormalizedCase[] =>
  casesFor(ctx, mode, (c) => ctx.plugin.isIdentityAtInit?.(resolveConfig(ctx.plugin, c.config, CONFIG_PATH)) === true);

export const hasIdentityCase = (ctx: SuiteContext, mode: SpliceMode): boolean => identityCases(ctx, mode).length > 0;

function compareOutputs(expected: Record<string, Float32Array | Int32Array>, actual: Record<string, Float32Array | Int32Array>, tolerance: number, label: string): void {
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name];
    assert.ok(got, `${label}: output '${name}' is missing after placement`);
    if (tolerance === 0) {
      const i = firstBitDifference(want, got);
      assert.equal(i, -1, `${label}: output '${name}' differs from the base model at index ${i}: ${got[i]} vs ${want[i]}`);
    } else {
      const d = maxAbsDiff(want, got);
      assert.ok(d <= tolerance, `${label}: output '${name}' differs from the base model by ${d} (tolerance ${tolerance})`);
    }
  }
}

/** For configs where `isIdentityAtInit` is true, freshly initialised adapters leave every output of the base model unchanged. */
export async function checkIdentityAtInit(ctx: SuiteContext, mode: SpliceMode): Promise<void> {
  const cases = identityCases(ctx, mode);
  assert.ok(cases.length > 0, `no case has isIdentityAtInit(config) === true in mode '${mode}'`);
  const tolerance = ctx.options.identityTolerance ?? 0;
  fc.assert(
    fc.property(sampleArb(ctx, mode, cases), (s) => {
      const base = addHead(buildEncoder(s.encoder), { type: 'tokenClassification', name: 'probe', numLabels: 3 });
      const { graph } = place(ctx, base, s.case, mode, s.select);
      const store = WeightStore.create(graph, s.seed);
      try {
        compareOutputs(runOutputs(base, store, feedsOf(s)), runOutputs(graph, store, feedsOf(s)), tolerance, where(s, mode));
      } finally {
        store.dispose();
      }
    }),
    fcParams(ctx),
  );
}

/** Tap mode: the adapter publishes `sut.*` outputs with finite values; every base node, output and output value is untouched. */
export async function checkTapBaseUntouched(ctx: SuiteContext): Promise<void> {
  const mode: SpliceMode = 'tap';
  fc.assert(
    fc.property(sampleArb(ctx, mode, casesFor(ctx, mode)), (s) => {
      const label = where(s, mode);
      const base = addHead(buildEncoder(s.encoder), { type: 'tokenClassification', name: 'probe', numLabels: 3 });
      const { graph } = place(ctx, base, s.case, mode, s.select);
      for (const node of base.nodes) assert.deepEqual(graph.node(node.id), node, `${label}: tap placement changed base node '${node.id}'`);
      for (const [name, id] of Object.entries(base.outputs)) assert.equal(graph.outputs[name], id, `${label}: base output '${name}' was redirected`);
      const published = Object.keys(graph.outputs).filter((k) => k.startsWith(`${ADAPTER_NAME}.`));
      assert.ok(published.length > 0, `${label}: no output named '${ADAPTER_NAME}.*' was published`);
      const store = WeightStore.create(graph, s.seed);
      try {
        randomizeParams(store, newParams(graph, base), s.seed + 1);
        const all = runOutputs(graph, store, feedsOf(s));
        compareOutputs(runOutputs(base, store, feedsOf(s)), all, 0, label);
        for (const k of published) assert.ok(Array.from(all[k] ?? []).every(Number.isFinite), `${label}: tap output '${k}' has non-finite values`);
      } finally {
        store.dispose();
      }
    }),
    fcParams(ctx),
  );
}

// ---------------------------------------------------------------------------------------------------
// Training

/** Whether node `id` depends on some parameter the predicate accepts. */
function readsParams(graph: Graph, id: string, accept: (p: ParamSpec) => boolean): boolean {
  const seen = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const n = graph.node(stack.pop() as string);
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    if (Object.values(n.params).some((k) => accept(graph.param(k)))) return true;
    stack.push(...n.inputs);
  }
  return false;
}

interface Probe {
  readonly graph: Graph;
  readonly base: Graph;
  readonly output: string;
  readonly examples: TrainExample[];
}

function probeFor(ctx: SuiteContext, s: Sample, mode: SpliceMode): Probe {
  const rng = createRefRng(s.seed + 17);
  const pick = (n: number) => Math.min(n - 1, Math.floor(rng.uniform() * n));
  if (mode !== 'tap') {
    const base = addHead(buildEncoder(s.encoder), { type: 'classification', name: 'probe', numLabels: 2, pooling: 'cls' });
    const { graph } = place(ctx, base, s.case, mode, s.select);
    return { graph, base, output: 'probe.logits', examples: s.ids.map((row) => ({ inputIds: row, label: pick(2) })) };
  }
  // Tap: train a token- or sequence-level loss straight on the first float output the adapter publishes.
  const base = buildEncoder(s.encoder);
  const { graph } = place(ctx, base, s.case, mode, s.select);
  const output = Object.keys(graph.outputs).find((k) => {
    const id = graph.outputs[k] as string;
    const t = graph.node(id).type;
    const shaped = t.dtype === 'float32' && (t.shape.length === 2 || t.shape.length === 3) && typeof t.shape.at(-1) === 'number';
    return k.startsWith(`${ADAPTER_NAME}.`) && shaped && readsParams(graph, id, ctx.ownsParam);
  });
  assert.ok(output, `tap adapter publishes no float [batch, (seq,) n] output that depends on its parameters, to train on`);
  const type = graph.node(graph.outputs[output] as string).type;
  const classes = type.shape.at(-1) as number;
  const examples = s.ids.map((row) => ({ inputIds: row, label: type.shape.length === 3 ? row.map(() => pick(classes)) : pick(classes) }));
  return { graph, base, output, examples };
}

/**
 * After a few AdamW steps with core-graph's `train`, exactly the policy's parameters may have changed:
 * every other weight is bit-for-bit unchanged, every parameter the placement added is the adapter's,
 * every adapter parameter is trainable, and some adapter parameter actually moved.
 */
export async function checkTrainsOnlyOwnParams(ctx: SuiteContext, mode: SpliceMode): Promise<void> {
  const policy = ctx.options.policy ?? adapterPolicy;
  const settings = ctx.options.train ?? {};
  fc.assert(
    fc.property(sampleArb(ctx, mode, casesFor(ctx, mode)), (s) => {
      const label = where(s, mode);
      const { graph, base, output, examples } = probeFor(ctx, s, mode);
      for (const p of newParams(graph, base)) assert.ok(ctx.ownsParam(p), `${label}: placement added parameter '${p.key}' owned by '${p.owner}', not by the adapter`);
      const owned = [...graph.params.values()].filter((p) => ctx.ownsParam(p));
      assert.ok(owned.length > 0, `${label}: the adapter owns no parameter`);
      for (const p of owned) assert.ok(policy(p), `${label}: adapter parameter '${p.key}' is frozen under the training policy`);
      const store = WeightStore.create(graph, s.seed);
      try {
        const before = store.snapshot();
        const result = train({
          graph, store, output, train: examples, policy, seed: s.seed, epochs: 1000, maxSteps: settings.steps ?? 3, batchSize: settings.batchSize ?? 2,
          learningRate: settings.learningRate ?? 1e-2, warmupRatio: 0,
        });
        const trainable = new Set(result.trainableKeys);
        const after = store.snapshot();
        let moved = 0;
        for (const p of graph.params.values()) {
          const i = firstBitDifference(before.get(p.key) as Float32Array, after.get(p.key) as Float32Array);
          if (!policy(p)) {
            assert.ok(!trainable.has(p.key), `${label}: frozen parameter '${p.key}' was handed to the optimizer`);
            assert.equal(i, -1, `${label}: frozen parameter '${p.key}' (owner ${p.owner}, kind ${p.kind}) changed during training at index ${i}`);
          } else if (ctx.ownsParam(p) && i !== -1) moved += 1;
        }
        assert.ok(moved > 0, `${label}: no adapter parameter changed after ${result.steps} training steps`);
      } finally {
        store.dispose();
      }
    }),
    fcParams(ctx),
  );
}

// ---------------------------------------------------------------------------------------------------
// Save and load

/**
 * saveAdapter → loadAdapter into a fresh store holding the same base weights restores the same graph,
 * bit-identical adapter weights and bit-identical outputs.
 */
export async function checkSaveLoadRoundTrip(ctx: SuiteContext, mode: SpliceMode): Promise<void> {
  await fc.assert(
    fc.asyncProperty(sampleArb(ctx, mode, casesFor(ctx, mode)), async (s) => {
      const label = where(s, mode);
      const base = buildEncoder(s.encoder);
      const { graph } = place(ctx, base, s.case, mode, s.select);
      const registry = registryOf(ctx);
      const storeA = WeightStore.create(graph, s.seed);
      const storeB = WeightStore.create(base, s.seed);
      const dir = await mkdtemp(join(tmpdir(), 'adapter-tester-'));
      try {
        randomizeParams(storeA, [...graph.params.values()].filter((p) => ctx.ownsParam(p)), s.seed + 3);
        await saveAdapter(dir, graph, storeA, ADAPTER_NAME, { registry });
        const loaded = await loadAdapter(dir, base, storeB, registry, ctx.options.defaultPlacementOnly ? {} : { rule: { select: s.select, mode } });
        assert.equal(loaded.name, ADAPTER_NAME, `${label}: loaded under another name`);
        assert.deepEqual(resolvedConfigOf(loaded.graph), resolvedConfigOf(graph), `${label}: the loaded adapter's config differs from the saved one`);
        assert.deepEqual([...loaded.graph.params.keys()].sort(), [...graph.params.keys()].sort(), `${label}: the loaded graph has other parameters`);
        assert.ok(loaded.graph.equals(graph), `${label}: the loaded graph differs from the saved one`);
        const a = storeA.snapshot(graph.params.keys());
        const b = storeB.snapshot(graph.params.keys());
        for (const [key, values] of a) {
          const i = firstBitDifference(values, b.get(key) as Float32Array);
          assert.equal(i, -1, `${label}: weight '${key}' differs after the round trip at index ${i}`);
        }
        compareOutputs(runOutputs(graph, storeA, feedsOf(s)), runOutputs(loaded.graph, storeB, feedsOf(s)), 0, `${label} (outputs after load)`);
      } finally {
        storeA.dispose();
        storeB.dispose();
        await rm(dir, { recursive: true, force: true });
      }
    }),
    fcParams(ctx),
  );
}

export type { CheckName };

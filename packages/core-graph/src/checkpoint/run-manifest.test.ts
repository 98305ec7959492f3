// run.json: save → load rebuilds the model exactly (adapters, composition, heads, labels, extras); a bad manifest is
// one ConfigError (E_RUN_MANIFEST) naming the field; older run files are named as obsolete.
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { defineAdapter } from '../plugin/define-adapter';
import { createRegistry } from '../plugin/registry';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter, Stack } from '../rewrite/composition';
import { loadRun, readRunManifest, RUN_FILE, RUN_FORMAT, saveRun, validateRunManifest } from './run-manifest';

const mini = defineAdapter<{ reduction_factor: number }>({
  name: 'mini',
  description: 'test bottleneck',
  modes: ['wrap', 'after'],
  defaults: { reduction_factor: 2 },
  schema: { type: 'object', properties: { reduction_factor: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build(ctx) {
    const m = Math.max(1, Math.floor(ctx.width / ctx.config.reduction_factor));
    const down = ctx.scope.act('relu', 'adapter_down.1', ctx.scope.dense('adapter_down.0', ctx.input, m));
    const up = ctx.scope.dense('adapter_up', down, ctx.width, { init: { kind: 'normal', std: 0.1 } });
    return { output: ctx.scope.add('residual', up, ctx.input), up };
  },
});
const registry = createRegistry([mini]);
const config = { vocabSize: 30, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositions: 16 };
const feeds = { input_ids: [[1, 5, 7, 2], [1, 9, 2, 0]], attention_mask: [[1, 1, 1, 1], [1, 1, 1, 0]] };
const base = (): Graph => buildEncoder(config);

const logits = (graph: Graph, store: WeightStore): Float32Array => {
  const out = new Executor(graph, store).run(feeds, { outputs: ['task.logits'] });
  const v = Float32Array.from(out['task.logits']?.dataSync() as Float32Array);
  tf.dispose(Object.values(out));
  return v;
};
/** A store of the base model with the same base weights as `from` (the run names the base; it does not save it). */
function baseCopy(from: WeightStore): WeightStore {
  const fresh = WeightStore.create(base(), 7);
  for (const k of fresh.keys()) fresh.assign(k, from.get(k));
  return fresh;
}
const sameBits = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

const VALID = { format: RUN_FORMAT, model: 'm', adapters: [{ name: 'a', dir: 'adapters/a' }], heads: [{ name: 'task', dir: 'heads/task', labels: ['x', 'y'] }], maxLength: 16, columns: { text: 'sentence' } };

describe('run.json', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'run-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  test('save → load reproduces a Stack of two adapters with a labelled head bit for bit (property over seeds)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10_000 }), fc.boolean(), async (seed, composed) => {
        const headed = addHead(base(), { type: 'classification', name: 'task', numLabels: 3 });
        const tree = Stack(adapter('mini', 'lang', { reduction_factor: 2 }), adapter('mini', 'task', { reduction_factor: 4 }));
        const rules = composed ? [{ adapter: tree }] : [{ adapter: adapter('mini', 'lang', { reduction_factor: 2 }) }];
        const { graph } = applyPlacements(headed, rules, registry);
        const store = WeightStore.create(graph, seed);
        const fresh = baseCopy(store);
        try {
          const want = logits(graph, store);
          const out = join(dir, `run-${seed}-${composed}`);
          await saveRun(out, {
            graph, store, model: 'tiny', adapters: composed ? ['lang', 'task'] : ['lang'], heads: [{ name: 'task', labels: ['neg', 'neu', 'pos'] }], maxLength: 12,
            columns: { text: 'sentence', label: 'label' }, registry, ...(composed ? { composition: { tree } } : {}),
          });
          const loaded = await loadRun(out, base(), fresh, { registry });
          expect(loaded.labels).toEqual({ task: ['neg', 'neu', 'pos'] });
          expect(loaded.manifest).toMatchObject({ model: 'tiny', maxLength: 12, columns: { text: 'sentence', label: 'label' } });
          if (composed) expect(loaded.manifest.composition?.tree).toEqual({ block: 'Stack', children: ['lang', 'task'] });
          expect(sameBits(logits(loaded.graph, fresh), want)).toBe(true);
        } finally {
          store.dispose();
          fresh.dispose();
        }
      }),
      { numRuns: 4, seed: 16 },
    );
  });

  test("extras go to the plugin's handler; an extras key nobody handles is an error naming it", async () => {
    const headed = addHead(base(), { type: 'classification', name: 'task', numLabels: 2 });
    const { graph } = applyPlacements(headed, [{ adapter: adapter('mini', 'a') }], registry);
    const store = WeightStore.create(graph, 3);
    await saveRun(dir, { graph, store, model: 'tiny', adapters: ['a'], heads: [{ name: 'task' }], maxLength: 8, registry, extras: { demo: { answer: 42 } } });
    const seen: unknown[] = [];
    const fresh = WeightStore.create(base(), 1);
    const loaded = await loadRun(dir, base(), fresh, { registry, extras: { demo: async (ctx) => (seen.push(ctx.value, ctx.adapterGraphs.length), ctx.graph) } });
    expect(seen).toEqual([{ answer: 42 }, 1]);
    expect(loaded.labels).toEqual({});
    await expect(loadRun(dir, base(), fresh, { registry })).rejects.toMatchObject({ code: 'E_RUN_MANIFEST', path: expect.stringMatching(/run\.json: extras\.demo$/) });
    store.dispose();
    fresh.dispose();
  });

  test.each([
    ['format', { ...VALID, format: 'v0' }],
    ['model', { ...VALID, model: 3 }],
    ['adapters[0].dir', { ...VALID, adapters: [{ name: 'a', dir: '../../etc' }] }],
    ['adapters[0].dir', { ...VALID, adapters: [{ name: 'a', dir: '/abs' }] }],
    ['adapters[1].name', { ...VALID, adapters: [{ name: 'a', dir: 'x' }, { name: 'a', dir: 'y' }] }],
    ['adapters[0].name', { ...VALID, adapters: [{ name: '__proto__', dir: 'x' }] }],
    ['adapters[0].placement.mode', { ...VALID, adapters: [{ name: 'a', dir: 'x', placement: { mode: 'sideways', sites: ['s'] } }] }],
    ['composition.tree', { ...VALID, composition: { tree: { block: 'Stack', children: ['a', 'b'] } } }],
    ['composition.tree.children', { ...VALID, composition: { tree: { block: 'Stack', children: [] } } }],
    ['heads[0].labels', { ...VALID, heads: [{ name: 'task', dir: 'h', labels: ['x', 'x'] }] }],
    ['maxLength', { ...VALID, maxLength: 0 }],
    ['columns.text', { ...VALID, columns: { text: 1 } }],
    ['surprise', { ...VALID, surprise: true }],
  ])('a bad manifest is one ConfigError naming %s', (field, value) => {
    let error: unknown;
    try {
      validateRunManifest(value, 'run.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'E_RUN_MANIFEST', path: `run.json: ${field}` });
  });

  test('a deep composition is refused (bounded), and so is an oversized file', async () => {
    let tree: unknown = 'a';
    for (let i = 0; i < 40; i++) tree = { block: 'Stack', children: [tree] };
    expect(() => validateRunManifest({ ...VALID, composition: { tree } })).toThrow(/nests deeper than 16/);
    await writeFile(join(dir, RUN_FILE), `${JSON.stringify(VALID)}${' '.repeat(2 << 20)}`);
    await expect(readRunManifest(dir)).rejects.toMatchObject({ code: 'E_RUN_MANIFEST' });
  });

  test('a directory with only an older run file gets an error naming that file', async () => {
    for (const old of ['labels.json', 'fusion_run.json', 'task_config.json', 'madx_task.json']) {
      const d = await mkdtemp(join(dir, 'old-'));
      await writeFile(join(d, old), '{}');
      await expect(readRunManifest(d)).rejects.toMatchObject({ code: 'E_RUN_MANIFEST_OBSOLETE', path: join(d, old) });
    }
    await expect(readRunManifest(join(dir, 'none'))).rejects.toMatchObject({ code: 'E_RUN_MANIFEST' });
  });

  test('run.json is the validated manifest, written last', async () => {
    const headed = addHead(base(), { type: 'classification', name: 'task', numLabels: 2 });
    const { graph } = applyPlacements(headed, [{ adapter: adapter('mini', 'a') }], registry);
    const store = WeightStore.create(graph, 3);
    const manifest = await saveRun(dir, { graph, store, model: 'tiny', adapters: ['a'], heads: [{ name: 'task', labels: ['no', 'yes'] }], maxLength: 8, registry });
    expect(JSON.parse(await readFile(join(dir, RUN_FILE), 'utf8'))).toEqual(manifest);
    expect(manifest.adapters).toEqual([{ name: 'a', dir: 'adapters/a' }]);
    await expect(saveRun(join(dir, 'x'), { graph, store, model: 'tiny', adapters: ['nope'], heads: [], maxLength: 8 })).rejects.toMatchObject({ code: 'E_RUN_MANIFEST' });
    store.dispose();
  });
});

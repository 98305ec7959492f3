// A flat prefix (trained flat, or ejected from the MLP) in AdapterHub's file layout: FlatPrefixTuning's one 1-D
// parameter `prefix_tuning.prefix_tunings.NAME.self_prefix.control_trans` [P·L·2·hidden] (adapters 1.3,
// methods/prefix_tuning.py), config `flat: true`; saved → loaded gives the same tensor bit for bit and the same
// outputs; a file whose vector has the wrong length is refused naming the tensor, leaving the model unchanged.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import type { Graph } from '@adapters/core-graph';
import { adapter, applyPlacements, buildEncoder, createRegistry, Executor, loadAdapter, readSafetensorsFile, saveAdapter, WeightStore, writeSafetensorsFile } from '@adapters/core-graph';
import type { PrefixTuningConfig } from './config';
import { ejectPrefix } from './eject';
import { prefixTableOp } from './ops';
import { poolScope, prefixTuning } from './plugin';

const HIDDEN = 8;
const registry = createRegistry([prefixTuning]);
const FEEDS = { input_ids: [[2, 5, 7, 1], [3, 9, 4, 6]], attention_mask: [[1, 1, 1, 1], [1, 1, 0, 0]] };
const FLAT_KEY = 'bert.prefix_tuning.prefix_tunings.p.self_prefix.control_trans';

const encoder = (layers: number): Graph => buildEncoder({ hiddenSize: HIDDEN, numHeads: 2, numLayers: layers, intermediateSize: 12, vocabSize: 20, maxPositions: 16 });
const outputs = (graph: Graph, store: WeightStore): Float32Array => tf.tidy(() => Float32Array.from((new Executor(graph, store).run(FEEDS, { outputs: ['last_hidden_state'] })['last_hidden_state'] as tf.Tensor).dataSync()));

async function withDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'prefix-flat-'));
  try {
    return await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('flat prefix files in AdapterHub layout', () => {
  test('a flat prefix saves as the 1-D control_trans and loads back exactly (property over prefix length, depth, leave_out, seed)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 3 }), fc.boolean(), fc.integer({ min: 0, max: 1000 }), async (prefixLength, layers, leaveFirst, seed) => {
        const config = { prefix_length: prefixLength, flat: true, ...(leaveFirst ? { leave_out: [0] } : {}) };
        const { graph } = applyPlacements(encoder(layers), [{ adapter: adapter('prefix_tuning', 'p', config) }], registry);
        const store = WeightStore.create(graph, seed);
        // Same seed: the same base weights (the store draws each key from the seed); the prefix comes from the file.
        const fresh = WeightStore.create(encoder(layers), seed);
        try {
          await withDir(async (dir) => {
            await saveAdapter(dir, graph, store, 'p', { registry });
            const { tensors } = await readSafetensorsFile(join(dir, 'adapter.safetensors'));
            const prefixed = layers - (leaveFirst ? 1 : 0);
            expect([...tensors.keys()]).toEqual([FLAT_KEY]);
            expect(tensors.get(FLAT_KEY)?.shape).toEqual([prefixLength * prefixed * 2 * HIDDEN]);
            const hub = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown> };
            expect(hub.config).toMatchObject({ architecture: 'prefix_tuning', flat: true, prefix_length: prefixLength });
            const loaded = await loadAdapter(dir, encoder(layers), fresh, registry);
            const key = `${poolScope('p')}.control_trans.weight`;
            expect(Array.from(fresh.get(key).dataSync())).toEqual(Array.from(store.get(key).dataSync()));
            expect(Array.from(outputs(loaded.graph, fresh))).toEqual(Array.from(outputs(graph, store)));
          });
        } finally {
          store.dispose();
          fresh.dispose();
        }
      }),
      { numRuns: 6 },
    );
  });

  test('an ejected prefix saves as AdapterHub ejects it (flat: true, the MLP output as control_trans) and reloads with the same outputs', async () => {
    const { graph } = applyPlacements(encoder(3), [{ adapter: adapter('prefix_tuning', 'p', { prefix_length: 3, bottleneck_size: 6, leave_out: [1] }) }], registry);
    const store = WeightStore.create(graph, 7);
    const kv = tf.tidy(() => Float32Array.from((new Executor(graph, store).forward({ input_ids: [[0]] }, { outputs: [], nodes: [`${poolScope('p')}.control_trans.2`] })[`${poolScope('p')}.control_trans.2`] as tf.Tensor).dataSync()));
    const flat = ejectPrefix(graph, store, 'p');
    const fresh = WeightStore.create(encoder(3), 7);
    try {
      await withDir(async (dir) => {
        await saveAdapter(dir, flat, store, 'p', { registry });
        const { tensors } = await readSafetensorsFile(join(dir, 'adapter.safetensors'));
        // AdapterHub's PrefixTuning.eject(): control_trans(wte(arange(P))) viewed as one vector, row-major.
        expect([...tensors.keys()]).toEqual([FLAT_KEY]);
        expect(Array.from(tensors.get(FLAT_KEY)?.values ?? [])).toEqual(Array.from(kv));
        const hub = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { config: PrefixTuningConfig };
        expect(hub.config.flat).toBe(true);
        const loaded = await loadAdapter(dir, encoder(3), fresh, registry);
        expect(Array.from(outputs(loaded.graph, fresh))).toEqual(Array.from(outputs(flat, store)));
      });
    } finally {
      store.dispose();
      fresh.dispose();
    }
  });

  test('a flat vector of the wrong length is refused naming the tensor; the store is unchanged', async () => {
    const { graph } = applyPlacements(encoder(2), [{ adapter: adapter('prefix_tuning', 'p', { prefix_length: 2, flat: true }) }], registry);
    const store = WeightStore.create(graph, 1);
    const fresh = WeightStore.create(encoder(2), 2);
    try {
      await withDir(async (dir) => {
        await saveAdapter(dir, graph, store, 'p', { registry });
        // The same file with a prefix of 3 rows instead of 2 (what a config/file mix-up gives).
        const n = 3 * 2 * 2 * HIDDEN;
        await writeSafetensorsFile(join(dir, 'adapter.safetensors'), { [FLAT_KEY]: { dtype: 'F32', shape: [n], values: new Float32Array(n) } }, { format: 'pt' });
        const keys = [...fresh.keys()];
        await expect(loadAdapter(dir, encoder(2), fresh, registry)).rejects.toThrow(new RegExp(`tensor '${FLAT_KEY}' has shape \\[${n}\\], the model expects \\[${2 * 2 * 2 * HIDDEN}\\]`));
        expect([...fresh.keys()]).toEqual(keys);
      });
    } finally {
      store.dispose();
      fresh.dispose();
    }
  });

  test('the table op reads a 1-D parameter as `rows` rows and refuses a row count that does not divide it', () => {
    const { graph } = applyPlacements(encoder(2), [{ adapter: adapter('prefix_tuning', 'p', { prefix_length: 2, flat: true }) }], registry);
    const node = graph.node(`${poolScope('p')}.control_trans`);
    expect(node.attrs['rows']).toBe(2);
    expect(node.type.shape).toEqual([2, 2 * 2 * HIDDEN]);
    const spec = graph.param(`${poolScope('p')}.control_trans.weight`);
    expect(spec.shape).toEqual([2 * 2 * 2 * HIDDEN]);
    const infer = (rows: unknown) => prefixTableOp.inferType({ nodeId: 't', inputs: [], inputIds: [], attrs: rows === undefined ? {} : { rows: rows as number }, params: { weight: spec } });
    expect(infer(4).shape).toEqual([4, 2 * 2 * HIDDEN / 2]);
    for (const bad of [3, 0, 2.5, undefined]) expect(() => infer(bad)).toThrow(/node 't': prefixTable with a 1-D parameter 'weight' \[64\] needs an integer attr 'rows' dividing 64/);
  });
});

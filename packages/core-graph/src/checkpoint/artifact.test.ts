// The one writer and reader: writeArtifact → stageArtifact gives every tensor back bit for bit under any checkpoint
// names (several per parameter, with or without the model prefix); the JSON keeps AdapterHub's floats; the key hook
// must name each parameter at least once and never twice.
import fc from 'fast-check';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphError } from '../errors';
import { WeightStore } from '../exec/weights';
import { readSafetensorsFile } from '../io/safetensors-file';
import { buildEncoder } from '../model/encoder';
import { artifactJson, checkpointKeyArgs, checkpointKeysOf, FORMAT_VERSION, stageArtifact } from './artifact';
import { writeArtifact } from './artifact-write';
import { isTransposedInCheckpoint } from './hf-keys';

const graph = buildEncoder({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8 });
const keys = [...graph.params.keys()].slice(0, 6);

describe('writeArtifact / stageArtifact', () => {
  test('save → stage is exact for any names (property), and the header names the base', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'artifact-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), async (seed, copies, bare) => {
          const store = WeightStore.create(graph, seed);
          try {
            const prefix = String(graph.meta['prefix'] ?? '');
            const names = new Map(keys.map((k, i) => [k, Array.from({ length: copies }, (_v, c) => `${bare || !prefix ? '' : `${prefix}.`}m${i}.copy${c}.w`)]));
            await writeArtifact(dir, graph, store, { configFile: 'c.json', fields: { config: { a: 1 }, name: 'x' }, weightsFile: 'w.safetensors', tensors: names });
            const { tensors } = await readSafetensorsFile(join(dir, 'w.safetensors'));
            expect(tensors.size).toBe(keys.length * copies);
            // The reader looks the names up with the model prefix; a file saved without it still reads.
            const lookup = (k: string) => (names.get(k) ?? []).map((n) => (bare && prefix ? `${prefix}.${n}` : n));
            const staged = stageArtifact(graph, tensors, { keys, namesOf: lookup, source: 'w.safetensors', owner: 'test' });
            for (const k of keys) {
              const want = store.get(k).dataSync();
              const got = staged.get(k)?.values ?? new Float32Array();
              expect(Buffer.from(Float32Array.from(got).buffer).equals(Buffer.from(Float32Array.from(want).buffer))).toBe(true);
              expect(staged.get(k)?.shape).toEqual([...graph.param(k).shape]);
            }
            const header = JSON.parse(await readFile(join(dir, 'c.json'), 'utf8')) as Record<string, unknown>;
            expect(header).toMatchObject({ hidden_size: 8, model_type: 'bert', name: 'x', version: FORMAT_VERSION, config: { a: 1 } });
            expect(Object.keys(header)).toEqual([...Object.keys(header)].sort());
          } finally {
            store.dispose();
          }
        }),
        { numRuns: 6, seed: 3 },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('copies that differ, a tensor no parameter claims and two parameters under one name are errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'artifact-'));
    const store = WeightStore.create(graph, 1);
    try {
      const [a, b] = keys as [string, string];
      await writeArtifact(dir, graph, store, { configFile: 'c.json', fields: {}, weightsFile: 'w.safetensors', tensors: new Map([[a, ['x']], [b, ['y']]]) });
      const { tensors } = await readSafetensorsFile(join(dir, 'w.safetensors'));
      const same = graph.param(a).shape.join() === graph.param(b).shape.join() && !isTransposedInCheckpoint(graph.param(a));
      if (same) expect(() => stageArtifact(graph, tensors, { keys: [a], namesOf: () => ['x', 'y'], source: 'w', owner: 'o' })).toThrow(/both hold parameter/);
      expect(() => stageArtifact(graph, tensors, { keys: [a], namesOf: () => ['x'], source: 'w', owner: "adapter 'o'" })).toThrow(/unexpected tensor 'y' \(adapter 'o' places no parameter there\)/);
      await expect(writeArtifact(dir, graph, store, { configFile: 'c.json', fields: {}, weightsFile: 'w.safetensors', tensors: new Map([[a, ['x']], [b, ['x']]]) })).rejects.toThrow(GraphError);
    } finally {
      store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('checkpointKeysOf: at least one name, none twice', () => {
    const args = checkpointKeyArgs(graph, 'layer.0.ffn.adapters.a.w', { name: 'a', config: {} });
    expect(args).toMatchObject({ local: 'w', name: 'a', as: 'a', module: expect.stringContaining('encoder.layer.0') });
    expect(() => checkpointKeysOf(() => [], args)).toThrow(/no checkpoint key/);
    expect(() => checkpointKeysOf(() => ['k', 'k'], args)).toThrow(/same checkpoint key twice/);
    expect(checkpointKeyArgs(graph, 'invertible_adapters.a.F.0.weight', { name: 'a', config: {} })).toMatchObject({ site: undefined, module: undefined, local: 'invertible_adapters.a.F.0.weight' });
  });

  test('artifactJson writes integral float fields as floats and parses back to the same values (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('scaling', 'dropout', 'rank', 'name'), fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }))), (config) => {
        const text = artifactJson({ config, z: 1 }, config, ['scaling', 'dropout']);
        expect(JSON.parse(text)).toEqual({ config: JSON.parse(JSON.stringify(config)), z: 1 });
        for (const f of ['scaling', 'dropout']) {
          const v = config[f];
          if (typeof v === 'number' && Number.isInteger(v)) expect(text).toContain(`"${f}": ${v}.0`);
        }
        if (typeof config['rank'] === 'number' && Number.isInteger(config['rank'])) expect(text).not.toMatch(/"rank": -?\d+\.0\b/);
      }),
      { seed: 5 },
    );
  });
});

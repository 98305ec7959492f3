import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { Executor } from '../exec/executor';
import { WeightStore } from '../exec/weights';
import { readSafetensorsFile } from '../io/safetensors-file';
import { ACTIVATIONS } from '../ops/activation';
import { buildEncoder } from '../model/encoder';
import type { HeadSpecBase } from '../model/head-def';
import { createHeadRegistry, defineHead } from '../model/head-def';
import { addHead, coreHeads, graphHeads } from '../model/heads';
import { HEAD_CONFIG_FILE, loadHead, saveHead } from './head-files';

const config = { vocabSize: 30, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 16 };

/** A plugin head: mean over tokens, then a scalar score per class (no encoder config needed). */
interface ProbeSpec extends HeadSpecBase { readonly type: 'probe'; readonly classes: number }
const probe = defineHead<ProbeSpec>({
  type: 'probe',
  description: 'test probe',
  build: ({ spec, scope, input }) => scope.dense('score', scope.op('maskedMean', 'mean', [input, 'inputs.attention_mask']), spec.classes, { init: { kind: 'normal', std: 0.5 } }),
});
const heads = coreHeads.with([probe]);

describe('heads as plugins', () => {
  test('a plugin head builds through addHead, is listed in graph meta, and saves → loads bit-exactly with the same registry', async () => {
    const g = addHead(buildEncoder(config), { type: 'probe', name: 'p', classes: 3 }, heads);
    expect(graphHeads(g).map((h) => h.type)).toEqual(['probe']);
    expect([...g.params.values()].filter((p) => p.owner === 'head:p').map((p) => p.key).sort()).toEqual(['heads.p.score.bias', 'heads.p.score.weight']);
    const store = WeightStore.create(g, 5);
    const dir = await mkdtemp(join(tmpdir(), 'head-files-'));
    try {
      await saveHead(dir, g, store, 'p', { heads });
      expect(JSON.parse(await readFile(join(dir, HEAD_CONFIG_FILE), 'utf8')).config).toEqual({ type: 'probe', name: 'p', classes: 3 });
      const fresh = WeightStore.create(buildEncoder(config), 9);
      // Without the plugin's head registered, the file is refused by name, and the store is unchanged.
      const keysBefore = fresh.keys().length;
      await expect(loadHead(dir, buildEncoder(config), fresh)).rejects.toThrow(/config\.type: no registered head reads type "probe"/);
      expect(fresh.keys().length).toBe(keysBefore);
      const loaded = await loadHead(dir, buildEncoder(config), fresh, { heads });
      expect(loaded.name).toBe('p');
      for (const k of ['heads.p.score.weight', 'heads.p.score.bias']) expect(Array.from(fresh.get(k).dataSync())).toEqual(Array.from(store.get(k).dataSync()));
      fresh.dispose();
    } finally {
      store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('registry errors: unknown type, a type registered twice, a bad definition', () => {
    expect(() => addHead(buildEncoder(config), { type: 'probe', name: 'p', classes: 2 })).toThrow(/unknown head type "probe" \(known: classification, tokenClassification, maskedLM\)/);
    expect(() => createHeadRegistry([probe, probe])).toThrow(ConfigError);
    expect(() => defineHead({ type: '1x', description: '', build: () => '' })).toThrow(/head type must be an identifier/);
  });
});

describe('AdapterHub head format', () => {
  const FEEDS = { input_ids: [[2, 5, 9, 3], [2, 7, 3, 0]], attention_mask: [[1, 1, 1, 1], [1, 1, 1, 0]] };
  const logitsOf = (g: ReturnType<typeof buildEncoder>, store: WeightStore, name: string): Float32Array => {
    const out = new Executor(g, store).run(FEEDS, { outputs: [`${name}.logits`] });
    const values = Float32Array.from(out[`${name}.logits`]?.dataSync() ?? []);
    tf.dispose(Object.values(out));
    return values;
  };
  const specArb = fc.record({
    architecture: fc.constantFrom('bert' as const, 'roberta' as const),
    type: fc.constantFrom('classification' as const, 'tokenClassification' as const),
    numLabels: fc.integer({ min: 1, max: 4 }),
    layers: fc.constantFrom(undefined, 1 as const, 2 as const),
    activation: fc.constantFrom(undefined, ...ACTIVATIONS),
    pooling: fc.constantFrom(undefined, 'pooler' as const, 'cls' as const, 'mean' as const),
    seed: fc.integer({ min: 0, max: 1000 }),
  });

  // Every classification / tagging head shape: saved in AdapterHub's format when it can say it (else ours), read
  // back to the same logits bit for bit, with AdapterHub's tensor names (`1`, `3`/`4`).
  test('save → load is exact for every head shape; the format is AdapterHub\'s whenever it can express the spec', async () => {
    await fc.assert(fc.asyncProperty(specArb, async ({ architecture, type, numLabels, layers, activation, pooling, seed }) => {
      if (architecture === 'roberta' && pooling === 'pooler') return;
      const base = buildEncoder({ ...config, architecture });
      const spec = {
        type, name: 'h', numLabels, ...(layers ? { layers } : {}), ...(activation ? { activation } : {}),
        ...(type === 'classification' && pooling ? { pooling } : {}),
      } as Parameters<typeof addHead>[1];
      const g = addHead(base, spec);
      const store = WeightStore.create(g, seed);
      const dir = await mkdtemp(join(tmpdir(), 'head-hub-'));
      try {
        await saveHead(dir, g, store, 'h', { labels: Array.from({ length: numLabels }, (_v, i) => `L${i}`) });
        const saved = JSON.parse(await readFile(join(dir, HEAD_CONFIG_FILE), 'utf8')) as { config: Record<string, unknown>; model_class?: string };
        const hub = !(type === 'classification' && pooling === 'mean');
        expect(saved.config['head_type'] !== undefined).toBe(hub);
        expect(saved.config['label2id']).toEqual(Object.fromEntries(Array.from({ length: numLabels }, (_v, i) => [`L${i}`, i])));
        const keys = [...(await readSafetensorsFile(join(dir, 'model_head.safetensors'))).tensors.keys()].sort();
        if (hub) {
          expect(saved.model_class).toBe(architecture === 'bert' ? 'BertAdapterModel' : 'RobertaAdapterModel');
          const two = (layers ?? (type === 'classification' && architecture === 'roberta' ? 2 : 1)) === 2;
          const out = activation === 'identity' ? 3 : 4;
          expect(keys).toEqual(two ? ['heads.h.1.bias', 'heads.h.1.weight', `heads.h.${out}.bias`, `heads.h.${out}.weight`] : ['heads.h.1.bias', 'heads.h.1.weight']);
        }
        const fresh = WeightStore.create(base, seed); // the same base weights; the head comes from the file
        const loaded = await loadHead(dir, base, fresh);
        expect(Buffer.from(logitsOf(loaded.graph, fresh, 'h').buffer).equals(Buffer.from(logitsOf(g, store, 'h').buffer))).toBe(true);
        fresh.dispose();
      } finally {
        store.dispose();
        await rm(dir, { recursive: true, force: true });
      }
    }), { numRuns: 40, seed: 17 });
  });

  test('an older head file in our own format (config.type, classifier keys) still loads', async () => {
    const g = addHead(buildEncoder(config), { type: 'classification', name: 'old', numLabels: 2 });
    const store = WeightStore.create(g, 3);
    const dir = await mkdtemp(join(tmpdir(), 'head-old-'));
    try {
      // As saveHead wrote it before AdapterHub's format: the spec as config, local keys.
      const { writeJsonAtomic } = await import('../io/atomic-write');
      const { writeSafetensorsFile } = await import('../io/safetensors-file');
      await writeJsonAtomic(join(dir, HEAD_CONFIG_FILE), { config: { type: 'classification', name: 'old', numLabels: 2, label2id: { a: 0, b: 1 } }, hidden_size: 8, model_type: 'bert', name: 'old', version: 'adapters-ts.0.1.0' });
      const tensors: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
      for (const k of ['heads.old.classifier.weight', 'heads.old.classifier.bias']) {
        const t = store.get(k);
        const values = Float32Array.from(t.dataSync());
        tensors[k] = k.endsWith('weight') ? { dtype: 'F32', shape: [2, 8], values: Float32Array.from({ length: 16 }, (_v, i) => values[(i % 8) * 2 + Math.floor(i / 8)] as number) } : { dtype: 'F32', shape: [2], values };
      }
      await writeSafetensorsFile(join(dir, 'model_head.safetensors'), tensors);
      const fresh = WeightStore.create(buildEncoder(config), 3);
      const loaded = await loadHead(dir, buildEncoder(config), fresh);
      expect(Buffer.from(logitsOf(loaded.graph, fresh, 'old').buffer).equals(Buffer.from(logitsOf(g, store, 'old').buffer))).toBe(true);
      fresh.dispose();
    } finally {
      store.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

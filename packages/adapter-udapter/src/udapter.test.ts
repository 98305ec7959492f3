import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { createRegistry, Executor, loadAdapter, readSafetensorsFile, WeightStore, writeSafetensorsFile } from '@adapters/core-graph';
import { compareGradients, numericGradient, storeWithReferenceBase } from '@adapters/core-graph/testing';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateWeights } from './cpg-op';
import { makeParseBatch } from './data';
import { exportLanguageAdapter, generatedBottleneck, languageEmbedding } from './export';
import { loadUdapter, saveUdapter, UDAPTER_WEIGHTS_FILE } from './io';
import { trainParser } from './parser';
import { LANGUAGE_INPUT, languageConstants } from './plugin';
import { CONFIG, randomizeHead, syntheticTreebank, tinyBase, tinyParser, typology } from './__tests__/helpers';

const IDS = [[2, 7, 11, 5, 19, 3], [2, 31, 8, 3, 0, 0]];
const MASK = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];

function hidden(executor: Executor, langs?: Float32Array[]): Float32Array {
  const feeds: Record<string, tf.Tensor> = { input_ids: tf.tensor2d(IDS, undefined, 'int32'), attention_mask: tf.tensor2d(MASK) };
  const constants = langs ? languageConstants(executor.graph, langs) : undefined;
  const out = executor.run(feeds, { outputs: ['last_hidden_state'], ...(constants ? { constants } : {}) });
  const v = Float32Array.from((out['last_hidden_state'] as tf.Tensor).dataSync());
  tf.dispose([...Object.values(feeds), ...Object.values(out), ...(constants?.values() ?? [])]);
  return v;
}

const maxAbs = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('udapter', () => {
  it('is an exact identity at init, for any language', () => {
    const { parser, store } = tinyParser();
    const base = tinyBase();
    const baseOut = hidden(new Executor(base, store));
    expect(hidden(parser.executor, [typology(1), typology(2)])).toEqual(baseOut);
    parser.dispose();
    store.dispose();
  });

  it('generated weights are a deterministic function of the typology vector (property)', () => {
    const { parser, store } = tinyParser(CONFIG, { randomAdapter: true });
    const key = parser.adapterKeys().find((k) => k.endsWith('.down'))!;
    const prefix = key.slice(0, -'.down'.length);
    const params = Object.fromEntries(['down', 'down_bias', 'up', 'up_bias'].map((k) => [k, store.get(`${prefix}.${k}`) as tf.Tensor]));
    const weightsOf = (t: Float32Array): Float32Array[] => tf.tidy(() => {
      const e = languageEmbedding(parser, t);
      const w = generateWeights(e, params, 16, 4);
      return [w.down, w.downBias, w.up, w.upBias].map((x) => Float32Array.from(x.dataSync()));
    });
    fc.assert(
      fc.property(fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 5, maxLength: 5 }), fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 5, maxLength: 5 }), (a, b) => {
        const ta = Float32Array.from(a);
        const first = weightsOf(ta);
        // Same vector → bit-identical weights (and through the whole graph); another vector → other weights.
        expect(weightsOf(Float32Array.from(a))).toEqual(first);
        expect(hidden(parser.executor, [ta, ta])).toEqual(hidden(parser.executor, [Float32Array.from(a), Float32Array.from(a)]));
        if (a.some((x, i) => Math.abs(x - b[i]!) > 1e-3)) expect(weightsOf(Float32Array.from(b))).not.toEqual(first);
      }),
      { numRuns: 25, seed: 21 },
    );
    parser.dispose();
    store.dispose();
  });

  it('a batch that mixes languages gives each row its own language\'s adapter', () => {
    const { parser, store } = tinyParser(CONFIG, { randomAdapter: true });
    const [t1, t2] = [typology(3), typology(4)];
    const mixed = hidden(parser.executor, [t1, t2]);
    const only1 = hidden(parser.executor, [t1, t1]);
    const only2 = hidden(parser.executor, [t2, t2]);
    const row = IDS[0]!.length * 16;
    expect(maxAbs(mixed.slice(0, row), only1.slice(0, row))).toBeLessThan(1e-6);
    expect(maxAbs(mixed.slice(row), only2.slice(row))).toBeLessThan(1e-6);
    expect(maxAbs(only1, only2)).toBeGreaterThan(1e-3);
    parser.dispose();
    store.dispose();
  });

  it('gradients reach the generator and the language MLP (finite differences)', () => {
    const { parser, store } = tinyParser(CONFIG, { randomAdapter: true });
    randomizeHead(parser, 13);
    // Every feature non-zero, so every row of the language MLP's first weight gets a gradient.
    const examples = syntheticTreebank(3, 5, Float32Array.of(1, 0.5, 0.9, 0.3, 0.8), 'xx');
    const batch = makeParseBatch(examples, 0);
    for (const key of [parser.adapterKeys().find((k) => k.endsWith('.generated.down'))!, parser.adapterKeys().find((k) => k.endsWith('.generated.up'))!, parser.adapterKeys().find((k) => k.includes('language.0.weight'))!]) {
      const v = store.get(key);
      // The language MLP is small: every entry (some sit behind inactive ReLUs, so their gradient is 0).
      const idx = v.size <= 32 ? Array.from({ length: v.size }, (_x, i) => i) : [0, 3, 7];
      const analytic = tf.tidy(() => {
        const g = tf.variableGrads(() => parser.loss(batch, 0), [v]).grads[v.name]!;
        const flat = g.dataSync();
        return idx.map((i) => flat[i]!);
      });
      const original = Float32Array.from(v.dataSync());
      const f = (x: Float64Array): number => {
        const next = Float32Array.from(original);
        idx.forEach((i, k) => (next[i] = x[k]!));
        tf.tidy(() => v.assign(tf.tensor(next, v.shape)));
        return tf.tidy(() => parser.loss(batch, 0).dataSync()[0]!);
      };
      const numeric = numericGradient(f, Float64Array.from(idx.map((i) => original[i]!)), 1e-2);
      tf.tidy(() => v.assign(tf.tensor(original, v.shape)));
      expect(analytic.some((g) => Math.abs(g) > 1e-4)).toBe(true);
      // float32 loss, h = 1e-2: rounding ~1e-7·|f|/h and O(h²) truncation; 2e-2 relative leaves margin.
      expect(compareGradients(analytic, numeric).maxRelError).toBeLessThan(2e-2);
    }
    parser.dispose();
    store.dispose();
  });

  it('exports one language\'s adapter as a plain bottleneck that reproduces the generated forward within 1e-5', async () => {
    const { base, parser, store } = tinyParser(CONFIG, { randomAdapter: true });
    const t = typology(8);
    const generated = hidden(parser.executor, [t, t]);
    const exported = generatedBottleneck(parser, base, t, 'lang_xx');
    // The base weights are the graph's own: copy them into the exported store.
    for (const p of exported.graph.params.values()) if (p.owner === 'base') tf.tidy(() => exported.store.assign(p.key, store.get(p.key)));
    expect(maxAbs(hidden(new Executor(exported.graph, exported.store)), generated)).toBeLessThan(1e-5);
    exported.store.dispose();

    // Through AdapterHub's file layout and core-graph's loader.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'udapter-export-'));
    try {
      await exportLanguageAdapter(dir, parser, base, t, 'lang_xx');
      const saved = JSON.parse(await fs.readFile(path.join(dir, 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown> };
      expect(saved.config).toMatchObject({ non_linearity: 'relu', output_adapter: false, mh_adapter: false });
      const fresh = storeWithReferenceBase(base).store;
      const loaded = await loadAdapter(dir, base, fresh, createRegistry([bottleneck]));
      expect(maxAbs(hidden(new Executor(loaded.graph, fresh)), generated)).toBeLessThan(1e-5);
      fresh.dispose();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    parser.dispose();
    store.dispose();
  });

  it('trains over mixed treebanks (loss falls, no tensor leak) and save → load restores it bit for bit', async () => {
    const { base, parser, store } = tinyParser(CONFIG);
    const train = [...syntheticTreebank(24, 1, typology(1), 'aa'), ...syntheticTreebank(24, 2, typology(2), 'bb')];
    const before = parser.evaluate(train.slice(0, 8));
    const counts: number[] = [];
    const losses = await trainParser(parser, train, { steps: 40, batchSize: 8, learningRate: 0.01, seed: 3, every: 5, onCheckpoint: () => void counts.push(tf.memory().numTensors) });
    expect(losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(losses.slice(0, 5).reduce((a, b) => a + b) / 5);
    expect(new Set(counts.slice(1)).size).toBe(1);
    const after = parser.evaluate(train.slice(0, 8));
    expect(after.uas).toBeGreaterThan(before.uas);

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'udapter-save-'));
    try {
      await saveUdapter(dir, parser, { trainedOn: { aa: 'aaa', bb: 'bbb' }, steps: 40 });
      const fresh = storeWithReferenceBase(tinyBase()).store;
      const { parser: loaded, saved } = await loadUdapter(dir, base, fresh);
      expect(saved.steps).toBe(40);
      for (const k of parser.adapterKeys()) expect(fresh.get(k).dataSync()).toEqual(store.get(k).dataSync());
      const unseen = syntheticTreebank(6, 9, typology(12), 'zz'); // zero-shot: a typology vector never trained on
      expect(loaded.predict(unseen)).toEqual(parser.predict(unseen));

      // A damaged file: one error naming the tensor, and the store keeps no half-loaded adapter.
      const file = path.join(dir, UDAPTER_WEIGHTS_FILE);
      const { tensors } = await readSafetensorsFile(file);
      const cut: Record<string, { dtype: 'F32'; shape: number[]; values: Float32Array }> = {};
      for (const [k, t] of tensors) if (!k.endsWith('parser.arcU')) cut[k] = { dtype: 'F32', shape: t.shape, values: t.values as Float32Array };
      await writeSafetensorsFile(file, cut);
      const other = new WeightStore();
      await expect(loadUdapter(dir, base, other)).rejects.toThrow(/parser\.arcU.*is missing/);
      expect(other.keys().filter((k) => k.includes('udapter'))).toEqual([]);
      loaded.dispose();
      fresh.dispose();
      other.dispose();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    parser.dispose();
    store.dispose();
  });

  it('the generator-free baseline is one adapter for every language', () => {
    const { parser, store } = tinyParser({ ...CONFIG, generate: false }, { randomAdapter: true });
    expect(parser.graph.inputs.some((i) => i.name === LANGUAGE_INPUT)).toBe(false);
    expect(parser.adapterKeys().some((k) => k.includes('adapter_down'))).toBe(true);
    parser.dispose();
    store.dispose();
  });
});


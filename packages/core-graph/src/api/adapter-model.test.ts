// The model-level API on a tiny BERT folder: add → train → save → reload in a fresh model → same predictions.
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { writeTinyModelDir } from '../testing/fixtures';
import { toyAdapter } from '../testing/toy-adapter';
import { AdapterModel, type LabelledText } from './adapter-model';

const POSITIVE = ['good', 'great', 'fun', 'lovely'];
const NEGATIVE = ['bad', 'awful', 'boring', 'dull'];
const FILLER = ['the', 'movie', 'was', 'a', 'plot'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POSITIVE, ...NEGATIVE, ...FILLER];

const modelDir = mkdtempSync(join(tmpdir(), 'adapter-model-'));
beforeAll(() => writeTinyModelDir(modelDir, VOCAB, { numLayers: 3 })); // after the setup file picked a backend

function data(n: number, offset: number): LabelledText[] {
  return Array.from({ length: n }, (_v, i) => {
    const pos = (i + offset) % 2 === 0;
    const words = pos ? POSITIVE : NEGATIVE;
    return { text: `${FILLER[i % FILLER.length]} ${FILLER[(i + 2) % FILLER.length]} ${words[(i + offset) % words.length]}`, label: pos ? 'pos' : 'neg' };
  });
}

describe('AdapterModel', () => {
  test('train an adapter at a custom placement, save, reload in a fresh model: same predictions, label names kept', async () => {
    const model = await AdapterModel.fromPretrained(modelDir, { plugins: [toyAdapter], seed: 3 });
    const report = model.addAdapter('sentiment', 'toy', { size: 4 }, { select: { kinds: ['ffn'], layers: [1, 2] }, mode: 'wrap' });
    expect(report.map((r) => r.site)).toEqual(['layer.1.ffn', 'layer.2.ffn']);
    model.addClassificationHead('sentiment', { labels: ['neg', 'pos'], pooling: 'mean' });
    model.trainAdapter('sentiment');
    const baseKeys = [...model.graph.params.values()].filter((p) => p.owner === 'base').map((p) => p.key);
    const baseBefore = baseKeys.map((k) => model.store.get(k).dataSync().slice());
    const result = model.fit(data(48, 0), { epochs: 10, batchSize: 8, learningRate: 2e-2, seed: 1 });
    expect(result.steps).toBe(60);
    // Only the adapter and its head trained: the base is bit-for-bit unchanged.
    expect(baseKeys.map((k) => model.store.get(k).dataSync())).toEqual(baseBefore);
    const dev = data(16, 1);
    const acc = model.evaluate(dev).accuracy;
    expect(acc).toBeGreaterThanOrEqual(0.9); // a separable toy task: the trained adapter must learn it

    const dir = mkdtempSync(join(tmpdir(), 'adapter-model-save-'));
    await model.saveAdapter(dir, 'sentiment');
    const head = JSON.parse(readFileSync(join(dir, 'head_config.json'), 'utf8')) as { config: { label2id: unknown } };
    expect(head.config.label2id).toEqual({ neg: 0, pos: 1 });
    const texts = dev.map((d) => d.text);
    const before = model.predict(texts);
    expect(before.map((p) => p.label)).toEqual(expect.arrayContaining(['pos', 'neg']));

    const fresh = await AdapterModel.fromPretrained(modelDir, { plugins: [toyAdapter] });
    const name = await fresh.loadAdapter(dir);
    expect(name).toBe('sentiment');
    expect(fresh.activeAdapter).toBe('sentiment');
    expect(fresh.predict(texts)).toEqual(before);
    model.dispose();
    fresh.dispose();
  });

  test('several adapters: predictions use the active one only; others are bypassed', async () => {
    const model = await AdapterModel.fromPretrained(modelDir, { plugins: [toyAdapter], seed: 4 });
    model.addAdapter('a', 'toy', {});
    model.addClassificationHead('a', { labels: ['x', 'y', 'z'] });
    model.setActiveAdapter('a');
    const alone = model.predict(['good movie', 'bad plot']);
    model.addAdapter('b', 'toy', { size: 2 }, { select: { kinds: ['attention'] }, mode: 'wrap' });
    model.setActiveAdapter('a');
    expect(model.predict(['good movie', 'bad plot'])).toEqual(alone); // b is in the graph but bypassed
    model.dispose();
  });

  test('mistakes are ConfigErrors naming the field; memory is flat across predictions', async () => {
    const model = await AdapterModel.fromPretrained(modelDir, { plugins: [toyAdapter] });
    expect(() => model.addAdapter('a', 'nope')).toThrow(ConfigError);
    expect(() => model.predict(['x'])).toThrow(/no active adapter/);
    model.addAdapter('a', 'toy');
    expect(() => model.addAdapter('a', 'toy')).toThrow(/already has an adapter 'a'/);
    expect(() => model.addClassificationHead('a', { labels: ['only'] })).toThrow(/at least two labels/);
    expect(() => model.fit(data(4, 0))).toThrow(/call trainAdapter/);
    model.addClassificationHead('a', { labels: ['neg', 'pos'] });
    model.trainAdapter('a');
    expect(() => model.fit([{ text: 'good', label: 'meh' }])).toThrow(/examples\[0\]\.label: 'meh' is not a label/);
    expect(() => model.predict(['good'], { maxLength: 10_000 })).toThrow(/maxLength/);
    model.predict(['good movie']);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) model.predict(['good movie', 'the plot was dull']);
    expect(tf.memory().numTensors).toBe(tensors);
    await expect(AdapterModel.fromPretrained(join(modelDir, 'missing'))).rejects.toThrow(/neither a directory nor a known model/);
    model.dispose();
  });

  test('a known model name reads the model cache; missing there it needs a fetchModel hook (the library spawns nothing)', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'adapter-model-cache-'));
    const saved = process.env['ADAPTERS_CACHE'];
    process.env['ADAPTERS_CACHE'] = cache;
    try {
      await expect(AdapterModel.fromPretrained('minilm')).rejects.toThrow(/'all-MiniLM-L6-v2' is not in the model cache .*adapters fetch-model --model all-MiniLM-L6-v2/);
      await expect(AdapterModel.fromPretrained('minilm')).rejects.toBeInstanceOf(ConfigError);
      const asked: string[] = [];
      // The hook puts the files where the cache would and returns the folder.
      const fetchModel = async (name: string): Promise<string> => {
        asked.push(name);
        const dir = join(cache, 'models', name);
        writeTinyModelDir(dir, VOCAB);
        return dir;
      };
      const fetched = await AdapterModel.fromPretrained('all-MiniLM-L6-v2', { fetchModel });
      expect(asked).toEqual(['all-MiniLM-L6-v2']);
      fetched.dispose();
      const cached = await AdapterModel.fromPretrained('minilm', { fetchModel });
      expect(asked).toEqual(['all-MiniLM-L6-v2']); // second time from the cache
      expect(cached.graph.params.size).toBeGreaterThan(0);
      cached.dispose();
    } finally {
      if (saved === undefined) delete process.env['ADAPTERS_CACHE'];
      else process.env['ADAPTERS_CACHE'] = saved;
    }
  });

  test('an AdapterHub head_config with bad label2id is refused naming the field', async () => {
    const model = await AdapterModel.fromPretrained(modelDir, { plugins: [toyAdapter] });
    model.addAdapter('a', 'toy');
    model.addClassificationHead('a', { labels: ['neg', 'pos'] });
    const dir = mkdtempSync(join(tmpdir(), 'adapter-model-bad-'));
    await model.saveAdapter(dir, 'a');
    const file = join(dir, 'head_config.json');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> };
    writeFileSync(file, JSON.stringify({ ...saved, config: { ...saved.config, label2id: { neg: 0, pos: 0 } } }));
    const fresh = await AdapterModel.fromPretrained(modelDir, { plugins: [toyAdapter] });
    await expect(fresh.loadAdapter(dir)).rejects.toThrow(/config\.label2id\.pos: ids must be distinct/);
    model.dispose();
    fresh.dispose();
  });
});

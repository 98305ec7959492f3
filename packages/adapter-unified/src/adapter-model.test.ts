// The union through the model-level API: AdapterModel adds UniPELT as one adapter, trains it (only its parameters
// and its head move), saves it, and a fresh model loads it back with the same predictions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterModel } from '@adapters/core-graph';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { bottleneck } from '@adapters/adapter-bottleneck';
import { lora } from '@adapters/adapter-lora';
import { prefixTuning } from '@adapters/adapter-prefix';
import { plugins } from './index';

const POS = ['good', 'great', 'fun', 'lovely'];
const NEG = ['bad', 'awful', 'boring', 'dull'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POS, ...NEG, 'the', 'movie'];
const data = (n: number) => Array.from({ length: n }, (_v, i) => ({ text: `the movie ${(i % 2 === 0 ? POS : NEG)[i % 4]}`, label: i % 2 === 0 ? 'pos' : 'neg' }));

test('AdapterModel: add, train, save and reload UniPELT as one adapter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unified-model-'));
  writeTinyModelDir(join(dir, 'model'), VOCAB, { numLayers: 2 });
  const all = [bottleneck, lora, prefixTuning, ...plugins];
  const model = await AdapterModel.fromPretrained(join(dir, 'model'), { plugins: all, seed: 2 });
  const fresh = await AdapterModel.fromPretrained(join(dir, 'model'), { plugins: all });
  try {
    model.addAdapter('uni', 'union', { config: 'unipelt' });
    expect(model.adapters).toEqual(['uni']);
    model.addClassificationHead('uni', { labels: ['neg', 'pos'] });
    model.trainAdapter('uni');
    const frozen = [...model.graph.params.values()].filter((p) => p.owner !== 'adapter:uni' && p.owner !== 'head:uni').map((p) => p.key);
    const before = frozen.map((k) => model.store.get(k).dataSync().slice());
    model.fit(data(16), { epochs: 1, batchSize: 4, learningRate: 1e-2, seed: 1 });
    expect(frozen.map((k) => model.store.get(k).dataSync())).toEqual(before);
    await model.saveAdapter(join(dir, 'saved'), 'uni');
    const texts = data(6).map((d) => d.text);
    const predicted = model.predict(texts);
    expect(await fresh.loadAdapter(join(dir, 'saved'))).toBe('uni');
    expect(fresh.predict(texts)).toEqual(predicted);
  } finally {
    model.dispose();
    fresh.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

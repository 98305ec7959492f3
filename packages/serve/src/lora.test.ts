// LoRA adapters (parallel branches at linear sites, kept unmerged: the base weights are shared by every adapter)
// batch across adapters like bottleneck ones: a BatchSplit of LoRA children answers as AdapterModel does for each.
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plugins as loraPlugins } from '@adapters/adapter-lora';
import type { AnyAdapterPlugin } from '@adapters/core-graph';
import { AdapterModel } from '@adapters/core-graph';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { BatchEngine } from './engine';
import { AdapterPool } from './pool';
import { texts, VOCAB } from './__tests__/fixture';

const PLUGINS = loraPlugins as readonly AnyAdapterPlugin[];
const TOL = 1e-5; // other padding and batch composition change float32 summation order only

test('a BatchSplit of LoRA adapters = each adapter alone through AdapterModel; base weights untouched', async () => {
  const root = mkdtempSync(join(tmpdir(), 'serve-lora-'));
  const modelDir = join(root, 'model');
  const dir = join(root, 'adapters');
  mkdirSync(dir);
  writeTinyModelDir(modelDir, VOCAB);
  const names = ['l0', 'l1', 'l2'];
  for (const [i, name] of names.entries()) {
    const m = await AdapterModel.fromPretrained(modelDir, { plugins: PLUGINS, seed: i });
    m.addAdapter(name, 'lora', { r: 4, alpha: 8 });
    m.addClassificationHead(name, { labels: ['a', 'b'] });
    for (const p of m.graph.params.values()) if (p.owner === `adapter:${name}` || p.owner === `head:${name}`) m.store.assign(p.key, tf.tidy(() => tf.randomNormal([...p.shape], 0, 0.5, 'float32', 10 + i)));
    await m.saveAdapter(join(dir, name), name);
    m.dispose();
  }
  const model = await AdapterModel.fromPretrained(modelDir, { plugins: PLUGINS });
  const base = { baseGraph: model.graph, store: model.store, registry: model.registry };
  const baseKeys = [...model.graph.params.keys()];
  const baseBefore = baseKeys.map((k) => model.store.get(k).dataSync().slice());
  const engine = new BatchEngine({ ...base, tokenizer: model.tokenizer, maxLength: 32 });
  const pool = new AdapterPool({ ...base, dir, memoryBudgetBytes: 2 ** 30 });
  const adapters = await Promise.all(names.map((n) => pool.acquire(n)));
  expect(adapters.map((a) => a.mode)).toEqual(['parallel', 'parallel', 'parallel']);
  const inputs = [texts(3, 1), texts(1, 2), texts(4, 3)];
  const together = engine.runBatch(adapters.map((adapter, i) => ({ adapter, texts: inputs[i]! })));
  for (const [i, name] of names.entries()) {
    const ref = await AdapterModel.fromPretrained(modelDir, { plugins: PLUGINS });
    await ref.loadAdapter(join(dir, name));
    const expected = ref.predict(inputs[i]!);
    ref.dispose();
    together[i]!.forEach((p, r) => Object.entries(p.scores).forEach(([k, v]) => expect(Math.abs(v - expected[r]!.scores[k]!)).toBeLessThan(TOL)));
  }
  expect(baseKeys.map((k) => model.store.get(k).dataSync())).toEqual(baseBefore);
  model.dispose();
});

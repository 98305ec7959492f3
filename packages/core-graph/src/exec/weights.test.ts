// WeightStore: seeded, per-key initialisation; syncing after rewrites; shape checks.
import * as tf from '@tensorflow/tfjs';
import { GraphError } from '../errors';
import { buildEncoder } from '../model/encoder';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { toyRegistry } from '../testing/run-helpers';
import { initialValues } from './init';
import { WeightStore } from './weights';

const base = buildEncoder({ vocabSize: 20, hiddenSize: 8, numHeads: 2, numLayers: 1, intermediateSize: 16, maxPositions: 16 });
const adapted = applyPlacements(base, [{ adapter: adapter('toy', 'a'), select: { kinds: ['ffn'] }, mode: 'after' }], toyRegistry()).graph;

describe('WeightStore', () => {
  it('values depend only on (seed, key): adding an adapter does not change base weights', () => {
    const s1 = WeightStore.create(base, 7);
    const s2 = WeightStore.create(adapted, 7);
    const s3 = WeightStore.create(base, 8);
    try {
      const k = 'encoder.layer.0.attention.self.query.weight';
      expect(Array.from(s2.get(k).dataSync())).toEqual(Array.from(s1.get(k).dataSync()));
      expect(Array.from(s3.get(k).dataSync())).not.toEqual(Array.from(s1.get(k).dataSync()));
      expect(Array.from(s1.get(k).dataSync())).toEqual(Array.from(initialValues(base.param(k), 7)));
    } finally {
      [s1, s2, s3].forEach((s) => s.dispose());
    }
  });

  it('sync adds only missing parameters and keeps existing values', () => {
    const store = WeightStore.create(base, 1);
    try {
      const k = 'embeddings.LayerNorm.bias';
      const v = tf.fill([8], 3);
      store.assign(k, v);
      v.dispose();
      const created = store.sync(adapted, 1);
      expect(created.sort()).toEqual([...adapted.params.keys()].filter((key) => !base.params.has(key)).sort());
      expect(Array.from(store.get(k).dataSync())).toEqual(Array(8).fill(3));
      expect(store.sync(adapted, 1)).toEqual([]);
    } finally {
      store.dispose();
    }
  });

  it('init kinds: zeros, ones, identity; zero-init adapters start at exactly 0', () => {
    expect(Array.from(initialValues({ key: 'i', shape: [2, 2], dtype: 'float32', init: { kind: 'identity' }, owner: 'x', kind: 'other' }, 0))).toEqual([1, 0, 0, 1]);
    expect(() => initialValues({ key: 'i', shape: [2, 3], dtype: 'float32', init: { kind: 'identity' }, owner: 'x', kind: 'other' }, 0)).toThrow(/identity needs a square 2-D shape/);
    expect(Array.from(initialValues(adapted.param('embeddings.LayerNorm.weight'), 0))).toEqual(Array(8).fill(1));
  });

  it('shape mismatches are GraphErrors naming the weight', () => {
    const store = WeightStore.create(base, 1);
    try {
      const wrong = tf.zeros([3]);
      expect(() => store.assign('embeddings.LayerNorm.bias', wrong)).toThrow(new GraphError("weight 'embeddings.LayerNorm.bias': expected shape [8], got [3]"));
      wrong.dispose();
      expect(() => store.get('nope')).toThrow(new GraphError("no weight 'nope' in the store"));
      const other = buildEncoder({ vocabSize: 21, hiddenSize: 8, numHeads: 2, numLayers: 1, intermediateSize: 16, maxPositions: 16 });
      expect(() => store.sync(other)).toThrow(/weight 'embeddings\.word_embeddings\.weight': graph declares \[21, 8\], store holds \[20, 8\]/);
    } finally {
      store.dispose();
    }
  });

  it('remove and dispose free the variables and their memory (regression: initial tensors outlived the store)', () => {
    const before = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const store = WeightStore.create(adapted, 1);
    const adapterKeys = [...adapted.params.values()].filter((p) => p.owner === 'adapter:a').map((p) => p.key);
    store.remove(adapterKeys);
    expect(store.has(adapterKeys[0] as string)).toBe(false);
    expect(tf.memory().numTensors).toBe(before + base.params.size);
    store.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(bytes);
  });

  it('overwriting a weight frees its initial values (loading a checkpoint must not double memory)', () => {
    const store = WeightStore.create(base, 1);
    try {
      const bytes = tf.memory().numBytes;
      const k = 'embeddings.word_embeddings.weight';
      const v = tf.ones([20, 8]);
      store.assign(k, v);
      v.dispose();
      expect(tf.memory().numBytes).toBe(bytes);
    } finally {
      store.dispose();
    }
  });
});

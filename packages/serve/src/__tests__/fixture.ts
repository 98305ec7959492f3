// A tiny random BERT folder and adapters saved beside it (AdapterHub layout, with heads), for HTTP-level tests.
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plugins as bottleneckPlugins } from '@adapters/adapter-bottleneck';
import type { AnyAdapterPlugin } from '@adapters/core-graph';
import { AdapterModel } from '@adapters/core-graph';
import { writeTinyModelDir } from '@adapters/core-graph/testing';

export const POSITIVE = ['good', 'great', 'fun', 'lovely'];
export const NEGATIVE = ['bad', 'awful', 'boring', 'dull'];
export const FILLER = ['the', 'movie', 'film', 'was', 'is', 'a', 'very', 'plot'];
export const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POSITIVE, ...NEGATIVE, ...FILLER];
export const PLUGINS: readonly AnyAdapterPlugin[] = bottleneckPlugins as readonly AnyAdapterPlugin[];

export interface Fixture {
  readonly root: string;
  readonly modelDir: string;
  readonly adaptersDir: string;
  readonly names: readonly string[];
}

/** Varied texts of 1-12 words from the vocabulary (and an unknown word now and then). */
export function texts(n: number, offset = 0): string[] {
  const words = [...POSITIVE, ...NEGATIVE, ...FILLER, 'zebra'];
  return Array.from({ length: n }, (_v, i) => {
    const len = 1 + ((i * 7 + offset * 3) % 12);
    return Array.from({ length: len }, (_w, j) => words[(i * 5 + j * 3 + offset) % words.length]).join(' ');
  });
}

/**
 * Writes the model and `count` seq_bn adapters named a0, a1, ... Adapter and head weights are drawn at random
 * (an adapter at init is the identity, and would make every adapter predict alike).
 */
export async function writeFixture(count: number, options: { labels?: readonly string[]; layers?: number; hidden?: number } = {}): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'serve-'));
  const modelDir = join(root, 'model');
  const adaptersDir = join(root, 'adapters');
  mkdirSync(adaptersDir);
  writeTinyModelDir(modelDir, VOCAB, { numLayers: options.layers ?? 2, ...(options.hidden ? { hiddenSize: options.hidden } : {}) });
  const names = Array.from({ length: count }, (_v, i) => `a${i}`);
  // One model per adapter: seq_bn wraps its sites, and a site takes one wrapping adapter at a time.
  for (const [i, name] of names.entries()) {
    const model = await AdapterModel.fromPretrained(modelDir, { plugins: PLUGINS, seed: 11 + i });
    model.addAdapter(name, 'bottleneck', { config: 'seq_bn', reduction_factor: 4 });
    model.addClassificationHead(name, { labels: options.labels ?? (i % 2 === 0 ? ['neg', 'pos'] : ['no', 'maybe', 'yes']) });
    const owned = [...model.graph.params.values()].filter((p) => p.owner === `adapter:${name}` || p.owner === `head:${name}`);
    owned.forEach((p, j) => model.store.assign(p.key, tf.tidy(() => tf.randomNormal([...p.shape], 0, 0.5, 'float32', 100 * i + j))));
    await model.saveAdapter(join(adaptersDir, name), name);
    model.dispose();
  }
  return { root, modelDir, adaptersDir, names };
}

/** Predictions of a saved adapter through AdapterModel (the library path), as the reference. */
export async function referencePredictions(fx: Fixture, name: string, inputs: readonly string[]) {
  const model = await AdapterModel.fromPretrained(fx.modelDir, { plugins: PLUGINS });
  try {
    await model.loadAdapter(join(fx.adaptersDir, name), { as: name });
    return model.predict(inputs);
  } finally {
    model.dispose();
  }
}

export async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown>, headers: r.headers };
}

// The real all-MiniLM-L6-v2 checkpoint, fetched by the CLI's model fetcher, through core-graph's loader: sentence
// embeddings against the sentence-transformers reference recorded in core-graph/assets (moved here with the fetcher).
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Executor, loadPretrained, loadTokenizer } from '@adapters/core-graph';
import { ensureModel } from './model-cache';

const ASSETS_DIR = resolve(__dirname, '..', '..', '..', 'core-graph', 'assets');

describe('all-MiniLM-L6-v2 (real checkpoint)', () => {
  let dir: string | undefined;
  beforeAll(async () => {
    try {
      dir = await ensureModel('all-MiniLM-L6-v2');
    } catch (e) {
      console.log(`skipping the MiniLM checks: the model can't be obtained (${(e as Error).message})`);
    }
  });

  test('sentence embeddings match the recorded sentence-transformers reference', async () => {
    if (!dir) return;
    const ref = JSON.parse(await readFile(join(ASSETS_DIR, 'minilm-reference.json'), 'utf8')) as { sentences: string[]; embeddings: number[][]; last_hidden_state_first_token_first8: number[] };
    const { graph, store } = await loadPretrained(dir);
    const tok = await loadTokenizer(dir);
    const batch = tok.encodeBatch(ref.sentences.map((text) => ({ text })), { padTo: 'longest' });
    const ex = new Executor(graph, store);
    const out = ex.run({ input_ids: batch.inputIds, attention_mask: batch.attentionMask, token_type_ids: batch.tokenTypeIds });
    const hidden = out['last_hidden_state'] as tf.Tensor3D;
    const pooled = tf.tidy(() => {
      const m = tf.expandDims(tf.tensor2d(batch.attentionMask), -1);
      const mean = tf.div(tf.sum(tf.mul(hidden, m), 1), tf.sum(m, 1));
      return tf.div(mean, tf.norm(mean, 2, 1, true)).arraySync() as number[][];
    });
    const first8 = Array.from(hidden.slice([0, 0, 0], [1, 1, 8]).dataSync());
    // Reference values were rounded to 7 digits and computed in float32 by PyTorch: 1e-4 absolute.
    first8.forEach((v, i) => expect(Math.abs(v - (ref.last_hidden_state_first_token_first8[i] as number))).toBeLessThan(1e-4));
    pooled.forEach((row, s) => row.forEach((v, i) => expect(Math.abs(v - (ref.embeddings[s]?.[i] as number))).toBeLessThan(1e-4)));
    const cos = (a: number[], b: number[]) => a.reduce((n, x, i) => n + x * (b[i] as number), 0);
    expect(cos(pooled[0] as number[], pooled[1] as number[])).toBeGreaterThan(cos(pooled[0] as number[], pooled[2] as number[]));
    Object.values(out).forEach((t) => t.dispose());
    store.dispose();
    expect(existsSync(dir)).toBe(true);
  });
});

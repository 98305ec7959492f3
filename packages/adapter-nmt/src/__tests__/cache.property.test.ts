// Cached and uncached decoding compute the same thing: over families, batch sizes, source and target lengths and
// the way the target is split into steps, the logits of every position agree.
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { Executor } from '@adapters/core-graph';
import type { LayerCache } from '../run';
import { decodeStep, disposeEncoderState, encode } from '../run';
import { generate } from '../generate';
import { randomIds, tinyModel } from './helpers';

const FAMILIES = ['marian', 'bart', 'mbart'] as const;
const models = new Map<string, ReturnType<typeof tinyModel>>();
beforeAll(() => FAMILIES.forEach((f) => models.set(f, tinyModel(f))));
afterAll(() => models.forEach((m) => m.store.dispose()));

/** Absolute tolerance on logits of magnitude ≲ 10: float32 sums in a different order (one query row vs all). */
const TOL = 1e-4;

describe('key/value cache', () => {
  it('logits of a target decoded in chunks with the cache equal one uncached pass', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FAMILIES),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        (family, batch, srcLen, chunks, seed) => {
          const { graph, store } = models.get(family) as ReturnType<typeof tinyModel>;
          const exec = new Executor(graph, store);
          const tgtLen = chunks.reduce((a, b) => a + b, 0);
          const src = randomIds(batch, srcLen, 24, seed);
          const tgt = randomIds(batch, tgtLen, 24, seed + 1);
          // Row 0 unpadded; others padded at the end by up to srcLen − 1 positions.
          const mask = src.map((_r, i) => Array.from({ length: srcLen }, (_v, j) => (i === 0 || j < srcLen - (i % srcLen) ? 1 : 0)));
          const before = tf.memory().numTensors;
          const ids = tf.tensor2d(src, [batch, srcLen], 'int32');
          const m = tf.tensor2d(mask, [batch, srcLen], 'float32');
          const state = encode(exec, ids, m);
          const full = tf.tensor2d(tgt, [batch, tgtLen], 'int32');
          const whole = decodeStep(exec, state, full, undefined);
          let cache: LayerCache[] | undefined;
          const parts: tf.Tensor[] = [];
          let at = 0;
          for (const n of chunks) {
            const piece = tf.tensor2d(tgt.map((r) => r.slice(at, at + n)), [batch, n], 'int32');
            const step = decodeStep(exec, state, piece, cache);
            piece.dispose();
            if (cache) tf.dispose(cache.flatMap((c) => [c.key, c.value]));
            cache = step.cache;
            parts.push(step.logits);
            at += n;
          }
          const stepped = tf.concat(parts, 1);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(stepped, whole.logits))).dataSync()[0] as number);
          expect(cache?.[0]?.key.shape).toEqual([batch, tgtLen, 8]);
          tf.dispose([ids, m, full, stepped, whole.logits, ...parts, ...whole.cache.flatMap((c) => [c.key, c.value]), ...(cache ?? []).flatMap((c) => [c.key, c.value])]);
          disposeEncoderState(state);
          expect(tf.memory().numTensors).toBe(before);
          expect(diff).toBeLessThanOrEqual(TOL);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('greedy and beam search give the same ids with and without the cache', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FAMILIES),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        (family, batch, numBeams, maxLength, seed) => {
          const { graph, store } = models.get(family) as ReturnType<typeof tinyModel>;
          const exec = new Executor(graph, store);
          const src = randomIds(batch, 5, 24, seed);
          const mask = src.map((r) => r.map(() => 1));
          const opts = { maxLength, numBeams, lengthPenalty: 1.1 };
          expect(generate(exec, src, mask, { ...opts, useCache: true })).toEqual(generate(exec, src, mask, { ...opts, useCache: false }));
        },
      ),
      { numRuns: 15 },
    );
  });
});

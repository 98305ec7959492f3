// HTTP-level tests: a real server on an ephemeral loopback port, a tiny random BERT, adapters saved to a temp dir.
import * as tf from '@tensorflow/tfjs';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterModel } from '@adapters/core-graph';
import type { Prediction } from './engine';
import type { AdapterServer } from './server';
import { createAdapterServer } from './server';
import type { Fixture } from './__tests__/fixture';
import { PLUGINS, post, referencePredictions, texts, writeFixture } from './__tests__/fixture';

// Probabilities from a batch padded to a different length than the reference's run through other matmul blockings
// (more padded rows and columns change float32 summation order): equal to ~1e-6 here; 1e-5 leaves room.
const TOL = 1e-5;

function expectSame(actual: readonly Prediction[], expected: readonly Prediction[]): void {
  expect(actual.map((p) => p.label)).toEqual(expected.map((p) => p.label));
  actual.forEach((p, i) => {
    const e = expected[i]!;
    expect(Object.keys(p.scores)).toEqual(Object.keys(e.scores));
    for (const k of Object.keys(e.scores)) expect(Math.abs(p.scores[k]! - e.scores[k]!)).toBeLessThan(TOL);
  });
}

describe('adapters server', () => {
  let fx: Fixture;
  let server: AdapterServer;
  let url: string;

  beforeAll(async () => {
    fx = await writeFixture(4);
    server = await createAdapterServer({ model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, maxBatch: 32, maxWaitMs: 30, bodyLimitBytes: 4096, maxTextChars: 200 });
    url = await server.listen({ port: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  test('requests for different adapters arriving together run as one forward pass and answer as AdapterModel.predict does', async () => {
    const batchesBefore = server.metrics.batchAdapters.count();
    const inputs = fx.names.map((_n, i) => texts(3 + i, i));
    const answers = await Promise.all(fx.names.map((adapter, i) => post(`${url}/v1/predict`, { adapter, texts: inputs[i] })));
    for (const [i, name] of fx.names.entries()) {
      expect(answers[i]!.status).toBe(200);
      expectSame(answers[i]!.json['predictions'] as Prediction[], await referencePredictions(fx, name, inputs[i]!));
    }
    // Four adapters, at most two forward passes (the first request may start before the others arrive).
    expect(server.metrics.batchAdapters.count() - batchesBefore).toBeLessThanOrEqual(2);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/adapters_batch_adapters_bucket\{le="2"\} \d+/);
    expect(metrics).toMatch(/adapters_loaded_adapters 4/);
    expect(metrics).toMatch(/adapters_http_request_duration_seconds_count\{route="\/v1\/predict"\} \d+/);
  });

  test('predict-multi: one input through several adapters (Parallel) equals each adapter alone', async () => {
    const inputs = texts(5, 7);
    const r = await post(`${url}/v1/predict-multi`, { adapters: ['a2', 'a0', 'a3'], texts: inputs });
    expect(r.status).toBe(200);
    const results = r.json['results'] as Array<{ adapter: string; predictions: Prediction[] }>;
    expect(results.map((x) => x.adapter)).toEqual(['a2', 'a0', 'a3']);
    for (const x of results) expectSame(x.predictions, await referencePredictions(fx, x.adapter, inputs));
  });

  test('bad requests are 4xx with one clear message', async () => {
    const bad = async (res: Promise<{ status: number; json: Record<string, unknown> }>, status: number, reason: string, message: RegExp) => {
      const r = await res;
      expect({ status: r.status, reason: (r.json['error'] as { reason: string }).reason }).toEqual({ status, reason });
      expect((r.json['error'] as { message: string }).message).toMatch(message);
    };
    await bad(post(`${url}/v1/predict`, '{"adapter": "a0", "texts": ["x"'), 400, 'malformed_json', /not valid JSON/);
    await bad(post(`${url}/v1/predict`, { adapter: 'nope', texts: ['good'] }), 404, 'unknown_adapter', /no adapter 'nope'.*available: a0, a1, a2, a3/);
    await bad(post(`${url}/v1/predict`, { adapter: 'a0', texts: Array.from({ length: 25 }, () => 'x'.repeat(195)) }), 413, 'body_too_large', /larger than the limit of 4096 bytes/);
    await bad(post(`${url}/v1/predict`, { adapter: '../a0', texts: ['good'] }), 400, 'bad_adapter_name', /body\/adapter: not an adapter name.*paths are not accepted/);
    await bad(post(`${url}/v1/predict-multi`, { adapters: ['a0', '/etc/passwd'], texts: ['good'] }), 400, 'bad_adapter_name', /body\/adapters\/1/);
    await bad(post(`${url}/v1/adapters/..%2Fa0/load`, {}), 400, 'bad_adapter_name', /params\/name/);
    await bad(post(`${url}/v1/predict`, { adapter: 'a0', texts: ['x'.repeat(201)] }), 400, 'bad_request', /texts\/0 must NOT have more than 200 characters/);
    await bad(post(`${url}/v1/predict`, { adapter: 'a0', texts: Array.from({ length: 33 }, () => 'a') }), 400, 'bad_request', /texts must NOT have more than 32 items/);
    await bad(post(`${url}/v1/predict`, { texts: ['good'] }), 400, 'bad_request', /must have required property 'adapter'/);
    await bad(post(`${url}/v1/predict-multi`, { adapters: ['a0', 'a0'], texts: ['good'] }), 400, 'bad_request', /duplicate items/);
    await bad(post(`${url}/v1/predict-multi`, { adapters: ['a0'], texts: ['good'], sharedLayers: 5 }), 400, 'bad_request', /sharedLayers must be an integer in \[0, 1\]/);
    const notFound = await fetch(`${url}/v1/nothing`);
    expect(notFound.status).toBe(404);
  });

  test('adapters: list, unload, load by name; the OpenAPI description names every route', async () => {
    await post(`${url}/v1/predict`, { adapter: 'a1', texts: ['good'] });
    const del = await fetch(`${url}/v1/adapters/a1`, { method: 'DELETE' });
    expect(await del.json()).toEqual({ unloaded: 'a1' });
    let list = (await (await fetch(`${url}/v1/adapters`)).json()) as { loaded: Array<{ name: string }>; available: string[] };
    expect(list.loaded.map((a) => a.name)).not.toContain('a1');
    expect(list.available).toEqual(['a0', 'a1', 'a2', 'a3']);
    const again = await fetch(`${url}/v1/adapters/a1`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    const load = await post(`${url}/v1/adapters/a1/load`, {});
    expect((load.json['loaded'] as { name: string; labels: string[] }).labels).toEqual(['no', 'maybe', 'yes']);
    list = (await (await fetch(`${url}/v1/adapters`)).json()) as typeof list;
    expect(list.loaded[0]!.name).toBe('a1');
    const inputs = texts(4, 2);
    expectSame((await post(`${url}/v1/predict`, { adapter: 'a1', texts: inputs })).json['predictions'] as Prediction[], await referencePredictions(fx, 'a1', inputs));
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/healthz', '/metrics', '/openapi.json', '/readyz', '/v1/adapters', '/v1/adapters/{name}', '/v1/adapters/{name}/load', '/v1/predict', '/v1/predict-multi']);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  test('no tensor growth over two thousand requests (single and multi, four adapters)', async () => {
    const inputs = texts(8, 3);
    const wave = (w: number) => Array.from({ length: 100 }, (_v, i) =>
      i % 20 === 19 ? post(`${url}/v1/predict-multi`, { adapters: ['a0', 'a1'], texts: [inputs[w % 8]!] }) : post(`${url}/v1/predict`, { adapter: fx.names[(w + i) % 4], texts: [inputs[(w + i) % 8]!] }));
    for (const r of await Promise.all(wave(0))) expect(r.status).toBe(200); // warm-up: graphs, kernels
    const before = tf.memory();
    let ok = 0;
    for (let w = 1; w <= 20; w++) for (const r of await Promise.all(wave(w))) ok += r.status === 200 ? 1 : 0;
    expect(ok).toBe(2000);
    const after = tf.memory();
    expect({ tensors: after.numTensors, bytes: after.numBytes }).toEqual({ tensors: before.numTensors, bytes: before.numBytes });
  });
});

describe('limits', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await writeFixture(3, { labels: ['neg', 'pos'] });
  });

  test('a full queue answers 503 with Retry-After; the accepted requests are served', async () => {
    const server = await createAdapterServer({ model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, maxBatch: 64, maxWaitMs: 300, queueLimit: 2, preload: ['a0'], retryAfterSeconds: 2 });
    const url = await server.listen({ port: 0 });
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => post(`${url}/v1/predict`, { adapter: 'a0', texts: ['good film'] })));
      const codes = answers.map((a) => a.status).sort();
      expect(codes).toEqual([200, 200, 503, 503, 503, 503]);
      const refused = answers.find((a) => a.status === 503)!;
      expect(refused.headers.get('retry-after')).toBe('2');
      expect((refused.json['error'] as { reason: string; message: string })).toEqual({ reason: 'overloaded', message: 'the queue is full (2 requests waiting); retry later' });
    } finally {
      await server.close();
    }
  });

  test('a request queued longer than the timeout is answered 504', async () => {
    const server = await createAdapterServer({ model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, maxBatch: 64, maxWaitMs: 2000, timeoutMs: 50, preload: ['a0'] });
    const url = await server.listen({ port: 0 });
    try {
      const r = await post(`${url}/v1/predict`, { adapter: 'a0', texts: ['good'] });
      expect(r.status).toBe(504);
      expect((r.json['error'] as { message: string }).message).toMatch(/waited 50 ms in the queue/);
    } finally {
      await server.close();
    }
  });

  test('the memory budget keeps the most recently used adapters; evicted ones reload on demand', async () => {
    const probe = await createAdapterServer({ model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, preload: ['a0'] });
    const bytes = probe.pool.usedBytes;
    await probe.close();
    expect(bytes).toBeGreaterThan(0);
    const server = await createAdapterServer({ model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, memoryBudgetBytes: 2 * bytes });
    const url = await server.listen({ port: 0 });
    try {
      const tensorsAtStart = tf.memory().numTensors;
      for (const name of ['a0', 'a1', 'a0', 'a2']) expect((await post(`${url}/v1/predict`, { adapter: name, texts: ['good'] })).status).toBe(200);
      expect(server.pool.loaded().map((a) => a.name)).toEqual(['a2', 'a0']); // a1 was least recently used
      expect(server.metrics.loads.get({ event: 'eviction' })).toBe(1);
      // Two adapters' weights held, whatever came and went.
      const perAdapter = server.pool.loaded()[0]!.keys.length;
      expect(tf.memory().numTensors - tensorsAtStart).toBe(2 * perAdapter);
      const inputs = texts(3, 1);
      expectSame((await post(`${url}/v1/predict`, { adapter: 'a1', texts: inputs })).json['predictions'] as Prediction[], await referencePredictions(fx, 'a1', inputs));
      const tight = await createAdapterServer({ model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, memoryBudgetBytes: bytes - 1 });
      try {
        await expect(tight.pool.acquire('a0')).rejects.toThrow(/does not fit the memory budget/);
        expect(tight.pool.loaded()).toEqual([]);
      } finally {
        await tight.close();
      }
    } finally {
      await server.close();
    }
  });

  test('refusals: unloading a pinned adapter (409), a second adapter with the same head name (409), an adapter without a head (422)', async () => {
    cpSync(join(fx.adaptersDir, 'a0'), join(fx.adaptersDir, 'copy0'), { recursive: true });
    const model = await AdapterModel.fromPretrained(fx.modelDir, { plugins: PLUGINS });
    model.addAdapter('headless', 'bottleneck', { config: 'seq_bn' });
    await model.saveAdapter(join(fx.adaptersDir, 'headless'), 'headless', { withHead: false });
    model.dispose();
    const server = await createAdapterServer({ model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, preload: ['a0'] });
    const url = await server.listen({ port: 0 });
    try {
      const a0 = server.pool.find('a0')!;
      server.pool.pin([a0]);
      const busy = await fetch(`${url}/v1/adapters/a0`, { method: 'DELETE' });
      expect(busy.status).toBe(409);
      expect(((await busy.json()) as { error: { message: string } }).error.message).toMatch(/in use by 1 queued or running request/);
      server.pool.unpin([a0]);
      const conflict = await post(`${url}/v1/adapters/copy0/load`, {});
      expect(conflict.status).toBe(409);
      expect((conflict.json['error'] as { message: string }).message).toMatch(/head 'a0', which adapter 'a0' already uses/);
      const before = tf.memory().numTensors;
      const headless = await post(`${url}/v1/predict`, { adapter: 'headless', texts: ['good'] });
      expect(headless.status).toBe(422);
      expect((headless.json['error'] as { message: string }).message).toMatch(/adapter 'headless': has no prediction head/);
      expect(tf.memory().numTensors).toBe(before); // its weights left the store again
      expect((await fetch(`${url}/v1/adapters/a0`, { method: 'DELETE' })).status).toBe(200);
    } finally {
      await server.close();
      rmSync(join(fx.adaptersDir, 'copy0'), { recursive: true });
      rmSync(join(fx.adaptersDir, 'headless'), { recursive: true });
    }
  });

  test('graceful shutdown answers every request already accepted, then refuses', async () => {
    const server = await createAdapterServer({ model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, maxBatch: 128, maxWaitMs: 1000, preload: ['a0', 'a1', 'a2'] });
    const url = await server.listen({ port: 0 });
    const inFlight = Array.from({ length: 30 }, (_v, i) => post(`${url}/v1/predict`, { adapter: `a${i % 3}`, texts: texts(1 + (i % 4), i) }));
    // Close once all are queued (each waits up to a second for company): shutdown must serve them, not drop them.
    for (let i = 0; i < 500 && (await queued(url)) < 30; i++) await new Promise((r) => setTimeout(r, 2));
    expect(await queued(url)).toBe(30);
    const closing = server.close();
    const answers = await Promise.all(inFlight);
    await closing;
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 30 }, () => 200));
    answers.forEach((a, i) => expect((a.json['predictions'] as unknown[]).length).toBe(1 + (i % 4)));
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

/** Queue depth from /metrics. */
async function queued(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/adapters_queue_depth (\d+)/.exec(text)?.[1] ?? 0);
}

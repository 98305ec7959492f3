// Worker-thread mode: forward passes run in a worker, so the HTTP event loop answers while a long batch runs, and
// the answers equal the in-process server's.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AdapterServer } from './server';
import { createAdapterServer } from './server';
import type { Fixture } from './__tests__/fixture';
import { PLUGINS, post, texts, writeFixture } from './__tests__/fixture';

// Both modes run the same code on the same backend; batch composition (padding) may differ: 1e-5 as elsewhere.
const TOL = 1e-5;

describe('createAdapterServer({ workers: 1 })', () => {
  let fx: Fixture;
  let inProcess: AdapterServer;
  let threaded: AdapterServer;
  let urls: [string, string];

  beforeAll(async () => {
    // Wide enough (hidden 256, 4 layers, 32 tokens) that a pass of 32 texts takes a while.
    fx = await writeFixture(3, { layers: 4, hidden: 128, labels: ['neg', 'pos'] });
    const common = { model: fx.modelDir, adaptersDir: fx.adaptersDir, plugins: PLUGINS, maxLength: 32, queueLimit: 1000 };
    inProcess = await createAdapterServer(common);
    threaded = await createAdapterServer({ ...common, workers: 1, pluginModules: ['@adapters/adapter-bottleneck'], preload: ['a0'] });
    urls = [await inProcess.listen({ port: 0 }), await threaded.listen({ port: 0 })];
  }, 120_000);
  afterAll(async () => {
    await Promise.all([inProcess?.close(), threaded?.close()]);
  });

  test('predictions (batched across adapters, and predict-multi) equal the in-process server', async () => {
    const requests = fx.names.flatMap((adapter, i) => [0, 1].map((k) => ({ adapter, texts: texts(1 + k * 2, i * 3 + k) })));
    const answers = await Promise.all(urls.map((url) => Promise.all(requests.map((r) => post(`${url}/v1/predict`, r)))));
    answers[1]!.forEach((got, i) => {
      expect(got.status).toBe(200);
      const want = answers[0]![i]!.json['predictions'] as Array<{ label: string; scores: Record<string, number> }>;
      (got.json['predictions'] as typeof want).forEach((p, r) => {
        expect(p.label).toBe(want[r]!.label);
        for (const k of Object.keys(p.scores)) expect(Math.abs(p.scores[k]! - want[r]!.scores[k]!)).toBeLessThan(TOL);
      });
    });
    const multi = { adapters: ['a2', 'a0'], texts: texts(3, 1), sharedLayers: 1 };
    const [m0, m1] = await Promise.all(urls.map((url) => post(`${url}/v1/predict-multi`, multi)));
    expect(m1!.status).toBe(200);
    expect(JSON.stringify(m1!.json).length).toBeGreaterThan(100);
    const flat = (j: Record<string, unknown>) => (j['results'] as Array<{ predictions: Array<{ scores: Record<string, number> }> }>).flatMap((r) => r.predictions.flatMap((p) => Object.values(p.scores)));
    flat(m1!.json).forEach((v, i) => expect(Math.abs(v - flat(m0!.json)[i]!)).toBeLessThan(TOL));
    // Metrics are kept on the main thread: passes counted, no tensor gauges (the tensors live in the worker).
    const metrics = await (await fetch(`${urls[1]}/metrics`)).text();
    expect(Number(/^adapters_batch_rows_count (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^adapters_worker_threads 1$/m);
    expect(metrics).not.toMatch(/adapters_tf_tensors/);
    // Errors raised in the worker come back as the same HTTP errors.
    const bad = await post(`${urls[1]}/v1/predict-multi`, { ...multi, sharedLayers: 9 });
    expect(bad.status).toBe(400);
    expect(bad.json['error']).toMatchObject({ reason: 'bad_request', message: expect.stringMatching(/sharedLayers must be an integer in \[0, 3\]/) });
  }, 120_000);

  test('the event loop stays responsive while long batches run (and does not on the main thread)', async () => {
    // 32 texts of 32 tokens per request: every pass is as long as the model allows.
    const long = Array.from({ length: 32 }, (_v, i) => texts(40, i).join(' '));
    const busy = async (url: string) => {
      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      const started = performance.now();
      const work = Promise.all(fx.names.flatMap((adapter) => [0].map(() => post(`${url}/v1/predict`, { adapter, texts: long }))));
      let done = false;
      void work.then(() => (done = true));
      const pings: number[] = [];
      while (!done) {
        const t0 = performance.now();
        const r = await fetch(`${url}/healthz`);
        await r.text();
        pings.push(performance.now() - t0);
        await new Promise((r2) => setTimeout(r2, 10));
      }
      const results = await work;
      delay.disable();
      expect(results.every((r) => r.status === 200)).toBe(true);
      return { workMs: performance.now() - started, worstPing: Math.max(...pings), worstLoopDelay: delay.max / 1e6 };
    };
    const threadedRun = await busy(urls[1]);
    const mainRun = await busy(urls[0]);
    // On the main thread a /healthz waits for the pass in progress; with a worker it waits for nothing.
    expect(threadedRun.worstPing).toBeLessThan(Math.max(100, threadedRun.workMs / 5));
    expect(mainRun.worstPing).toBeGreaterThan(2 * threadedRun.worstPing);
    expect(mainRun.worstLoopDelay).toBeGreaterThan(2 * threadedRun.worstLoopDelay);
  }, 180_000);
});

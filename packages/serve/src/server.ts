// `createAdapterServer`: one frozen base model and the adapters of one directory behind a Fastify HTTP API.
import * as tf from '@tensorflow/tfjs';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { AnyAdapterPlugin, HeadRegistry } from '@adapters/core-graph';
import { AdapterGraphError } from '@adapters/core-graph';
import type { PassRunner } from './batcher';
import { Batcher } from './batcher';
import { checkAdapterName, ServeError } from './errors';
import { ServerMetrics, gauge } from './metrics';
import type { RouteDoc } from './openapi';
import { openApiDocument } from './openapi';
import type { LoadedAdapter } from './pool';
import type { ModelHost } from './model-host';
import { openModelHost } from './model-host';
import type { AdapterHost } from './pool';
import { AdapterPool } from './pool';
import { WorkerPool } from './worker-pool';
import { adapterListSchema, loadSchema, predictMultiSchema, predictSchema, unloadSchema } from './schemas';

export interface AdapterServerOptions {
  /** A Hugging Face BERT/RoBERTa folder or a known model name (e.g. all-MiniLM-L6-v2). */
  readonly model: string;
  /** The folder whose sub-folders (AdapterHub layout, with a classification head) are the adapters served, by folder name. */
  readonly adaptersDir: string;
  /** Adapter plugins that can read the saved adapters (e.g. `plugins` of @adapters/adapter-bottleneck). */
  readonly plugins: readonly AnyAdapterPlugin[];
  /** Plugin heads beyond core's (in-process mode only: worker threads use core's heads). */
  readonly heads?: HeadRegistry;
  /**
   * Worker threads running the forward passes (default 0: on the main thread, between I/O turns). Each holds its own
   * copy of the model and of the loaded adapters; up to `workers` passes run at once.
   */
  readonly workers?: number;
  /** With `workers`: the modules (names or paths) whose `plugins` export each worker registers, e.g. '@adapters/adapter-bottleneck'. */
  readonly pluginModules?: readonly string[];
  /** Most texts in one forward pass, and per request (default 32). */
  readonly maxBatch?: number;
  /** How long a request waits for others to share its forward pass (default 5 ms). */
  readonly maxWaitMs?: number;
  /** Most requests waiting; beyond it, 503 with Retry-After (default 256). */
  readonly queueLimit?: number;
  /** A request queued longer than this is answered 504 (default 30 s). */
  readonly timeoutMs?: number;
  /** Largest request body (default 1 MiB): 413 beyond. */
  readonly bodyLimitBytes?: number;
  /** Longest text in characters (default 2,000). */
  readonly maxTextChars?: number;
  /** Tokens per text (default: the model's limit, at most 128). */
  readonly maxLength?: number;
  /** Most adapters in one predict-multi request (default 16). */
  readonly maxAdaptersPerRequest?: number;
  /** Bytes of adapter and head weights kept loaded; least recently used adapters are unloaded beyond it (default 256 MiB). */
  readonly memoryBudgetBytes?: number;
  /** false: one request = one forward pass (the load test's naive baseline). */
  readonly batching?: boolean;
  /** Adapters loaded before the server reports ready. */
  readonly preload?: readonly string[];
  /**
   * Before reporting ready, run one pass for every group count a batch of the preloaded adapters can have (1 ..
   * maxBatch adapters), so their batch graphs are built and lowered before traffic arrives (default true).
   */
  readonly warmup?: boolean;
  /** Seconds a 503 asks clients to wait (Retry-After; default 1). */
  readonly retryAfterSeconds?: number;
  readonly seed?: number;
}

export interface AdapterServer {
  readonly app: FastifyInstance;
  readonly pool: AdapterPool;
  readonly metrics: ServerMetrics;
  /** Starts listening; returns the base URL (port 0 = an ephemeral port). */
  listen(options?: { readonly port?: number; readonly host?: string }): Promise<string>;
  /** Graceful shutdown: refuses new requests (503), answers every accepted one, then frees the model. */
  close(): Promise<void>;
}

const VERSION = '0.1.0';

export async function createAdapterServer(options: AdapterServerOptions): Promise<AdapterServer> {
  const limits = {
    maxBatch: positive(options.maxBatch ?? 32, 'maxBatch'),
    maxTextChars: positive(options.maxTextChars ?? 2000, 'maxTextChars'),
    maxAdaptersPerRequest: positive(options.maxAdaptersPerRequest ?? 16, 'maxAdaptersPerRequest'),
  };
  const metrics = new ServerMetrics();
  const workers = options.workers ?? 0;
  if (!Number.isInteger(workers) || workers < 0) throw new ServeError('bad_request', `workers must be an integer ≥ 0, got ${workers}`);
  let local: ModelHost | undefined;
  let remote: WorkerPool | undefined;
  if (workers > 0) {
    if (!options.pluginModules?.length) throw new ServeError('bad_request', 'workers needs pluginModules: the plugin packages each worker thread loads (e.g. @adapters/adapter-bottleneck)');
    if (options.heads) throw new ServeError('bad_request', 'heads (plugin head types) are not available in worker threads; run without workers');
    remote = await WorkerPool.start({ workers, model: options.model, pluginModules: options.pluginModules, ...(options.seed !== undefined ? { seed: options.seed } : {}), ...(options.maxLength !== undefined ? { maxLength: options.maxLength } : {}) });
  } else {
    local = await openModelHost({ ...options, onGraph: (hit) => metrics.graphCache.inc({ result: hit ? 'hit' : 'miss' }) });
  }
  const engine: PassRunner = remote ?? local!.engine;
  const host: AdapterHost = remote ?? local!.adapters;
  const pool = new AdapterPool({
    host,
    dir: options.adaptersDir,
    memoryBudgetBytes: options.memoryBudgetBytes ?? 256 * 2 ** 20,
    onUnload: (_a, why) => metrics.loads.inc({ event: why }),
  });
  const batcher = new Batcher(engine, {
    maxBatch: limits.maxBatch,
    maxWaitMs: nonNegative(options.maxWaitMs ?? 5, 'maxWaitMs'),
    queueLimit: positive(options.queueLimit ?? 256, 'queueLimit'),
    timeoutMs: positive(options.timeoutMs ?? 30_000, 'timeoutMs'),
    batching: options.batching ?? true,
    concurrency: Math.max(1, workers),
    onBatch: (rows, adapters) => {
      metrics.batchRows.observe(rows);
      metrics.batchAdapters.observe(adapters);
    },
  });
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  let closing = false;
  let ready = false;

  const app = Fastify({ bodyLimit: positive(options.bodyLimitBytes ?? 2 ** 20, 'bodyLimitBytes'), logger: false, return503OnClosing: true, forceCloseConnections: 'idle' });
  const routes: RouteDoc[] = [];
  const route = (doc: RouteDoc) => routes.push(doc);

  app.setErrorHandler((error: FastifyError, _request, reply) => sendError(reply, error, retryAfter, options.bodyLimitBytes ?? 2 ** 20, metrics));
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: { reason: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]} (see /openapi.json)` } }));
  // While shutting down, answers close their connection, so no idle keep-alive socket holds the close open.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const url = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route: url, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe(reply.elapsedTime / 1000, { route: url });
  });

  /** Acquires (loading if needed) and pins adapters for one request; unpins whatever happens. */
  const withAdapters = async <T>(names: readonly string[], run: (adapters: LoadedAdapter[]) => Promise<T>): Promise<T> => {
    if (closing) throw new ServeError('shutting_down', 'the server is shutting down');
    const adapters: LoadedAdapter[] = [];
    try {
      for (const n of names) {
        const a = await pool.acquire(checkAdapterName(n));
        pool.pin([a]);
        adapters.push(a);
      }
      return await run(adapters);
    } finally {
      pool.unpin(adapters);
    }
  };

  const predict = predictSchema(limits);
  route({ method: 'POST', url: '/v1/predict', schema: predict });
  app.post<{ Body: { adapter: string; texts: string[] } }>('/v1/predict', { schema: predict }, async (request) => {
    const { adapter, texts } = request.body;
    const predictions = await withAdapters([adapter], ([a]) => batcher.predict(a!, texts));
    return { adapter, predictions };
  });

  const multi = predictMultiSchema(limits);
  route({ method: 'POST', url: '/v1/predict-multi', schema: multi });
  app.post<{ Body: { adapters: string[]; texts: string[]; sharedLayers?: number } }>('/v1/predict-multi', { schema: multi }, async (request) => {
    const { adapters, texts, sharedLayers } = request.body;
    const results = await withAdapters(adapters, (loaded) => batcher.predictMulti(loaded, texts, sharedLayers ?? 0));
    return { results: adapters.map((adapter, i) => ({ adapter, predictions: results[i]! })) };
  });

  const describe = (a: LoadedAdapter) => ({ name: a.name, plugin: a.plugin, mode: a.mode, sites: a.sites.length, labels: [...a.labels], bytes: a.bytes });
  route({ method: 'GET', url: '/v1/adapters', schema: adapterListSchema });
  app.get('/v1/adapters', { schema: adapterListSchema }, async () => ({ loaded: pool.loaded().map(describe), available: await pool.available(), usedBytes: pool.usedBytes, budgetBytes: pool.budgetBytes }));
  route({ method: 'POST', url: '/v1/adapters/:name/load', schema: loadSchema });
  app.post<{ Params: { name: string } }>('/v1/adapters/:name/load', { schema: loadSchema }, async (request) => {
    if (closing) throw new ServeError('shutting_down', 'the server is shutting down');
    const a = await pool.acquire(checkAdapterName(request.params.name));
    metrics.loads.inc({ event: 'load' });
    return { loaded: describe(a) };
  });
  route({ method: 'DELETE', url: '/v1/adapters/:name', schema: unloadSchema });
  app.delete<{ Params: { name: string } }>('/v1/adapters/:name', { schema: unloadSchema }, async (request) => ({ unloaded: pool.unload(request.params.name).name }));

  route({ method: 'GET', url: '/healthz', schema: { summary: 'liveness: the process answers' } });
  app.get('/healthz', async () => ({ status: 'ok' }));
  route({ method: 'GET', url: '/readyz', schema: { summary: 'readiness: model and preloaded adapters loaded, not shutting down (503 otherwise)' } });
  app.get('/readyz', async (_request, reply) => (ready && !closing ? { status: 'ready' } : reply.code(503).header('retry-after', retryAfter).send({ status: closing ? 'shutting down' : 'starting' })));
  route({ method: 'GET', url: '/metrics', schema: { summary: 'Prometheus metrics (text format 0.0.4)' }, produces: 'text/plain' });
  app.get('/metrics', async (_request, reply) => {
    // Worker mode: the tensors live in the workers; this thread has no backend to ask.
    const mem = local ? tf.memory() : undefined;
    const proc = process.memoryUsage();
    const lines = [
      ...metrics.requests.render(), ...metrics.latency.render(), ...metrics.batchRows.render(), ...metrics.batchAdapters.render(),
      ...metrics.graphCache.render(), ...metrics.rejected.render(), ...metrics.loads.render(),
      ...gauge('adapters_queue_depth', 'requests waiting for a forward pass', batcher.depth),
      ...gauge('adapters_loaded_adapters', 'adapters loaded', pool.loaded().length),
      ...gauge('adapters_loaded_adapter_bytes', 'bytes of loaded adapter and head weights', pool.usedBytes),
      ...gauge('adapters_memory_budget_bytes', 'memory budget for adapter weights', pool.budgetBytes),
      ...gauge('adapters_worker_threads', 'worker threads running forward passes (0: the main thread)', workers),
      ...(mem ? [...gauge('adapters_tf_tensors', 'live TensorFlow.js tensors', mem.numTensors), ...gauge('adapters_tf_bytes', 'bytes held by TensorFlow.js tensors', mem.numBytes)] : []),
      ...gauge('process_resident_memory_bytes', 'resident set size', proc.rss),
      ...gauge('nodejs_heap_used_bytes', 'V8 heap in use', proc.heapUsed),
    ];
    return reply.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
  });
  const openapi = openApiDocument([...routes, { method: 'GET', url: '/openapi.json', schema: { summary: 'this description' } }], VERSION);
  app.get('/openapi.json', async () => openapi);

  try {
    const preloaded: LoadedAdapter[] = [];
    for (const name of options.preload ?? []) preloaded.push(await pool.acquire(checkAdapterName(name)));
    if (options.warmup !== false) await warmUp(engine, preloaded, limits.maxBatch);
    await app.ready();
  } catch (e) {
    pool.clear();
    local?.model.dispose();
    await remote?.close();
    throw e;
  }
  ready = true;

  let closed: Promise<void> | undefined;
  return {
    app,
    pool,
    metrics,
    async listen(listenOptions = {}) {
      return app.listen({ port: listenOptions.port ?? 8080, host: listenOptions.host ?? '127.0.0.1' });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        // Fastify stops accepting and waits for in-flight requests, which the batcher keeps serving.
        const stopped = app.close();
        await batcher.drain();
        app.server.closeIdleConnections();
        await stopped;
        pool.clear();
        local?.model.dispose();
        await remote?.close();
      })();
      return closed;
    },
  };
}

/** One pass per group count k (the first k adapters of each placement, one short text each): builds the batch graphs. */
async function warmUp(engine: PassRunner, adapters: readonly LoadedAdapter[], maxBatch: number): Promise<void> {
  const byPlacement = new Map<string, LoadedAdapter[]>();
  for (const a of adapters) byPlacement.set(a.placementKey, [...(byPlacement.get(a.placementKey) ?? []), a]);
  for (const group of byPlacement.values()) {
    for (let k = 1; k <= Math.min(maxBatch, group.length); k++) await engine.runBatch(group.slice(0, k).map((adapter) => ({ adapter, texts: ['warm up'] })));
  }
}

function sendError(reply: FastifyReply, error: FastifyError, retryAfter: string, bodyLimit: number, metrics: ServerMetrics): FastifyReply {
  const send = (status: number, reason: string, message: string) => {
    metrics.rejected.inc({ reason });
    if (status === 503) void reply.header('retry-after', retryAfter);
    return reply.code(status).send({ error: { reason, message } });
  };
  if (error instanceof ServeError) return send(error.status, error.reason, error.message);
  if (error.validation) {
    const pattern = error.validation.find((v) => v.keyword === 'pattern');
    if (pattern) return send(400, 'bad_adapter_name', `${error.validationContext ?? 'body'}${pattern.instancePath}: not an adapter name (1-64 letters, digits, _ or -; paths are not accepted)`);
    return send(400, 'bad_request', error.message);
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(413, 'body_too_large', `the request body is larger than the limit of ${bodyLimit} bytes`);
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return send(415, 'unsupported_media_type', 'send the body as application/json');
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return send(400, 'bad_request', 'the JSON body is empty');
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return send(400, 'malformed_json', `the body is not valid JSON: ${error.message}`);
  if (error instanceof AdapterGraphError) return send(400, 'bad_request', error.message);
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return send(status, 'bad_request', error.message);
  return send(500, 'internal', `internal error: ${error.message}`);
}

function positive(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 1) throw new ServeError('bad_request', `${field} must be a positive integer, got ${n}`);
  return n;
}

function nonNegative(n: number, field: string): number {
  if (!Number.isFinite(n) || n < 0) throw new ServeError('bad_request', `${field} must be a number ≥ 0, got ${n}`);
  return n;
}

// The server side of serve-load.ts, in its own process (so the load generator does not share its event loop):
// `node -r ../scripts/register-source.js src/serve-child.ts '{"model":…,"adaptersDir":…,"batching":true}'`.
// Prints `listening URL` once ready; SIGTERM shuts it down gracefully.
import { plugins } from '@adapters/adapter-bottleneck';
import { describeBackend } from '@adapters/core-graph';
import { createAdapterServer } from '@adapters/serve';

interface ChildConfig {
  readonly model: string;
  readonly adaptersDir: string;
  readonly batching: boolean;
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly preload: readonly string[];
  /** Worker threads for the forward passes (0: the main thread). */
  readonly workers?: number;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  const server = await createAdapterServer({
    model: cfg.model, adaptersDir: cfg.adaptersDir, plugins, batching: cfg.batching, maxBatch: cfg.maxBatch, maxWaitMs: cfg.maxWaitMs,
    preload: cfg.preload, queueLimit: 4096, maxAdaptersPerRequest: 64,
    ...(cfg.workers ? { workers: cfg.workers, pluginModules: ['@adapters/adapter-bottleneck'] } : {}),
  });
  const url = await server.listen({ port: 0 });
  process.stdout.write(`listening ${url} ${describeBackend()}\n`);
  process.once('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`);
  process.exit(1);
});

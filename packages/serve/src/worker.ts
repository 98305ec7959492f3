// A worker thread of `createAdapterServer({ workers })`: holds its own copy of the model and of every loaded
// adapter, and runs the forward passes the main thread posts, so inference never blocks the HTTP event loop.
// Messages: see worker-pool.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type { AnyAdapterPlugin } from '@adapters/core-graph';
import { backendReady, selectBackend } from '@adapters/core-graph';
import { ServeError } from './errors';
import { openModelHost } from './model-host';
import type { LoadedAdapter } from './pool';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker-protocol';

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  if (!backendReady()) await selectBackend();
  // Plugins are code: each worker loads the plugin packages by module name.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const plugins = init.pluginModules.flatMap((m) => ((require(m) as { plugins?: readonly AnyAdapterPlugin[] }).plugins ?? []));
  const host = await openModelHost({ model: init.model, plugins, seed: init.seed, ...(init.maxLength !== undefined ? { maxLength: init.maxLength } : {}) });
  const loaded = new Map<string, LoadedAdapter>();
  const find = (name: string): LoadedAdapter => {
    const a = loaded.get(name);
    if (!a) throw new ServeError('worker_failed', `worker: adapter '${name}' is not loaded here`);
    return a;
  };
  const reply = (m: WorkerReply) => port.postMessage(m);
  port.on('message', (msg: WorkerRequest) => {
    void (async () => {
      try {
        switch (msg.type) {
          case 'load': {
            const a = { ...(await host.adapters.load(msg.name, msg.dir)), generation: 0 };
            loaded.set(msg.name, a);
            return reply({ id: msg.id, ok: true, value: a });
          }
          case 'remove': {
            const a = loaded.get(msg.name);
            if (a) host.adapters.remove(a);
            loaded.delete(msg.name);
            return reply({ id: msg.id, ok: true, value: null });
          }
          case 'batch':
            return reply({ id: msg.id, ok: true, value: host.engine.runBatch(msg.groups.map((g) => ({ adapter: find(g.name), texts: g.texts }))) });
          case 'multi':
            return reply({ id: msg.id, ok: true, value: host.engine.runMultiSets(msg.names.map(find), msg.sets, msg.sharedLayers) });
          case 'close':
            host.model.dispose();
            reply({ id: msg.id, ok: true, value: null });
            return port.close();
        }
      } catch (e) {
        const err = e as { reason?: unknown; message?: string };
        reply({ id: msg.id, ok: false, error: { reason: err.reason, message: String(err.message ?? e) } });
      }
    })();
  });
  reply({ id: 0, ok: true, value: { maxLength: host.maxLength } });
}

main().catch((e: unknown) => {
  const err = e as { reason?: unknown; message?: string };
  parentPort!.postMessage({ id: 0, ok: false, error: { reason: err.reason, message: String(err.message ?? e) } } satisfies WorkerReply);
});

// `adapters serve`: the HTTP server as a subcommand of the `adapters` CLI (exported as `commands`, found by plugin
// discovery like adapter-fusion's). Runs until SIGINT / SIGTERM, then shuts down gracefully.
import type { CliCommand, CliContext, CommandSpec, ParsedArgs } from '@adapters/cli';
import { backendBanner, discoverPlugins, option, resolveModel, UsageError } from '@adapters/cli';
import * as path from 'node:path';
import { createAdapterServer } from './server';

export const SERVE_SPEC: CommandSpec = {
  name: 'serve',
  brief: 'HTTP service: one frozen model, the adapters of a directory, batched across adapters',
  summary:
    'Serves the adapters saved under --adapters (one sub-folder per adapter, AdapterHub layout with a classification head; requests name them by folder name) ' +
    'on one frozen base model. POST /v1/predict {adapter, texts}, POST /v1/predict-multi {adapters, texts}, GET /v1/adapters, POST /v1/adapters/NAME/load, ' +
    'DELETE /v1/adapters/NAME, /healthz, /readyz, /metrics (Prometheus), /openapi.json. Requests for different adapters arriving together run as one ' +
    'forward pass (BatchSplit). Stops on SIGINT / SIGTERM after answering the requests it accepted.',
  usage: '--model DIR|NAME --adapters DIR [--port 8080] [options]',
  options: [
    option('model', { help: 'base model directory or a known name: all-MiniLM-L6-v2 (alias minilm)' }),
    { name: 'adapters', type: 'string', metavar: 'DIR', help: 'directory of saved adapters (one sub-folder each)' },
    { name: 'port', type: 'int', min: 0, max: 65535, metavar: 'N', help: 'TCP port (0: any free port)', defaultText: '8080' },
    { name: 'host', type: 'string', metavar: 'ADDR', help: 'address to listen on', defaultText: '127.0.0.1' },
    { name: 'max-batch', type: 'int', min: 1, metavar: 'N', help: 'most texts per forward pass and per request', defaultText: '32' },
    { name: 'max-wait-ms', type: 'number', min: 0, metavar: 'MS', help: 'how long a request waits for others to share its forward pass', defaultText: '5' },
    { name: 'queue-limit', type: 'int', min: 1, metavar: 'N', help: 'most queued requests; beyond it 503 with Retry-After', defaultText: '256' },
    { name: 'timeout-ms', type: 'int', min: 1, metavar: 'MS', help: 'a request queued longer is answered 504', defaultText: '30000' },
    { name: 'memory-budget-mb', type: 'number', min: 0, metavar: 'MB', help: 'adapter + head weights kept loaded (least recently used unloaded beyond)', defaultText: '256' },
    option('maxLength', { help: 'tokens per text', defaultText: 'min(128, model limit)' }),
    { name: 'preload', type: 'string', repeat: true, metavar: 'NAME', help: 'adapter to load before reporting ready (repeatable); others load on first use' },
    { name: 'no-batching', type: 'boolean', help: 'one request = one forward pass (for comparison)' },
    { name: 'workers', type: 'int', min: 0, metavar: 'N', help: 'worker threads running the forward passes (each holds a copy of the model), so inference never blocks the HTTP event loop; 0: the main thread', defaultText: '0' },
  ],
  examples: ['adapters serve --model minilm --adapters runs/adapters --port 8080', 'curl -s localhost:8080/v1/predict -H content-type:application/json -d \'{"adapter":"sst2","texts":["a gorgeous film"]}\''],
};

export interface ServeRunOptions {
  /** Stops the server (instead of SIGINT / SIGTERM). */
  readonly signal?: AbortSignal;
}

export async function serveCommand(args: ParsedArgs, ctx: CliContext, run: ServeRunOptions = {}): Promise<void> {
  const modelSpec = args.requireString('model', 'a model directory or all-MiniLM-L6-v2');
  const adaptersDir = path.resolve(ctx.cwd, args.requireString('adapters', 'the directory of saved adapters'));
  await backendBanner(args, ctx);
  const model = await resolveModel(modelSpec, ctx.cwd, (line) => ctx.stderr.write(`${line}\n`));
  const packages = discoverPlugins(ctx.pluginSearchPaths);
  const plugins = packages.flatMap((p) => [...p.plugins]);
  if (plugins.length === 0) throw new UsageError('no adapter plugin packages are installed (e.g. npm install @adapters/adapter-bottleneck)', 'serve');
  const budget = args.number('memory-budget-mb');
  const maxBatch = args.number('max-batch');
  const maxWaitMs = args.number('max-wait-ms');
  const queueLimit = args.number('queue-limit');
  const timeoutMs = args.number('timeout-ms');
  const maxLength = args.number('max-length');
  const workers = args.number('workers');
  const server = await createAdapterServer({
    model: model.dir,
    adaptersDir,
    plugins,
    ...(maxBatch !== undefined ? { maxBatch } : {}),
    ...(maxWaitMs !== undefined ? { maxWaitMs } : {}),
    ...(queueLimit !== undefined ? { queueLimit } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...(budget !== undefined ? { memoryBudgetBytes: Math.round(budget * 2 ** 20) } : {}),
    preload: args.strings('preload'),
    batching: !args.flag('no-batching'),
    ...(workers ? { workers, pluginModules: packages.map((p) => p.dir) } : {}),
  });
  const url = await server.listen({ port: args.number('port') ?? 8080, host: args.string('host') ?? '127.0.0.1' });
  ctx.stdout.write(`serving ${model.name} with adapters from ${adaptersDir} on ${url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    if (run.signal) {
      if (run.signal.aborted) resolve();
      run.signal.addEventListener('abort', stop, { once: true });
    } else {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
  });
  ctx.stderr.write('shutting down: answering accepted requests\n');
  await server.close();
  ctx.stderr.write('stopped\n');
}

/** The subcommand this package adds to the `adapters` CLI. */
export const commands: CliCommand[] = [{ spec: SERVE_SPEC, run: (args, ctx) => serveCommand(args, ctx) }];

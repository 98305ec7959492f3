// The public API of @adapters/serve: an HTTP service for one frozen model and many adapters.
export { createAdapterServer } from './server';
export type { AdapterServer, AdapterServerOptions } from './server';
export { BatchEngine } from './engine';
export type { BatchGroup, EngineOptions, Prediction } from './engine';
export { Batcher } from './batcher';
export type { BatcherOptions, PassRunner } from './batcher';
export { AdapterPool } from './pool';
export type { AdapterHost, AdapterPoolOptions, LoadedAdapter, LocalHostOptions, ServableAdapter } from './pool';
export { WorkerPool } from './worker-pool';
export type { WorkerPoolOptions } from './worker-pool';
export { ADAPTER_NAME_PATTERN, checkAdapterName, ServeError } from './errors';
export type { ServeErrorReason } from './errors';
export { Counter, Histogram, ServerMetrics } from './metrics';
export { openApiDocument } from './openapi';
// The `adapters serve` subcommand, found by the CLI's plugin discovery.

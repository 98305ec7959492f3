// @adapters/fleet: adapter training jobs spread over machines with BullMQ on Redis. The library holds the grid, the
// queue, the artifact stores and the worker loop; `adapters fleet ...` lives on the `./cli` entry.
export { canonicalJson, expandGrid, HYPER_OPTIONS, jobId, MAX_GRID_JOBS, parseGrid, trainArgv } from './grid';
export type { FleetJob, FleetJobSpec, Grid, HyperValue } from './grid';
export { GridError, StoreError } from './errors';
export { DEFAULT_ATTEMPTS, DEFAULT_QUEUE, jobStatuses, openQueue, redisConnection, resultsTable, submitGrid } from './queue';
export type { FleetJobData, FleetResult, FleetState, JobStatus, ResultRow, Results, SubmitResult } from './queue';
export { DirectoryStore, openStore } from './store';
export type { ArtifactStore, PublishResult } from './store';
export { S3Store, s3ConfigFromEnv } from './s3';
export type { S3Config } from './s3';
export { amzDate, signV4, uriEncode } from './sigv4';
export type { AwsCredentials, SignedRequest, SignRequest } from './sigv4';
export { fetchOncePerMachine, withFileLock } from './machine-lock';
export type { FileLockOptions } from './machine-lock';
export { TrainerPool } from './trainer-pool';
export type { TrainerPoolOptions, TrainOutcome, TrainRequest } from './trainer-pool';
export { startFleetWorker } from './worker';
export type { FleetWorker, FleetWorkerOptions, JobTrainer } from './worker';

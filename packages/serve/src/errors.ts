// Errors the server answers with: each carries its HTTP status and a stable reason, so a client branches on
// `error.reason`, never on message text.
import { AdapterGraphError } from '@adapters/core-graph';

export type ServeErrorReason =
  | 'bad_request'
  | 'bad_adapter_name'
  | 'unknown_adapter'
  | 'adapter_conflict'
  | 'adapter_in_use'
  | 'not_servable'
  | 'overloaded'
  | 'memory_budget'
  | 'timeout'
  | 'shutting_down'
  | 'worker_failed';

const STATUS: Readonly<Record<ServeErrorReason, number>> = {
  bad_request: 400,
  bad_adapter_name: 400,
  unknown_adapter: 404,
  adapter_conflict: 409,
  adapter_in_use: 409,
  not_servable: 422,
  overloaded: 503,
  memory_budget: 503,
  timeout: 504,
  shutting_down: 503,
  worker_failed: 500,
};

/** Whether `reason` is one of ours (errors cross from worker threads as plain data). */
export const isServeErrorReason = (reason: unknown): reason is ServeErrorReason => typeof reason === 'string' && Object.hasOwn(STATUS, reason);

export class ServeError extends AdapterGraphError {
  readonly status: number;

  constructor(readonly reason: ServeErrorReason, message: string) {
    super(message);
    this.status = STATUS[reason];
  }
}

/** Adapter names come from requests: plain names only, so a request can never name a path. */
export const ADAPTER_NAME_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const NAME_RE = new RegExp(ADAPTER_NAME_PATTERN);

export function checkAdapterName(name: string, field = 'adapter'): string {
  if (!NAME_RE.test(name)) {
    const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
    throw new ServeError('bad_adapter_name', `${field}: ${shown} is not an adapter name (1-64 letters, digits, _ or -; paths are not accepted)`);
  }
  return name;
}

/**
 * Stable machine-readable error codes: tests, the CLI and callers branch on these, never on message text.
 * A code names what is wrong with the input, not where the check lives.
 */
export type ErrorCode =
  | 'E_ADAPTER_GRAPH'
  | 'E_GRAPH'
  | 'E_PLACEMENT'
  | 'E_CONFIG_FIELD'
  | 'E_SAFETENSORS'
  | 'E_SAFETENSORS_HEADER'
  | 'E_SAFETENSORS_DUPLICATE_KEY'
  | 'E_SAFETENSORS_COVERAGE'
  | 'E_SAFETENSORS_TENSOR'
  | 'E_NON_FINITE_WEIGHTS'
  | 'E_CHECKPOINT_MISMATCH'
  | 'E_DATA'
  | 'E_TRAINING_DIVERGED'
  | 'E_PLUGIN_DEFINITION'
  | 'E_RUN_DIR'
  | 'E_RUN_MANIFEST'
  | 'E_RUN_MANIFEST_OBSOLETE'
  | 'E_MODEL_FETCH'
  | 'E_FLEET_GRID'
  | 'E_FLEET_STORE'
  | 'E_BACKEND'
  | 'E_BACKEND_NOT_READY'
  | 'E_WASM_HEAP'
  | 'E_UNION_COMPOSITION';

/** The longest message an AdapterGraphError carries: hostile input must not produce a megabyte-long line. */
export const MAX_ERROR_MESSAGE = 1000;

/** Caps text for a message and escapes control characters (NUL, ESC, newlines) so one error stays one printable line. */
export function printable(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return escaped.length > max ? `${escaped.slice(0, max - 3)}...` : escaped;
}

/** Base class so callers can tell our validation errors from programming errors. */
export class AdapterGraphError extends Error {
  readonly code: ErrorCode;

  constructor(message: string, code: ErrorCode = 'E_ADAPTER_GRAPH', options?: { cause?: unknown }) {
    super(message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE - 3)}...` : message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A node or edge that would make the graph inconsistent (bad shapes, unknown op, dangling input). */
export class GraphError extends AdapterGraphError {
  constructor(message: string, code: ErrorCode = 'E_GRAPH') {
    super(message, code);
  }
}

/** A placement rule or composition that cannot be applied. */
export class PlacementError extends AdapterGraphError {
  constructor(message: string, code: ErrorCode = 'E_PLACEMENT') {
    super(message, code);
  }
}

/** A configuration value that fails validation; `path` points at the bad field, e.g. `config.reduction_factor`. */
export class ConfigError extends AdapterGraphError {
  constructor(
    readonly path: string,
    problem: string,
    code: ErrorCode = 'E_CONFIG_FIELD',
  ) {
    super(`${path}: ${problem}`, code);
  }
}

/** A data file that cannot be used: `file` and the 1-based `line` (when known) say where. */
export class DataError extends AdapterGraphError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    problem: string,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${problem}`, 'E_DATA');
  }
}

/** Training stopped because the loss or gradient norm left the range a converging run stays in. */
export class TrainingDivergedError extends AdapterGraphError {
  constructor(
    readonly step: number,
    readonly reason: 'loss-non-finite' | 'loss-exploded' | 'grad-non-finite' | 'grad-exploded',
    problem: string,
  ) {
    super(`training diverged at step ${step}: ${problem}; lower the learning rate (--lr)`, 'E_TRAINING_DIVERGED');
  }
}

/** A plugin package or plugin object that does not follow the plugin contract. */
export class PluginDefinitionError extends AdapterGraphError {
  constructor(
    readonly plugin: string,
    problem: string,
  ) {
    super(`plugin ${plugin}: ${problem}`, 'E_PLUGIN_DEFINITION');
  }
}

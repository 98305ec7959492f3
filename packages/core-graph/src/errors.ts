/** Base class so callers can tell our validation errors from programming errors. */
export class AdapterGraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A node or edge that would make the graph inconsistent (bad shapes, unknown op, dangling input). */
export class GraphError extends AdapterGraphError {}

/** A placement rule or composition that cannot be applied. */
export class PlacementError extends AdapterGraphError {}

/** A configuration value that fails validation; `path` points at the bad field, e.g. `config.reduction_factor`. */
export class ConfigError extends AdapterGraphError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

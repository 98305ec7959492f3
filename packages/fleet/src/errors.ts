// Errors of the fleet: one line naming the field, file or job, with a stable code.
import { AdapterGraphError } from '@adapters/core-graph';

/** A grid file that cannot be expanded into jobs: `where` names the field, e.g. `grid.yaml: methods[2]`. */
export class GridError extends AdapterGraphError {
  constructor(
    readonly where: string,
    problem: string,
  ) {
    super(`${where}: ${problem}`, 'E_FLEET_GRID');
  }
}

/** An artifact store that cannot be read or written (bad URL, missing credentials, a refused request). */
export class StoreError extends AdapterGraphError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'E_FLEET_STORE', options);
  }
}

// A run directory given on a plugin command's line: its run.json, or one UsageError that names the option and says
// which command writes such a directory (instead of the manifest reader's "missing run.json" ConfigError).
import { stat } from 'fs/promises';
import * as path from 'path';
import type { RunManifest } from '@adapters/core-graph';
import { ConfigError, readRunManifest, RUN_FILE } from '@adapters/core-graph';
import { UsageError } from './args';

export interface RunArg {
  /** The option that named the directory, e.g. `--fusion`. */
  readonly option: string;
  /** The value as given (quoted back in the message). */
  readonly given: string;
  /** What to pass instead, e.g. `pass the directory 'adapters fusion-stage2 --out' wrote`. */
  readonly hint: string;
  /** The command, for its usage line. */
  readonly command?: string;
}

/** run.json of `dir`; a directory without one is a UsageError `OPTION GIVEN: no run.json there; HINT`. */
export async function readRunArg(dir: string, arg: RunArg): Promise<RunManifest> {
  try {
    return await readRunManifest(dir);
  } catch (e) {
    if (e instanceof ConfigError && e.code === 'E_RUN_MANIFEST' && !(await stat(path.join(dir, RUN_FILE)).then(() => true, () => false))) {
      throw new UsageError(`${arg.option} ${arg.given}: no ${RUN_FILE} there; ${arg.hint}`, arg.command);
    }
    throw e;
  }
}

// A folder on disk as a FileSource (Node): what the path-taking loaders (loadAdapter(dir), loadPretrained(dir), ...) read through.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileSource } from './file-source';

export function dirSource(dir: string): FileSource {
  return {
    location: dir,
    path: (file) => join(dir, file),
    localPath: (file) => join(dir, file),
    read: async (file) => {
      try {
        return new Uint8Array(await readFile(join(dir, file)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
  };
}

/** A folder path or a source, as a source. */
export const sourceOf = (dir: string | FileSource): FileSource => (typeof dir === 'string' ? dirSource(dir) : dir);

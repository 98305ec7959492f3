// Job ids as file names, and listing a run folder.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors';

export const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;

export function checkJobId(jobId: string): void {
  if (!JOB_ID.test(jobId)) throw new StoreError(`job id '${jobId.slice(0, 120)}' may use only letters, digits, _ and - (1-100 characters)`);
}

/** Every file under `dir`, as posix paths relative to it, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk('');
  return out.sort();
}


// Where finished runs go. A run is published all at once and only once: readers see either no run for a job or the
// complete run folder of exactly one attempt, never files of two attempts mixed (a job retried after its worker
// died may finish twice when the "dead" worker was only slow; the first publication wins, the second is dropped).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors';
import { checkJobId, JOB_ID } from './files';
import { S3Store, s3ConfigFromEnv } from './s3';

export interface PublishResult {
  /** false: another attempt of this job had published first; nothing was changed. */
  readonly published: boolean;
  /** Where the run is (a directory or an s3:// prefix). */
  readonly location: string;
}

export interface ArtifactStore {
  /** The URL this store was opened from (a directory path or `s3://bucket/prefix`). */
  readonly url: string;
  /** Publishes the run folder `localDir` as the run of `jobId`, all or nothing; the first publication wins. */
  publish(jobId: string, localDir: string): Promise<PublishResult>;
  /** A file (path relative to the run folder) of a published run, or undefined if the job has no run or the run lacks it. */
  readFile(jobId: string, file: string): Promise<Buffer | undefined>;
  /** Ids of the jobs with a published run, sorted. */
  list(): Promise<string[]>;
  /** Copies a published run into `dir` (which must not exist), e.g. to evaluate it locally. */
  download(jobId: string, dir: string): Promise<void>;
}

/**
 * A shared directory (local disk, NFS, any POSIX mount every worker sees): runs in `ROOT/runs/JOB`, staged in
 * `ROOT/.staging/` on the same file system and moved into place with one rename, which is atomic and fails when the
 * target exists (so the first attempt to finish wins).
 */
export class DirectoryStore implements ArtifactStore {
  readonly root: string;

  constructor(readonly url: string) {
    this.root = path.resolve(url.startsWith('file://') ? new URL(url).pathname : url);
  }

  private runDir(jobId: string): string {
    checkJobId(jobId);
    return path.join(this.root, 'runs', jobId);
  }

  async publish(jobId: string, localDir: string): Promise<PublishResult> {
    const target = this.runDir(jobId);
    if (await exists(target)) return { published: false, location: target };
    const staging = path.join(this.root, '.staging', `${jobId}.${process.pid}.${randomBytes(4).toString('hex')}`);
    await fs.mkdir(path.dirname(staging), { recursive: true });
    await fs.mkdir(path.dirname(target), { recursive: true });
    try {
      await fs.cp(localDir, staging, { recursive: true, errorOnExist: true });
      await fs.rename(staging, target);
      return { published: true, location: target };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') return { published: false, location: target };
      throw new StoreError(`could not publish the run of ${jobId} to ${target}: ${(e as Error).message}`, { cause: e });
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }

  async readFile(jobId: string, file: string): Promise<Buffer | undefined> {
    const dir = this.runDir(jobId);
    const full = path.resolve(dir, file);
    if (!full.startsWith(dir + path.sep)) throw new StoreError(`'${file}' is outside the run folder`);
    return fs.readFile(full).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
  }

  async list(): Promise<string[]> {
    const names = await fs.readdir(path.join(this.root, 'runs')).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    return names.filter((n) => JOB_ID.test(n)).sort();
  }

  async download(jobId: string, dir: string): Promise<void> {
    const from = this.runDir(jobId);
    if (!(await exists(from))) throw new StoreError(`job ${jobId} has no published run in ${this.root}`);
    await fs.cp(from, dir, { recursive: true, errorOnExist: true, force: false });
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Opens a store from its URL: a directory path (or file://) for a shared directory, `s3://bucket/prefix` for an
 * S3-compatible bucket (credentials and endpoint from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_REGION, AWS_ENDPOINT_URL; never from the job data in Redis).
 */
export function openStore(url: string, env: Readonly<Record<string, string | undefined>> = process.env): ArtifactStore {
  if (url.startsWith('s3://')) return new S3Store(url, s3ConfigFromEnv(env));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith('file://')) throw new StoreError(`store '${url}': use a directory path, file://DIR or s3://BUCKET/PREFIX`);
  return new DirectoryStore(url);
}

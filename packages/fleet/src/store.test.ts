// The artifact-store contract, on a shared directory and on an S3 server (s3rver: an in-process S3 implementation
// that checks SigV4 signatures): a run is published whole and once; concurrent attempts of one job leave exactly one
// attempt's files; a reader never sees a mix. Plus S3-specific refusals (bad signature, bad URL, no credentials).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import S3rver from 's3rver';
import { StoreError } from './errors';
import { S3Store } from './s3';
import type { ArtifactStore } from './store';
import { DirectoryStore, openStore } from './store';

let tmp: string;
let s3: S3rver;
let endpoint: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'fleet-store-'));
  s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(tmp, 's3rver'), configureBuckets: [{ name: 'fleet-runs' }] });
  const addr = await s3.run();
  endpoint = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await s3.close();
  rmSync(tmp, { recursive: true, force: true });
});

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A run folder whose every file names the attempt, so a mix of two attempts is visible. */
function runFolder(attempt: string, files = 6): string {
  const dir = mkdtempSync(path.join(tmp, `run-${attempt}-`));
  mkdirSync(path.join(dir, 'adapter'));
  writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ attempt, accuracy: 0.5 }));
  for (let i = 0; i < files; i++) writeFileSync(path.join(dir, 'adapter', `part-${i}.bin`), Buffer.alloc(2000 + i, attempt));
  return dir;
}

const stores: Array<[string, () => ArtifactStore]> = [
  ['directory', () => new DirectoryStore(mkdtempSync(path.join(tmp, 'dir-store-')))],
  ['s3', () => new S3Store(`s3://fleet-runs/p${Math.random().toString(36).slice(2)}`, { endpoint, region: 'us-east-1', credentials })],
];

describe.each(stores)('%s store', (_kind, make) => {
  test('publish → read back byte for byte; a second publication of the job changes nothing', async () => {
    const store = make();
    const a = runFolder('a');
    expect(await store.list()).toEqual([]);
    expect(await store.readFile('job1', 'summary.json')).toBeUndefined();
    expect((await store.publish('job1', a)).published).toBe(true);
    expect((await store.readFile('job1', 'summary.json'))?.toString()).toBe(readFileSync(path.join(a, 'summary.json'), 'utf8'));
    expect((await store.publish('job1', runFolder('b'))).published).toBe(false);
    expect(JSON.parse((await store.readFile('job1', 'summary.json'))!.toString()).attempt).toBe('a');
    expect(await store.readFile('job1', 'missing.txt')).toBeUndefined();
    const out = path.join(tmp, `dl-${Math.random()}`);
    await store.download('job1', out);
    for (const f of ['summary.json', ...readdirSync(path.join(a, 'adapter')).map((n) => `adapter/${n}`)]) expect(readFileSync(path.join(out, f))).toEqual(readFileSync(path.join(a, f)));
    expect(await store.list()).toEqual(['job1']);
  });

  test('job ids that could escape the store are refused', async () => {
    const store = make();
    await expect(store.publish('../evil', runFolder('e'))).rejects.toThrow(StoreError);
    await expect(store.readFile('a/b', 'x')).rejects.toThrow(/letters, digits/);
  });
});

describe('directory store', () => {
  // Directory only: s3rver is not atomic under concurrent writes of one key (a GET racing a PUT may read an empty
  // object), which real S3 is; on S3 the first pointer PUT wins through If-None-Match.
  test('racing attempts of one job: exactly one wins and every file of the run is from that attempt', async () => {
    const store = new DirectoryStore(mkdtempSync(path.join(tmp, 'dir-race-')));
    const folders = ['p', 'q', 'r', 's'].map((x) => runFolder(x, 12));
    const results = await Promise.all(folders.map((f) => store.publish('race', f)));
    expect(results.filter((r) => r.published)).toHaveLength(1);
    const out = path.join(tmp, `race-${Math.random()}`);
    await store.download('race', out);
    const attempt = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')).attempt as string;
    for (const f of readdirSync(path.join(out, 'adapter'))) expect(readFileSync(path.join(out, 'adapter', f)).every((b) => b === attempt.charCodeAt(0))).toBe(true);
    expect(await store.list()).toEqual(['race']);
  });

  test('racing publishers: exactly one rename wins, no staging left behind', async () => {
    const root = mkdtempSync(path.join(tmp, 'dir-race-'));
    const store = new DirectoryStore(root);
    const results = await Promise.all(['a', 'b', 'c'].map((x) => store.publish('j', runFolder(x))));
    expect(results.filter((r) => r.published)).toHaveLength(1);
    expect(readdirSync(path.join(root, '.staging'))).toEqual([]);
  });
});

describe('S3 store', () => {
  // s3rver checks the access key id of a SigV4 request but not its signature; the signature itself is checked
  // against AWS's published examples in sigv4.test.ts.
  test('an unknown access key is refused by the server, with the S3 error code', async () => {
    const store = new S3Store('s3://fleet-runs/x', { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'x' } });
    await expect(store.list()).rejects.toThrow(/HTTP 403 InvalidAccessKeyId/);
  });

  test('openStore: URLs and credentials', () => {
    expect(() => openStore('s3://fleet-runs/x', {})).toThrow(/AWS_ACCESS_KEY_ID/);
    expect(() => openStore('s3://Bad_Bucket', { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' })).toThrow(/expected s3:\/\/BUCKET/);
    expect(() => openStore('http://x/y')).toThrow(StoreError);
    expect(openStore(tmp)).toBeInstanceOf(DirectoryStore);
    const s = openStore('s3://fleet-runs/a/b/', { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_ENDPOINT_URL: endpoint }) as S3Store;
    expect([s.bucket, s.prefix]).toEqual(['fleet-runs', 'a/b/']);
  });
});

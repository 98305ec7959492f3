// An S3-compatible bucket as the artifact store, over the S3 REST API (path-style URLs, SigV4, Node's fetch): no SDK.
// Each attempt uploads its files under its own prefix, `PREFIX/attempts/JOB/ATTEMPT/...`; publishing is one more
// PUT, the pointer `PREFIX/runs/JOB.json` (with If-None-Match: *, so on AWS the first attempt wins even in a race).
// Readers go through the pointer, so they see one complete attempt or nothing, never a mix.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { StoreError } from './errors';
import type { AwsCredentials } from './sigv4';
import { sha256Hex, signV4 } from './sigv4';
import type { ArtifactStore, PublishResult } from './store';
import { checkJobId, listFiles } from './files';

export interface S3Config {
  /** e.g. `https://s3.eu-west-1.amazonaws.com` or a MinIO / Ceph / s3rver URL. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
}

/** Endpoint, region and credentials from AWS's usual variables (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for other S3 servers). */
export function s3ConfigFromEnv(env: Readonly<Record<string, string | undefined>>): S3Config {
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (!accessKeyId || !secretAccessKey) throw new StoreError('an s3:// store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  const sessionToken = env['AWS_SESSION_TOKEN'];
  return {
    endpoint: env['AWS_ENDPOINT_URL_S3'] ?? env['AWS_ENDPOINT_URL'] ?? `https://s3.${region}.amazonaws.com`,
    region,
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
  };
}

/** The published pointer of a run. */
interface RunPointer {
  readonly jobId: string;
  readonly attempt: string;
  readonly files: ReadonlyArray<{ readonly path: string; readonly bytes: number; readonly sha256: string }>;
  readonly publishedAt: string;
}

interface Response {
  readonly status: number;
  readonly body: Buffer;
}

export class S3Store implements ArtifactStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly endpoint: URL;

  constructor(
    readonly url: string,
    private readonly config: S3Config,
  ) {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
    if (!m) throw new StoreError(`store '${url}': expected s3://BUCKET or s3://BUCKET/PREFIX (bucket: 3-63 lower-case letters, digits, . and -)`);
    this.bucket = m[1] as string;
    const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = prefix === '' ? '' : `${prefix}/`;
    this.endpoint = new URL(config.endpoint);
  }

  /** One S3 call; 500 / 503 (S3's "try again") are retried a few times with backoff, as AWS advises. */
  private async request(method: string, key: string, options: { body?: Buffer; query?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.requestOnce(method, key, options);
      if ((res.status !== 500 && res.status !== 503) || attempt >= 4) return res;
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }

  private async requestOnce(method: string, key: string, options: { body?: Buffer; query?: Record<string, string>; headers?: Record<string, string> }): Promise<Response> {
    const body = options.body ?? Buffer.alloc(0);
    const basePath = this.endpoint.pathname.replace(/\/+$/, '');
    const signed = signV4({
      method,
      path: `${basePath}/${this.bucket}${key === '' ? '' : `/${key}`}`,
      ...(options.query ? { query: options.query } : {}),
      headers: { host: this.endpoint.host, ...(options.headers ?? {}) },
      payloadHash: sha256Hex(body),
      region: this.config.region,
      service: 's3',
      credentials: this.config.credentials,
      date: new Date(),
    });
    const { host: _host, ...headers } = signed.headers;
    let res: globalThis.Response;
    try {
      res = await fetch(`${this.endpoint.protocol}//${this.endpoint.host}${signed.pathAndQuery}`, { method, headers, ...(body.length > 0 || method === 'PUT' ? { body: new Uint8Array(body) } : {}) });
    } catch (e) {
      throw new StoreError(`${method} s3://${this.bucket}/${key}: ${(e as Error).message} (endpoint ${this.endpoint.origin})`, { cause: e });
    }
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }

  private fail(what: string, key: string, res: Response): never {
    const code = /<Code>([^<]*)<\/Code>/.exec(res.body.toString('utf8'))?.[1];
    throw new StoreError(`${what} s3://${this.bucket}/${key}: HTTP ${res.status}${code ? ` ${code}` : ''}`);
  }

  private pointerKey(jobId: string): string {
    checkJobId(jobId);
    return `${this.prefix}runs/${jobId}.json`;
  }

  private async pointer(jobId: string): Promise<RunPointer | undefined> {
    const key = this.pointerKey(jobId);
    const res = await this.request('GET', key);
    if (res.status === 404) return undefined;
    if (res.status !== 200) this.fail('GET', key, res);
    return JSON.parse(res.body.toString('utf8')) as RunPointer;
  }

  async publish(jobId: string, localDir: string): Promise<PublishResult> {
    const pointerKey = this.pointerKey(jobId);
    const location = `s3://${this.bucket}/${pointerKey}`;
    if ((await this.pointer(jobId)) !== undefined) return { published: false, location };
    const attempt = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    const files: Array<{ path: string; bytes: number; sha256: string }> = [];
    for (const rel of await listFiles(localDir)) {
      const data = await fs.readFile(path.join(localDir, ...rel.split('/')));
      const key = `${this.prefix}attempts/${jobId}/${attempt}/${rel}`;
      const res = await this.request('PUT', key, { body: data });
      if (res.status !== 200) this.fail('PUT', key, res);
      files.push({ path: rel, bytes: data.length, sha256: sha256Hex(data) });
    }
    const pointer: RunPointer = { jobId, attempt, files, publishedAt: new Date().toISOString() };
    const res = await this.request('PUT', pointerKey, { body: Buffer.from(JSON.stringify(pointer)), headers: { 'if-none-match': '*', 'content-type': 'application/json' } });
    if (res.status === 412 || res.status === 409) return { published: false, location };
    if (res.status !== 200) this.fail('PUT', pointerKey, res);
    // Servers without conditional writes accept both racing pointers: the one that stayed is the published one.
    const now = await this.pointer(jobId);
    return { published: now?.attempt === attempt, location };
  }

  async readFile(jobId: string, file: string): Promise<Buffer | undefined> {
    const p = await this.pointer(jobId);
    const entry = p?.files.find((f) => f.path === file);
    if (p === undefined || entry === undefined) return undefined;
    const key = `${this.prefix}attempts/${jobId}/${p.attempt}/${entry.path}`;
    const res = await this.request('GET', key);
    if (res.status !== 200) this.fail('GET', key, res);
    if (sha256Hex(res.body) !== entry.sha256) throw new StoreError(`s3://${this.bucket}/${key}: content differs from the published checksum`);
    return res.body;
  }

  async list(): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix: `${this.prefix}runs/`, ...(token !== undefined ? { 'continuation-token': token } : {}) };
      const res = await this.request('GET', '', { query });
      if (res.status !== 200) this.fail('LIST', `${this.prefix}runs/`, res);
      const xml = res.body.toString('utf8');
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) {
        const id = /runs\/([A-Za-z0-9_-]+)\.json$/.exec(decodeXml(m[1] as string))?.[1];
        if (id !== undefined) ids.push(id);
      }
      token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1] : undefined;
    } while (token !== undefined);
    return ids.sort();
  }

  async download(jobId: string, dir: string): Promise<void> {
    const p = await this.pointer(jobId);
    if (p === undefined) throw new StoreError(`job ${jobId} has no published run in s3://${this.bucket}/${this.prefix}`);
    await fs.mkdir(dir, { recursive: false });
    for (const f of p.files) {
      const data = await this.readFile(jobId, f.path);
      const target = path.resolve(dir, ...f.path.split('/'));
      if (data === undefined || !target.startsWith(path.resolve(dir) + path.sep)) throw new StoreError(`s3 run ${jobId}: bad file entry '${f.path}'`);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, data);
    }
  }
}

function decodeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

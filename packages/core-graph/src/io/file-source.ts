// Where loaders read a folder's files from, without fs: a folder on disk (dirSource, Node entry), bytes in memory
// (ArrayBuffers a page already holds) or a base URL (fetch, with an optional Cache API cache). Loaders name
// `source.path(file)` in every error, so a bad file is reported by its path or URL whatever the source.
import { ConfigError } from '../errors';
import type { DecodedTensor, SafetensorsContents } from './safetensors';
import { decodeSafetensors, SafetensorsError } from './safetensors';

export interface FileSource {
  /** The folder, URL or label the files come from (a model's `dir`). */
  readonly location: string;
  /** How errors name `file` of this source: a path, a URL or `location/file`. */
  path(file: string): string;
  /** The bytes of `file`, or undefined when the source has no such file (other failures throw). */
  read(file: string): Promise<Uint8Array | undefined>;
  /** The file's path on the local filesystem, when the source is a folder on disk (what mapping needs). */
  localPath?(file: string): string | undefined;
}

export type FileBytes = Uint8Array | ArrayBuffer | string;

/** Files held in memory by name (bytes, ArrayBuffers or text), e.g. from `fetch(...).arrayBuffer()` or a file input. */
export function bytesSource(files: Readonly<Record<string, FileBytes>>, location = 'memory'): FileSource {
  const own = new Map(Object.entries(files));
  return {
    location,
    path: (file) => `${location}/${file}`,
    read: async (file) => {
      const v = own.get(file);
      if (v === undefined) return undefined;
      if (typeof v === 'string') return new TextEncoder().encode(v);
      return v instanceof Uint8Array ? v : new Uint8Array(v);
    },
  };
}

/** The part of the Cache API (`caches`, a DOM global) fetchSource uses; the library is compiled without the DOM lib. */
interface CacheStorageLike {
  open(name: string): Promise<{ match(url: string): Promise<Response | undefined>; put(url: string, res: Response): Promise<void> }>;
}

export interface FetchSourceOptions {
  /** The fetch to use (default: the global one). */
  readonly fetch?: (url: string) => Promise<Response>;
  /** A Cache API cache name: responses are served from it and stored in it (default: no caching). */
  readonly cache?: string;
  /**
   * The files the folder has, when known (e.g. from a manifest): any other file reads as absent without a request,
   * so probing optional files (tokenizer_config.json, a head) costs no 404 (which browsers log as console errors).
   */
  readonly files?: readonly string[];
}

/**
 * Files under a base URL. A 404 is an absent file; other HTTP statuses and network failures throw naming the URL.
 * With `cache`, each file is fetched once and then read from the Cache API (when the page has one: `caches`); with
 * `files`, only those are requested.
 */
export function fetchSource(baseUrl: string, options: FetchSourceOptions = {}): FileSource {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const doFetch = options.fetch ?? ((url: string) => fetch(url));
  const cacheName = options.cache;
  const caches = (globalThis as { caches?: CacheStorageLike }).caches;
  const get = async (url: string): Promise<Response> => {
    if (cacheName === undefined || caches === undefined) return doFetch(url);
    const cache = await caches.open(cacheName);
    const hit = await cache.match(url);
    if (hit) return hit;
    const res = await doFetch(url);
    if (res.ok) await cache.put(url, res.clone());
    return res;
  };
  return {
    location: base.slice(0, -1),
    path: (file) => `${base}${file}`,
    read: async (file) => {
      const url = `${base}${file}`;
      if (options.files !== undefined && !options.files.includes(file)) return undefined;
      let res: Response;
      try {
        res = await get(url);
      } catch (e) {
        throw new ConfigError(url, `cannot fetch: ${(e as Error).message}`);
      }
      if (res.status === 404) return undefined;
      if (!res.ok) throw new ConfigError(url, `cannot fetch: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/** The same files, each read at most once (a loader that probes a file and then reads it makes one request). */
export function readOnce(source: FileSource): FileSource {
  const reads = new Map<string, Promise<Uint8Array | undefined>>();
  return {
    location: source.location,
    path: (file) => source.path(file),
    read: (file) => {
      let r = reads.get(file);
      if (r === undefined) {
        r = source.read(file);
        reads.set(file, r);
      }
      return r;
    },
  };
}

/** A JSON object file of a source; absent, bad JSON and non-objects are ConfigErrors naming the file. */
export async function readJsonFrom(source: FileSource, file: string): Promise<Record<string, unknown>> {
  const value = await readOptionalJsonFrom(source, file);
  if (value === undefined) throw new ConfigError(source.path(file), 'cannot read: no such file');
  return value;
}

/** Like readJsonFrom, but undefined when the file is absent. */
export async function readOptionalJsonFrom(source: FileSource, file: string): Promise<Record<string, unknown> | undefined> {
  const where = source.path(file);
  let bytes: Uint8Array | undefined;
  try {
    bytes = await source.read(file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(where, `cannot read: ${(e as Error).message}`);
  }
  if (bytes === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ConfigError(where, `is not valid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(where, 'must be a JSON object');
  return value as Record<string, unknown>;
}

/** A text file of a source, or undefined when absent. */
export async function readTextFrom(source: FileSource, file: string): Promise<string | undefined> {
  const bytes = await source.read(file);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/** A safetensors file of a source, decoded; an absent or malformed file is a SafetensorsError naming it. */
export async function readSafetensorsFrom(source: FileSource, file: string): Promise<SafetensorsContents<DecodedTensor>> {
  const where = source.path(file);
  let bytes: Uint8Array | undefined;
  try {
    bytes = await source.read(file);
  } catch (e) {
    throw new SafetensorsError(where, `cannot read file (${(e as Error).message})`, undefined, { cause: e });
  }
  if (bytes === undefined) throw new SafetensorsError(where, 'cannot read file (no such file)');
  return decodeSafetensors(bytes, where);
}

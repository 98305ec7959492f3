// Loading from bytes or URLs (the browser entry's loaders) reads the same files as loading from a folder: same
// tensors bit for bit, same checks, and a bad file is one error naming it by its path or URL.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterGraphError } from '../errors';
import { WeightStore } from '../exec/weights';
import type { FileBytes } from '../io/file-source';
import { bytesSource, fetchSource } from '../io/file-source';
import { SafetensorsError } from '../io/safetensors';
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { createRegistry } from '../plugin/registry';
import { applyPlacements } from '../rewrite/apply-placements';
import { adapter } from '../rewrite/composition';
import { writeTinyModelDir } from '../testing/fixtures';
import { toyAdapter } from '../testing/toy-adapter';
import { loadTokenizerFrom } from '../data/tokenizer';
import { loadTokenizer } from '../data/tokenizer-dir';
import { ADAPTER_WEIGHTS_FILE, loadAdapterFrom } from './adapter-load';
import { loadAdapter, saveAdapter } from './adapterhub';
import { loadPretrained } from './load-pretrained';
import { loadPretrainedFrom } from './pretrained';

const registry = createRegistry([toyAdapter]);
const config = { vocabSize: 30, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 16, maxPositions: 16 };
const withHead = () => addHead(buildEncoder(config), { type: 'classification', name: 'task', numLabels: 3 });
const base = () => buildEncoder(config);

async function savedAdapterDir(): Promise<string> {
  const { graph } = applyPlacements(withHead(), [{ adapter: adapter('toy', 'sent', {}) }], registry);
  const store = WeightStore.create(graph, 7);
  const dir = await mkdtemp(join(tmpdir(), 'src-'));
  await saveAdapter(dir, graph, store, 'sent', { head: 'task', registry });
  store.dispose();
  return dir;
}

async function filesOf(dir: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const f of await readdir(dir)) out[f] = new Uint8Array(await readFile(join(dir, f)));
  return out;
}

/** Every value of a store, by key (bit patterns compared with Object.is through arrays). */
function valuesOf(store: WeightStore): Map<string, number[]> {
  return new Map([...store.keys()].sort().map((k) => [k, Array.from(store.get(k).dataSync())]));
}

/** A fetch over in-memory files, as a static file server answers (404 for absent files). */
function fakeFetch(files: Record<string, FileBytes>, base: string, seen: string[] = []) {
  return async (url: string): Promise<Response> => {
    seen.push(url);
    const name = url.slice(base.length + 1);
    const body = files[name];
    return body === undefined ? new Response('not found', { status: 404 }) : new Response(body as ConstructorParameters<typeof Response>[0], { status: 200 });
  };
}

describe('loading from bytes, URLs and folders', () => {
  test('an adapter with its head loads from bytes, from a URL and from its folder into identical tensors', async () => {
    const dir = await savedAdapterDir();
    const files = await filesOf(dir);
    const loads = await Promise.all([
      (async () => { const store = WeightStore.create(base(), 1); const r = await loadAdapter(dir, base(), store, registry); return { r, store }; })(),
      (async () => { const store = WeightStore.create(base(), 1); const r = await loadAdapterFrom(bytesSource(files, 'sent'), base(), store, registry); return { r, store }; })(),
      (async () => {
        const store = WeightStore.create(base(), 1);
        const url = 'https://example.test/adapters/sent';
        const r = await loadAdapterFrom(fetchSource(url, { fetch: fakeFetch(files, url) }), base(), store, registry);
        return { r, store };
      })(),
    ]);
    const [disk, ...others] = loads.map(({ r, store }) => ({ name: r.name, head: r.head, graph: r.graph.toString(), values: valuesOf(store) }));
    expect(disk!.name).toBe('sent');
    expect(disk!.head).toBe('task');
    expect([...disk!.values.keys()].some((k) => k.includes('.adapters.sent.'))).toBe(true);
    for (const o of others) {
      expect(o.graph).toBe(disk!.graph);
      expect([...o.values.keys()]).toEqual([...disk!.values.keys()]);
      for (const [k, v] of disk!.values) expect(o.values.get(k)!.every((x, i) => Object.is(x, v[i]))).toBe(true);
    }
    for (const l of loads) l.store.dispose();
  });

  test('a model folder and its tokenizer load from bytes as from disk', async () => {
    const { selectBackend } = await import('../backend/select-backend');
    await selectBackend({ prefer: 'cpu' });
    const dir = await mkdtemp(join(tmpdir(), 'model-'));
    writeTinyModelDir(dir, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'film', 'great'], { hiddenSize: 16 });
    const files = await filesOf(dir);
    const fromDisk = await loadPretrained(dir);
    const fromBytes = await loadPretrainedFrom(bytesSource(files, 'tiny'));
    expect(fromBytes.dir).toBe('tiny');
    expect(fromBytes.graph.toString()).toBe(fromDisk.graph.toString());
    const a = valuesOf(fromDisk.store);
    const b = valuesOf(fromBytes.store);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(b.get(k)!.every((x, i) => Object.is(x, v[i]))).toBe(true);
    const [t1, t2] = [await loadTokenizer(dir), await loadTokenizerFrom(bytesSource(files))];
    expect(t2.encode('a great film')).toEqual(t1.encode('a great film'));
    fromDisk.store.dispose();
    fromBytes.store.dispose();
  });

  test('a truncated weights buffer is one SafetensorsError naming the file; the store is unchanged', async () => {
    const files = await filesOf(await savedAdapterDir());
    const weights = files[ADAPTER_WEIGHTS_FILE]!;
    const graph = base();
    const store = WeightStore.create(graph, 1);
    const before = valuesOf(store);
    for (const bad of [weights.subarray(0, 5), weights.subarray(0, weights.length - 4), new Uint8Array(0)]) {
      const err = await loadAdapterFrom(bytesSource({ ...files, [ADAPTER_WEIGHTS_FILE]: bad }, 'uploads/sent'), graph, store, registry).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SafetensorsError);
      expect(err).toBeInstanceOf(AdapterGraphError);
      expect((err as Error).message.startsWith(`uploads/sent/${ADAPTER_WEIGHTS_FILE}: `)).toBe(true);
    }
    expect(valuesOf(store)).toEqual(before);
    expect([...store.keys()].sort()).toEqual([...before.keys()]);
    store.dispose();
  });

  test('a missing file and an HTTP error name the URL', async () => {
    const files = await filesOf(await savedAdapterDir());
    const url = 'https://example.test/a';
    const { [ADAPTER_WEIGHTS_FILE]: _w, ...noWeights } = files;
    const graph = base();
    const store = WeightStore.create(graph, 1);
    await expect(loadAdapterFrom(fetchSource(url, { fetch: fakeFetch(noWeights, url) }), graph, store, registry)).rejects.toThrow(`${url}/${ADAPTER_WEIGHTS_FILE}: cannot read file (no such file)`);
    const failing = fetchSource(url, { fetch: async () => new Response('', { status: 503 }) });
    await expect(loadAdapterFrom(failing, graph, store, registry)).rejects.toThrow(`${url}/adapter_config.json: cannot fetch: HTTP 503`);
    store.dispose();
  });

  test('fetchSource with a cache fetches each file once (Cache API); with a file list it requests only those', async () => {
    const files = await filesOf(await savedAdapterDir());
    const url = 'https://example.test/c';
    const stored = new Map<string, Response>();
    const cache = { match: async (u: string) => stored.get(u)?.clone(), put: async (u: string, r: Response) => void stored.set(u, r) };
    (globalThis as { caches?: unknown }).caches = { open: async () => cache };
    try {
      const seen: string[] = [];
      for (let i = 0; i < 2; i++) {
        const store = WeightStore.create(base(), 1);
        await loadAdapterFrom(fetchSource(url, { fetch: fakeFetch(files, url, seen), cache: 'weights' }), base(), store, registry);
        store.dispose();
      }
      expect(seen.filter((u) => u.endsWith(ADAPTER_WEIGHTS_FILE))).toHaveLength(1);
      // With the folder's file list, absent files are not requested at all.
      const listed: string[] = [];
      const store = WeightStore.create(base(), 1);
      await loadAdapterFrom(fetchSource(url, { fetch: fakeFetch(files, url, listed), files: Object.keys(files) }), base(), store, registry);
      store.dispose();
      expect(listed.sort()).toEqual(Object.keys(files).map((f) => `${url}/${f}`).sort());
    } finally {
      delete (globalThis as { caches?: unknown }).caches;
    }
  });
});

// Memory of multilingual-e5-small on the default backend, full and with its vocabulary trimmed to the pieces of
// some CoNLL-U/text files. Usage: npm run me5-memory -- OUT_DIR FILE... (OUT_DIR receives the trimmed copy)
import { loadPretrained, modelCacheDir, readConllu } from '@adapters/core-graph';
import * as tf from '@tensorflow/tfjs';
import { corpusPieceIds, trimVocabulary } from '../src/data/vocab-trim';

const mb = (n: number): number => Math.round(n / 2 ** 20);

function wasmHeapBytes(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.length;
}

async function measure(dir: string): Promise<Record<string, number | string | undefined>> {
  const t0 = Date.now();
  const pre = await loadPretrained(dir);
  const out = { backend: tf.getBackend(), vocab: pre.config.vocabSize, tensorMB: mb(tf.memory().numBytes), wasmHeapMB: wasmHeapBytes() === undefined ? undefined : mb(wasmHeapBytes()!), rssMB: mb(process.memoryUsage().rss), loadSeconds: (Date.now() - t0) / 1000 };
  pre.store.dispose();
  return out;
}

async function main(): Promise<void> {
  const [outDir, ...files] = process.argv.slice(2);
  if (outDir === undefined || files.length === 0) throw new Error('usage: me5-memory OUT_DIR FILE...');
  const dir = modelCacheDir('multilingual-e5-small');
  console.log(JSON.stringify({ model: 'full', ...(await measure(dir)) }));
  const texts: string[] = [];
  for (const f of files) for (const s of await readConllu(f)) texts.push(s.text ?? s.tokens.map((t) => t.form).join(' '), ...s.tokens.map((t) => t.form));
  const keep = await corpusPieceIds(dir, texts);
  const trimmed = await trimVocabulary(dir, keep, outDir);
  console.log(JSON.stringify({ model: 'trimmed', pieces: trimmed.originalIds.length, ...(await measure(trimmed.dir)) }));
}
main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

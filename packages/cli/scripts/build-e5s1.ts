// Builds a model folder from a local E5S1 file and tokenizer.json (what `ensureModel` does after pip), and
// prints the time, peak memory and the sha256 that KNOWN_MODELS pins. Usage: npm run build-e5s1 -- BIN TOKENIZER OUT
import { buildE5S1ModelDir } from '../src/data/e5s1-model';
import { sha256File } from '../src/data/model-cache';

async function main(): Promise<void> {
  const [bin, tokenizer, out] = process.argv.slice(2);
  if (bin === undefined || tokenizer === undefined || out === undefined) throw new Error('usage: build-e5s1 BIN TOKENIZER OUT');
  const t0 = Date.now();
  const built = await buildE5S1ModelDir(bin, tokenizer, out);
  const rssMB = Math.round(process.memoryUsage().rss / 2 ** 20);
  console.log(JSON.stringify({ ...built, seconds: (Date.now() - t0) / 1000, rssMB, sha256: await sha256File(`${out}/model.safetensors`) }));
}
main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

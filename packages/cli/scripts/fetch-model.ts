// `ensureModel(NAME)` from the command line, with time and peak memory (used to measure the me5 fetch).
import { ensureModel } from '../src/data/model-cache';

const name = process.argv[2] ?? 'multilingual-e5-small';
const t0 = Date.now();
ensureModel(name, { log: (s) => console.error(s) })
  .then((dir) => console.log(JSON.stringify({ dir, seconds: (Date.now() - t0) / 1000, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) })))
  .catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });

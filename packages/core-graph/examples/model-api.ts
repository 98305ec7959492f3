// The model-level API (like AdapterHub's add_adapter / train_adapter / save_adapter): one object for graph,
// weights, tokenizer and labels. Usage: node model-api.js [MODEL_DIR_OR_NAME] (default: all-MiniLM-L6-v2).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterModel } from '@adapters/core-graph';
import { plugins } from '@adapters/adapter-bottleneck';

const train = [
  { text: 'a gorgeous, witty film', label: 'pos' }, { text: 'a dull, tedious mess', label: 'neg' },
  { text: 'lovely acting and a great plot', label: 'pos' }, { text: 'boring and far too long', label: 'neg' },
];

async function main(): Promise<void> {
  const model = await AdapterModel.fromPretrained(process.argv[2] ?? 'all-MiniLM-L6-v2', { plugins });
  // Pfeiffer adapter in the FFN of the top two layers only; the placement is saved with the adapter.
  const layers = model.graph.meta['config'] as { numLayers: number };
  model.addAdapter('sentiment', 'bottleneck', { config: 'seq_bn' },
    { select: { kinds: ['ffn'], layers: [layers.numLayers - 2, layers.numLayers - 1] }, mode: 'wrap' });
  model.addClassificationHead('sentiment', { labels: ['neg', 'pos'], pooling: 'mean' });
  model.trainAdapter('sentiment');                      // only the adapter and its head train
  const result = model.fit(train, { epochs: 3, batchSize: 2, learningRate: 1e-3 });
  console.log(`${result.steps} steps`);

  const dir = await mkdtemp(join(tmpdir(), 'sentiment-'));
  await model.saveAdapter(dir, 'sentiment');            // AdapterHub layout + placement + label names
  model.dispose();

  const fresh = await AdapterModel.fromPretrained(process.argv[2] ?? 'all-MiniLM-L6-v2', { plugins });
  await fresh.loadAdapter(dir);                         // no rule needed: the placement comes from the file
  for (const p of fresh.predict(['what a charming film', 'a tedious plot'])) console.log(p.label, p.score.toFixed(3));
  fresh.dispose();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

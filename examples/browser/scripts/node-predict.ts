// Node's predictions for the browser test: the same model and adapter folders the page fetches, read from disk by the
// Node entry's AdapterModel (its own tokeniser, batching and softmax). Usage (through build.mjs):
//   node build.mjs node-predict --out DIR --texts '["a great film", ...]'   → JSON { adapter: [[p0, p1], ...] }
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { AdapterModel, selectBackend } from '@adapters/core-graph';
import { plugins } from '@adapters/adapter-bottleneck';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1]; };
  const out = resolve(flag('--out') ?? 'dist');
  const texts = JSON.parse(flag('--texts') ?? '[]') as string[];
  await selectBackend({ prefer: flag('--backend') ?? 'cpu' });
  const index = JSON.parse(readFileSync(join(out, 'adapters', 'index.json'), 'utf8')) as { adapters: Array<{ name: string }>; maxLength: number };
  const result: Record<string, number[][]> = {};
  for (const { name } of index.adapters) {
    const model = await AdapterModel.fromPretrained(join(out, 'model'), { plugins });
    await model.loadAdapter(join(out, 'adapters', name));
    const labels = Object.keys(model.predict(texts.slice(0, 1), { maxLength: index.maxLength })[0]!.scores);
    result[name] = model.predict(texts, { maxLength: index.maxLength }).map((p) => labels.map((l) => p.scores[l]!));
    model.dispose();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

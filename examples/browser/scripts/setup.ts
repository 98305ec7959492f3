// Writes what the page serves into OUT (default dist/): model/ (all-MiniLM-L6-v2 from the CLI's model cache, or with
// --tiny a small random BERT with a tokenizer.json over the demo data's words), adapters/NAME/ (AdapterHub folders
// trained here on the CLI's demo sentiment sentences), adapters/index.json and train.json (examples for the worker).
// Nothing here is committed: run `node build.mjs setup [--tiny] [--steps N] [--out DIR]`.
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AdapterModel, selectBackend, type LabelledText } from '@adapters/core-graph';
import { writeTinyModelDir } from '@adapters/core-graph/testing';
import { plugins } from '@adapters/adapter-bottleneck';
import { ensureModel } from '../../../packages/cli/src/data/model-cache';

const REPO = resolve(__dirname, '..', '..', '..');
const DEMO = join(REPO, 'packages', 'cli', 'assets', 'sentiment');
const MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

interface Row { readonly text: string; readonly label: string; readonly rating: number }

async function demoRows(file: string): Promise<Row[]> {
  const lines = (await readFile(join(DEMO, file), 'utf8')).split('\n').slice(1).filter((l) => l.trim() !== '');
  return lines.map((l) => {
    const [text, label, rating] = l.split('\t');
    return { text: text!, label: label!, rating: Number(rating) };
  });
}

/** The two tasks the page switches between, both from the demo sentences: polarity, and how strong the rating is. */
const TASKS: ReadonlyArray<{ name: string; config: string; labels: string[]; label: (r: Row) => string }> = [
  { name: 'sentiment', config: 'seq_bn', labels: ['negative', 'positive'], label: (r) => r.label },
  { name: 'intensity', config: 'par_bn', labels: ['mild', 'strong'], label: (r) => (Math.abs(r.rating) >= 2 ? 'strong' : 'mild') },
];

/** A WordPiece tokenizer.json (BERT normaliser, pre-tokeniser and [CLS] A [SEP] template) over `vocab`. */
function wordPieceTokenizerJson(vocab: readonly string[]): unknown {
  const id = (t: string): number => vocab.indexOf(t);
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => ({ id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
  };
}

/** A random BERT (hidden 32, 2 layers) whose vocabulary is the demo data's most frequent words. */
async function tinyModel(dir: string, rows: readonly Row[]): Promise<void> {
  const counts = new Map<string, number>();
  for (const r of rows) for (const w of r.text.toLowerCase().match(/[a-z]+|[^\sa-z]/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 400).map(([w]) => w);
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words];
  writeTinyModelDir(dir, vocab, { hiddenSize: 32, numLayers: 2, seed: 11 });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(vocab)));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 32 }));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1]; };
  const tiny = args.includes('--tiny');
  const out = resolve(flag('--out') ?? join(__dirname, '..', 'dist'));
  const steps = Number(flag('--steps') ?? (tiny ? 30 : 60));
  await selectBackend({ prefer: flag('--backend') ?? (tiny ? 'cpu' : undefined) });
  const rows = await demoRows('train.tsv');
  const modelDir = join(out, 'model');
  await mkdir(modelDir, { recursive: true });
  if (tiny) await tinyModel(modelDir, rows);
  else {
    const cached = await ensureModel('all-MiniLM-L6-v2', { log: (l) => console.log(l) });
    for (const f of MODEL_FILES) await copyFile(join(cached, f), join(modelDir, f));
  }
  const maxLength = tiny ? 32 : 64;
  const index: Array<{ name: string; labels: string[]; config: string; files: string[] }> = [];
  for (const [k, task] of TASKS.entries()) {
    const model = await AdapterModel.fromPretrained(modelDir, { plugins, seed: k });
    model.addAdapter(task.name, 'bottleneck', { config: task.config });
    model.addClassificationHead(task.name, { labels: task.labels, pooling: 'mean' });
    model.trainAdapter(task.name);
    const examples: LabelledText[] = rows.slice(k * 2000, k * 2000 + 16 * steps).map((r) => ({ text: r.text, label: task.label(r) }));
    const result = model.fit(examples, { epochs: 1, maxSteps: steps, batchSize: 16, learningRate: 1e-3, maxLength, seed: k });
    await model.saveAdapter(join(out, 'adapters', task.name), task.name);
    model.dispose();
    index.push({ name: task.name, labels: task.labels, config: task.config, files: (await readdir(join(out, 'adapters', task.name))).sort() });
    console.log(`adapter ${task.name}: ${result.steps} steps`);
  }
  await writeFile(join(out, 'adapters', 'index.json'), JSON.stringify({ adapters: index, modelFiles: (await readdir(modelDir)).sort(), maxLength }, null, 2));
  // The worker trains a new adapter on a few labelled sentences the adapters above did not see.
  const held = (await demoRows('dev.tsv')).slice(0, 64).map((r) => ({ text: r.text, label: r.label === 'positive' ? 1 : 0 }));
  await writeFile(join(out, 'train.json'), JSON.stringify({ labels: ['negative', 'positive'], examples: held, maxLength }));
  console.log(`wrote ${out}: model (${tiny ? 'tiny random BERT' : 'all-MiniLM-L6-v2'}), ${index.length} adapters, train.json`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

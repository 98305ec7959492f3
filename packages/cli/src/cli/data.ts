// Model and data plumbing shared by the CLI commands: model names → directories, column detection,
// tokenisation into TrainExamples, and the small files the CLI keeps next to a saved adapter.
import { promises as fs } from 'fs';
import * as path from 'path';
import { listColumns, readDataText, readExamples } from '@adapters/core-graph';
import { AdapterGraphError, ConfigError, DataError } from '@adapters/core-graph';
import { SPLICE_MODES } from '@adapters/core-graph';
import type { JsonSchema } from '@adapters/core-graph';
import { validateSchema } from '@adapters/core-graph';
import type { Example, LabelVocab } from '@adapters/core-graph';
import { isModelDirComplete, KNOWN_MODELS } from '@adapters/core-graph';
import { ensureModel } from '../data/model-cache';
import { parseDelimited, stripBom } from '@adapters/core-graph';
import type { TextTokenizer } from '@adapters/core-graph';
import { mulberry32 } from '@adapters/core-graph';
import { readableRunPath } from '@adapters/core-graph';
import type { SpliceMode } from '@adapters/core-graph';
import type { TrainExample } from '@adapters/core-graph';
import { runOfAdapterDir } from '@adapters/core-graph';
import type { OptionSpec, ParsedArgs } from './args';
import { UsageError } from './args';

/** Short names accepted by --model. */
export const MODEL_ALIASES: Readonly<Record<string, string>> = { minilm: 'all-MiniLM-L6-v2', 'all-minilm-l6-v2': 'all-MiniLM-L6-v2', me5: 'multilingual-e5-small' };

/** A directory with config.json + model.safetensors, or a known model name fetched into the cache. */
export async function resolveModel(spec: string, cwd: string, log: (line: string) => void): Promise<{ dir: string; name: string }> {
  const asDir = path.resolve(cwd, spec);
  const stat = await fs.stat(asDir).catch(() => undefined);
  if (stat?.isDirectory()) {
    if (!(await isModelDirComplete(asDir))) {
      throw new UsageError(`--model ${spec}: the directory lacks config.json, model.safetensors or a tokenizer (tokenizer.json / vocab.txt)`);
    }
    return { dir: asDir, name: path.basename(asDir) };
  }
  const name = MODEL_ALIASES[spec.toLowerCase()] ?? spec;
  if (KNOWN_MODELS[name] === undefined) {
    throw new UsageError(`--model '${spec}' is neither a directory nor a known model (known: ${[...Object.keys(KNOWN_MODELS), ...Object.keys(MODEL_ALIASES).filter((a) => !a.includes('-'))].join(', ')})`);
  }
  return { dir: await ensureModel(name, { log }), name };
}

export interface Columns {
  readonly text: string;
  readonly pair?: string;
  readonly label?: string;
}

const TEXT_NAMES = ['sentence', 'text', 'sentence1', 'question', 'premise', 'review', 'content'];
const PAIR_NAMES = ['sentence2', 'hypothesis', 'text_pair', 'question2'];
const LABEL_NAMES = ['label', 'labels', 'gold_label', 'class', 'category', 'sentiment'];

/** Column names of a TSV/CSV header or of the first JSONL record. */
async function columnNames(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readDataText(file);
  } catch (e) {
    if (e instanceof AdapterGraphError) throw e;
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') {
    const first = stripBom(text).split('\n').find((l) => l.trim() !== '');
    try {
      const obj: unknown = first === undefined ? {} : JSON.parse(first);
      return obj !== null && typeof obj === 'object' ? Object.keys(obj) : [];
    } catch {
      return [];
    }
  }
  const firstLine = stripBom(text).split('\n', 1)[0] ?? '';
  return parseDelimited(firstLine, ext === '.csv' ? ',' : '\t', ext === '.csv', file)[0]?.fields ?? [];
}

/** The columns to read: the ones given, else common names found in the header. */
export async function detectColumns(file: string, given: { text?: string; pair?: string; label?: string }, needLabel: boolean): Promise<Columns> {
  const names = await columnNames(file);
  const find = (candidates: string[]) => candidates.find((c) => names.includes(c));
  const text = given.text ?? find(TEXT_NAMES);
  if (text === undefined) throw new UsageError(`${file}: cannot tell which column holds the text (columns: ${names.length > 0 ? listColumns(names) : 'none'}); pass --text-column`);
  const pair = given.pair ?? find(PAIR_NAMES.filter((p) => p !== text));
  const label = given.label ?? find(LABEL_NAMES);
  if (needLabel && label === undefined) throw new UsageError(`${file}: cannot tell which column holds the label (columns: ${names.length > 0 ? listColumns(names) : 'none'}); pass --label-column`);
  return { text, ...(pair !== undefined ? { pair } : {}), ...(label !== undefined ? { label } : {}) };
}

export async function readColumns(file: string, columns: Columns): Promise<Example[]> {
  try {
    return await readExamples(file, { text: columns.text, ...(columns.pair !== undefined ? { textPair: columns.pair } : {}), ...(columns.label !== undefined ? { label: columns.label } : {}) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`cannot read ${file}: no such file`);
    if (e instanceof DataError && /^no column /.test(e.message.slice(file.length + 2))) throw new UsageError(e.message); // fixable with --text-column etc.
    if (e instanceof AdapterGraphError) throw e;
    throw new UsageError((e as Error).message);
  }
}

/** A seeded random subset of `n` items, kept in file order. */
export function sample<T>(items: readonly T[], n: number | undefined, seed: number): T[] {
  if (n === undefined || n >= items.length) return [...items];
  const rand = mulberry32(seed);
  const idx = items.map((_v, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => items[i] as T);
}

export function encodeExamples(examples: readonly Example[], tokenizer: TextTokenizer, labels: LabelVocab | undefined, maxLength: number, file: string): TrainExample[] {
  return examples.map((ex, i) => {
    const enc = tokenizer.encode(ex.text, ex.textPair, { maxLength });
    let label = 0;
    if (labels) {
      if (ex.label === undefined) throw new UsageError(`${file}: example ${i + 1} has no label`);
      try {
        label = labels.id(ex.label);
      } catch {
        throw new UsageError(`${file}: example ${i + 1} has label '${ex.label}', which the training data lacks (labels: ${labels.labels.join(', ')})`);
      }
    }
    return { inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds, label };
  });
}

/** The share of the most frequent label: the accuracy of always guessing it. */
export function majorityShare(examples: readonly TrainExample[]): number {
  const counts = new Map<number, number>();
  for (const e of examples) if (typeof e.label === 'number') counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
  return examples.length === 0 ? 0 : Math.max(0, ...counts.values()) / examples.length;
}

/** What a command needs to use a saved adapter: read from run.json (or an older run's labels.json). */
export interface LabelsFile {
  readonly labels: readonly string[];
  readonly adapter: string;
  readonly head: string;
  readonly plugin: string;
  readonly spec: string;
  readonly model: string;
  readonly maxLength: number;
  readonly columns: Columns;
  /** The exact sites and mode the adapter was placed at, so it can be re-applied when loading. */
  readonly placement: { readonly sites: readonly string[]; readonly mode: SpliceMode } | undefined;
  /** The file this was read from (run.json or an older run's labels.json), for errors. */
  readonly source?: string;
}

/** `--adapter-dir` may name the adapter dir itself or a training output dir holding `adapter/`. */
export async function resolveAdapterDir(given: string, cwd: string, option = '--adapter-dir'): Promise<string> {
  // A run whose swap was cut off by a kill is read from its backup (the previous complete run).
  const dir = readableRunPath(path.resolve(cwd, given));
  const has = (d: string) =>
    fs
      .stat(path.join(d, 'adapter_config.json'))
      .then(() => true)
      .catch(() => false);
  if (await has(dir)) return dir;
  if (await has(path.join(dir, 'adapter'))) return path.join(dir, 'adapter');
  throw new UsageError(`${option} ${given}: no adapter_config.json there (nor in ${path.join(given, 'adapter')}); pass the directory 'adapters train --out' wrote`);
}

/** A path relative to the working directory when it is inside it, else absolute. */
export function shortPath(cwd: string, p: string): string {
  const rel = path.relative(cwd, p);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

export type GivenColumns = { text?: string; pair?: string; label?: string };

/** The column options every data-reading command takes (plugin commands reuse them). */
export const COLUMN_OPTIONS: readonly OptionSpec[] = [
  { name: 'text-column', type: 'string', metavar: 'COL', help: 'column holding the text', defaultText: 'sentence, text, sentence1, ... whichever exists' },
  { name: 'pair-column', type: 'string', metavar: 'COL', help: 'column holding the second text of a pair', defaultText: 'sentence2 / hypothesis if present' },
  { name: 'label-column', type: 'string', metavar: 'COL', help: 'column holding the label', defaultText: 'label' },
];

/** `--text-column` etc. as given (absent ones omitted), on top of `base`. */
export function givenColumns(args: ParsedArgs, base: GivenColumns = {}): GivenColumns {
  const out: GivenColumns = { ...base };
  for (const [k, opt] of [['text', 'text-column'], ['pair', 'pair-column'], ['label', 'label-column']] as const) {
    const v = args.string(opt);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

const LABELS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['labels'],
  additionalProperties: false,
  properties: {
    labels: { type: 'array', minItems: 1, items: { type: 'string' } },
    adapter: { type: 'string' },
    head: { type: 'string' },
    plugin: { type: 'string' },
    spec: { type: 'string' },
    model: { type: 'string' },
    maxLength: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    columns: { type: 'object', additionalProperties: false, properties: { text: { type: 'string' }, pair: { type: 'string' }, label: { type: 'string' } } },
    placement: {
      anyOf: [
        { type: 'null' },
        { type: 'object', required: ['sites', 'mode'], additionalProperties: false, properties: { sites: { type: 'array', minItems: 1, items: { type: 'string' } }, mode: { type: 'string', enum: [...SPLICE_MODES] } } },
      ],
    },
  },
};

/**
 * What the run.json beside the adapter (or of the run holding it) records about it; else an older run's labels.json
 * (validated by schema); undefined when there is neither.
 */
export async function readLabelsFile(adapterDir: string): Promise<LabelsFile | undefined> {
  const run = await runOfAdapterDir(adapterDir);
  if (run) {
    const { manifest, adapter, head } = run;
    return {
      labels: head?.labels as readonly string[], adapter: adapter.name, head: head?.name ?? adapter.name, plugin: '', spec: '', model: manifest.model,
      maxLength: manifest.maxLength, columns: manifest.columns as Columns, placement: adapter.placement as LabelsFile['placement'], source: path.join(run.dir, 'run.json'),
    };
  }
  for (const file of [path.join(adapterDir, 'labels.json'), path.join(adapterDir, '..', 'labels.json')]) {
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new UsageError(`${file} is not valid JSON; re-run 'adapters train' or fix the file`);
    }
    validateSchema(LABELS_SCHEMA, v, file);
    const labels = (v as LabelsFile).labels;
    if (new Set(labels).size !== labels.length) throw new ConfigError(`${file}.labels`, 'lists a label twice');
    return { ...(v as LabelsFile), source: file };
  }
  return undefined;
}

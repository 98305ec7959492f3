// Column detection, reading and tokenisation for this package's CLI commands. core-graph's CLI has the same
// helpers (cli/data.ts: detectColumns, readColumns, encodeExamples) but does not export them, so the small
// part needed here is repeated with the same column names and messages.
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Example, LabelVocab, OptionSpec, ParsedArgs, TextTokenizer, TrainExample } from '@adapters/core-graph';
import { parseDelimited, readExamples, stripBom, UsageError } from '@adapters/core-graph';

export interface Columns {
  readonly text: string;
  readonly pair?: string;
  readonly label?: string;
}

export type GivenColumns = { text?: string; pair?: string; label?: string };

/** The column options of core's `adapters train`. */
export const COLUMN_OPTIONS: readonly OptionSpec[] = [
  { name: 'text-column', type: 'string', metavar: 'COL', help: 'column holding the text', defaultText: 'sentence, text, sentence1, ... whichever exists' },
  { name: 'pair-column', type: 'string', metavar: 'COL', help: 'column holding the second text of a pair', defaultText: 'sentence2 / hypothesis if present' },
  { name: 'label-column', type: 'string', metavar: 'COL', help: 'column holding the label', defaultText: 'label' },
];

const TEXT_NAMES = ['sentence', 'text', 'sentence1', 'question', 'premise', 'review', 'content'];
const PAIR_NAMES = ['sentence2', 'hypothesis', 'text_pair', 'question2'];
const LABEL_NAMES = ['label', 'labels', 'gold_label', 'class', 'category', 'sentiment'];

/** `--text-column` etc. as given (absent ones omitted), on top of `base`. */
export function givenColumns(args: ParsedArgs, base: GivenColumns = {}): GivenColumns {
  const out: GivenColumns = { ...base };
  for (const [k, opt] of [['text', 'text-column'], ['pair', 'pair-column'], ['label', 'label-column']] as const) {
    const v = args.string(opt);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

async function columnNames(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
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
export async function detectColumns(file: string, given: GivenColumns, needLabel: boolean): Promise<Columns> {
  const names = await columnNames(file);
  const find = (candidates: string[]) => candidates.find((c) => names.includes(c));
  const text = given.text ?? find(TEXT_NAMES);
  if (text === undefined) throw new UsageError(`${file}: cannot tell which column holds the text (columns: ${names.join(', ') || 'none'}); pass --text-column`);
  const pair = given.pair ?? find(PAIR_NAMES.filter((p) => p !== text));
  const label = given.label ?? find(LABEL_NAMES);
  if (needLabel && label === undefined) throw new UsageError(`${file}: cannot tell which column holds the label (columns: ${names.join(', ') || 'none'}); pass --label-column`);
  return { text, ...(pair !== undefined ? { pair } : {}), ...(label !== undefined ? { label } : {}) };
}

export async function readColumns(file: string, columns: Columns): Promise<Example[]> {
  try {
    return await readExamples(file, { text: columns.text, ...(columns.pair !== undefined ? { textPair: columns.pair } : {}), ...(columns.label !== undefined ? { label: columns.label } : {}) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`cannot read ${file}: no such file`);
    throw new UsageError((e as Error).message);
  }
}

/** Tokenises; with `labels`, every example must carry a known label (else label 0). */
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

/** `given` may be an adapter dir (adapter_config.json) or a training output dir holding `adapter/`. */
export async function resolveAdapterDir(given: string, cwd: string, option: string): Promise<string> {
  const dir = path.resolve(cwd, given);
  const has = (d: string) => stat(path.join(d, 'adapter_config.json')).then(() => true, () => false);
  if (await has(dir)) return dir;
  if (await has(path.join(dir, 'adapter'))) return path.join(dir, 'adapter');
  throw new UsageError(`${option} ${given}: no adapter_config.json there (nor in ${path.join(given, 'adapter')})`);
}

/** A path relative to the working directory when it is inside it, else absolute. */
export function shortPath(cwd: string, p: string): string {
  const rel = path.relative(cwd, p);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

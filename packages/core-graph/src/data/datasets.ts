// Labelled text examples from TSV / CSV / JSONL files, with column mapping, and a label vocabulary.
import { promises as fs } from 'fs';
import * as path from 'path';
import { DataError, printable } from '../errors';
import type { TableRecord } from './table';
import { parseDelimited, stripBom } from './table';

export interface Example {
  text: string;
  textPair?: string;
  label?: string;
}

export type ExampleFormat = 'tsv' | 'csv' | 'jsonl';

export interface ReadExamplesOptions {
  /** Default: from the extension (.tsv/.txt → tsv, .csv → csv, .jsonl/.ndjson → jsonl). */
  format?: ExampleFormat;
  /** Column (or JSON key) holding the text. Headerless files without names use "0", "1", …. */
  text: string;
  textPair?: string;
  label?: string;
  /** Delimited files: true (default) = first row names the columns; false = no header; or the names. */
  header?: boolean | string[];
  /** Rows to drop before the header (or before the data when there is no header). */
  skipRows?: number;
  /** Honour `"` quoting. Default: true for CSV, false for TSV (GLUE MRPC has unbalanced quotes). */
  quoting?: boolean;
}

function formatOf(file: string): ExampleFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.tsv' || ext === '.txt') return 'tsv';
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new Error(`${file}: cannot tell the format from '${ext}'; pass format: 'tsv' | 'csv' | 'jsonl'`);
}

/** The 1-based line of byte `offset`. */
function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/**
 * A data file as text: UTF-8 only, and no NUL bytes (a binary file would otherwise become one "column" megabytes
 * long, echoed into the error message). Problems are DataErrors naming the file and line.
 */
export async function readDataText(file: string): Promise<string> {
  const bytes = await fs.readFile(file);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new DataError(file, lineAt(bytes, nul), `holds a NUL byte (at byte ${nul}): this looks like a binary file, not UTF-8 text (.tsv, .csv or .jsonl)`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Find the first bad sequence for the message: decode growing prefixes is too slow, so scan for it.
    const text = new TextDecoder('utf-8').decode(bytes);
    const bad = text.indexOf('\ufffd');
    const line = bad < 0 ? undefined : text.slice(0, bad).split('\n').length;
    throw new DataError(file, line, 'is not valid UTF-8 text');
  }
}

/** Column names for a message: each cut short, at most 20 of them. */
export function listColumns(names: readonly string[]): string {
  const shown = names.slice(0, 20).map((n) => `'${printable(n, 40)}'`);
  return `${shown.join(', ')}${names.length > 20 ? `, ... (${names.length} in all)` : ''}`;
}

/** Reads labelled examples; errors name the file, line and missing column. */
export async function readExamples(file: string, options: ReadExamplesOptions): Promise<Example[]> {
  const text = await readDataText(file);
  const format = options.format ?? formatOf(file);
  return format === 'jsonl' ? fromJsonl(text, file, options) : fromTable(text, format, file, options);
}

function fromTable(text: string, format: 'tsv' | 'csv', file: string, o: ReadExamplesOptions): Example[] {
  const quoting = o.quoting ?? format === 'csv';
  const records = parseDelimited(text, format === 'csv' ? ',' : '\t', quoting, file).slice(o.skipRows ?? 0);
  const header = o.header ?? true;
  let names: string[];
  let rows: TableRecord[];
  if (header === true) {
    const first = records[0];
    if (first === undefined) throw new DataError(file, undefined, 'empty file, expected a header row');
    names = first.fields;
    rows = records.slice(1);
  } else {
    rows = records;
    names = header === false ? (rows[0]?.fields ?? []).map((_, i) => String(i)) : header;
  }
  const index = (col: string): number => {
    const i = names.indexOf(col);
    if (i < 0) throw new DataError(file, undefined, `no column '${printable(col, 40)}' (columns: ${listColumns(names)})`);
    return i;
  };
  const textAt = index(o.text);
  const pairAt = o.textPair === undefined ? -1 : index(o.textPair);
  const labelAt = o.label === undefined ? -1 : index(o.label);
  return rows.map(({ fields, line }) => {
    // A wrong field count means a mis-split row (e.g. a stray tab or quote): refuse rather than shift columns.
    if (fields.length !== names.length) {
      const need = [o.text, o.textPair, o.label].filter((c): c is string => c !== undefined && index(c) >= fields.length);
      const what = need.length > 0 ? `missing column '${need[0]}'` : 'extra fields';
      throw new DataError(file, line, `${what} (row has ${fields.length} fields, expected ${names.length})`);
    }
    return makeExample(fields[textAt] as string, pairAt < 0 ? undefined : fields[pairAt], labelAt < 0 ? undefined : fields[labelAt]);
  });
}

function fromJsonl(text: string, file: string, o: ReadExamplesOptions): Example[] {
  const out: Example[] = [];
  const lines = stripBom(text).split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || i < (o.skipRows ?? 0)) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new DataError(file, i + 1, `invalid JSON (${printable((e as Error).message, 120)})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new DataError(file, i + 1, 'expected a JSON object per line');
    const get = (key: string): string => {
      const v = Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v); // labels are often 0/1
      throw new DataError(file, i + 1, `missing column '${printable(key, 40)}'${v === undefined ? '' : ` (got ${printable(JSON.stringify(v) ?? String(v), 80)})`}`);
    };
    out.push(makeExample(get(o.text), o.textPair === undefined ? undefined : get(o.textPair), o.label === undefined ? undefined : get(o.label)));
  });
  return out;
}

// exactOptionalPropertyTypes: leave absent fields out instead of setting them to undefined.
function makeExample(text: string, textPair: string | undefined, label: string | undefined): Example {
  const ex: Example = { text };
  if (textPair !== undefined) ex.textPair = textPair;
  if (label !== undefined) ex.label = label;
  return ex;
}

/** Numeric labels by value ("2" before "10"), others by code unit order. */
function sortLabels(labels: string[]): string[] {
  const numeric = labels.every((l) => l.trim() !== '' && Number.isFinite(Number(l)));
  return numeric ? labels.sort((a, b) => Number(a) - Number(b)) : labels.sort();
}

/** Label ↔ id mapping; ids follow the given order, else the sorted labels (stable across runs). */
export class LabelVocab {
  private readonly ids = new Map<string, number>();

  constructor(readonly labels: readonly string[]) {
    labels.forEach((l, i) => {
      if (this.ids.has(l)) throw new Error(`duplicate label '${l}'`);
      this.ids.set(l, i);
    });
  }

  static fromExamples(examples: readonly Example[], order?: readonly string[]): LabelVocab {
    const seen = new Set<string>();
    for (const ex of examples) {
      if (ex.label === undefined) throw new Error(`example without a label: ${JSON.stringify(ex.text.slice(0, 60))}`);
      seen.add(ex.label);
    }
    if (order === undefined) return new LabelVocab(sortLabels([...seen]));
    const unknown = [...seen].filter((l) => !order.includes(l));
    if (unknown.length > 0) throw new Error(`labels not in the given order: ${unknown.join(', ')}`);
    return new LabelVocab(order);
  }

  get size(): number {
    return this.labels.length;
  }

  id(label: string): number {
    const id = this.ids.get(label);
    if (id === undefined) throw new Error(`unknown label '${label}' (known: ${this.labels.join(', ')})`);
    return id;
  }

  label(id: number): string {
    const l = this.labels[id];
    if (l === undefined) throw new Error(`label id ${id} out of range 0..${this.size - 1}`);
    return l;
  }
}

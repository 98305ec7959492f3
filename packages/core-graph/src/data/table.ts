// Splits delimited text into records. Two modes, because real TSVs (GLUE MRPC/RTE) contain
// unbalanced `"` that a quoting parser would swallow across lines:
//  - plain: one record per line, split on the delimiter only;
//  - quoted (RFC 4180): `"..."` fields may hold delimiters, `""` and newlines.

export interface TableRecord {
  fields: string[];
  /** 1-based line where the record starts (for error messages). */
  line: number;
}

/** Removes a UTF-8 byte-order mark, which would otherwise stick to the first column name. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Records of `text`; blank lines are skipped; CRLF or LF; a final newline is optional. */
export function parseDelimited(text: string, delimiter: string, quoting: boolean, file = '<input>'): TableRecord[] {
  return quoting ? parseQuoted(stripBom(text), delimiter, file) : parsePlain(stripBom(text), delimiter);
}

function parsePlain(text: string, delimiter: string): TableRecord[] {
  const out: TableRecord[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line !== '') out.push({ fields: line.split(delimiter), line: i + 1 });
  });
  return out;
}

function parseQuoted(text: string, delimiter: string, file: string): TableRecord[] {
  const out: TableRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let i = 0;
  let atFieldStart = true;
  let inRecord = false; // false on a blank line, which is skipped rather than read as one empty field
  const endRecord = (): void => {
    fields.push(field);
    if (inRecord) out.push({ fields, line: start });
    fields = [];
    field = '';
    atFieldStart = true;
    inRecord = false;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c !== '\n' && c !== '\r') inRecord = true;
    if (atFieldStart && c === '"') {
      // Quoted field: runs to the next lone quote.
      const open = line;
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`${file}:${open}: unterminated quoted field`);
        const q = text[i] as string;
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== delimiter && next !== '\n' && !(next === '\r' && text[i + 1] === '\n')) {
        throw new Error(`${file}:${line}: unexpected '${next}' after a closing quote (quotes inside a field must be doubled)`);
      }
      atFieldStart = false;
      continue;
    }
    if (c === delimiter) {
      fields.push(field);
      field = '';
      atFieldStart = true;
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += c; // a quote inside an unquoted field is kept literally
      atFieldStart = false;
    }
    i++;
  }
  if (inRecord) endRecord(); // no final newline
  return out;
}

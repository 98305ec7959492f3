// CoNLL-U (Universal Dependencies) reader: basic-tree syntactic words only.
import { promises as fs } from 'fs';
import { stripBom } from './table';

export interface ConlluToken {
  form: string;
  lemma: string;
  upos: string;
  /** 1-based index of the head word; 0 for the root. */
  head: number;
  deprel: string;
}

export interface Sentence {
  /** From `# text = …`, when present. */
  text?: string;
  sentId?: string;
  tokens: ConlluToken[];
}

/** Parses CoNLL-U text; `file` only labels errors. */
export function parseConllu(content: string, file = '<input>'): Sentence[] {
  const out: Sentence[] = [];
  let cur: Sentence = { tokens: [] };
  let start = 1;
  const flush = (): void => {
    const bad = cur.tokens.findIndex((t) => t.head > cur.tokens.length);
    if (bad >= 0) throw new Error(`${file}:${start}: word ${bad + 1} has head ${cur.tokens[bad]?.head} outside the sentence`);
    if (cur.tokens.length > 0) out.push(cur);
    cur = { tokens: [] };
  };
  stripBom(content)
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') {
        flush();
        start = i + 2;
        return;
      }
      if (line.startsWith('#')) {
        const m = /^#\s*(text|sent_id)\s*=\s?(.*)$/.exec(line);
        if (m?.[1] === 'text') cur.text = m[2] ?? '';
        else if (m?.[1] === 'sent_id') cur.sentId = (m[2] ?? '').trim();
        return;
      }
      const cols = line.split('\t');
      if (cols.length !== 10) throw new Error(`${file}:${i + 1}: expected 10 tab-separated columns, got ${cols.length}`);
      const [id, form, lemma, upos, , , head, deprel] = cols as [string, string, string, string, string, string, string, string];
      // Multiword tokens (3-4) repeat their parts' surface; empty nodes (3.1) belong to enhanced graphs.
      if (id.includes('-') || id.includes('.')) return;
      if (!/^\d+$/.test(id)) throw new Error(`${file}:${i + 1}: bad word id '${id}'`);
      if (Number(id) !== cur.tokens.length + 1) throw new Error(`${file}:${i + 1}: word id ${id} out of sequence (missing blank line between sentences?)`);
      if (!/^\d+$/.test(head)) throw new Error(`${file}:${i + 1}: bad head '${head}' for word ${id}`);
      cur.tokens.push({ form, lemma, upos, head: Number(head), deprel });
    });
  flush();
  return out;
}

export async function readConllu(file: string): Promise<Sentence[]> {
  return parseConllu(await fs.readFile(file, 'utf8'), file);
}

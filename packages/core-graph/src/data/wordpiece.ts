// BERT WordPiece tokenizer from a bare vocab.txt: basic tokenization (clean, CJK
// spacing, lowercase, accent stripping, punctuation split) then greedy longest-match
// word pieces. Used when a model dir has no tokenizer.json.

/** vocab.txt: one token per line, the line number is the id. */
export function parseVocabTxt(text: string): Map<string, number> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // final newline
  const vocab = new Map<string, number>();
  lines.forEach((tok, i) => vocab.set(tok, i));
  return vocab;
}

export interface WordPieceOptions {
  lowercase: boolean;
  /** Defaults to `lowercase`, as in BERT (strip_accents: null). */
  stripAccents?: boolean;
  tokenizeChineseChars?: boolean;
  unkToken: string;
  /** Tokens kept whole when they appear in the text (e.g. "[MASK]"). */
  neverSplit?: readonly string[];
  maxCharsPerWord?: number;
}

const isWhitespace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || /\p{Zs}/u.test(c);
const isControl = (c: string): boolean => c !== '\t' && c !== '\n' && c !== '\r' && /[\p{Cc}\p{Cf}]/u.test(c);
// BERT treats all non-alphanumeric ASCII as punctuation, e.g. "$" and "^", which Unicode does not.
function isPunctuation(c: string): boolean {
  const cp = c.codePointAt(0) ?? 0;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(c);
}
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

export class WordPieceTokenizer {
  private readonly stripAccents: boolean;
  private readonly special: RegExp | null;

  constructor(
    readonly vocab: ReadonlyMap<string, number>,
    private readonly opts: WordPieceOptions,
  ) {
    this.stripAccents = opts.stripAccents ?? opts.lowercase;
    const keep = (opts.neverSplit ?? []).filter((t) => t !== '');
    this.special = keep.length > 0 ? new RegExp(`(${keep.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`) : null;
  }

  /** Text → word-piece tokens, no special tokens added. */
  tokenize(text: string): string[] {
    const parts = this.special ? text.split(this.special) : [text];
    const out: string[] = [];
    parts.forEach((part, i) => {
      if (i % 2 === 1) out.push(part); // a captured special token
      else for (const word of this.basic(part)) out.push(...this.wordPiece(word));
    });
    return out;
  }

  /** Basic tokenization: words and punctuation marks. */
  basic(text: string): string[] {
    let clean = '';
    for (const c of text) {
      const cp = c.codePointAt(0) ?? 0;
      if (cp === 0 || cp === 0xfffd || isControl(c)) continue;
      if (isWhitespace(c)) clean += ' ';
      else if (this.opts.tokenizeChineseChars !== false && isCjk(cp)) clean += ` ${c} `;
      else clean += c;
    }
    const words: string[] = [];
    for (let w of clean.split(' ')) {
      if (w === '') continue;
      if (this.opts.lowercase) w = w.toLowerCase();
      if (this.stripAccents) w = w.normalize('NFD').replace(/\p{Mn}/gu, '');
      let cur = '';
      for (const c of w) {
        if (isPunctuation(c)) {
          if (cur !== '') words.push(cur);
          words.push(c);
          cur = '';
        } else cur += c;
      }
      if (cur !== '') words.push(cur);
    }
    return words;
  }

  /** Greedy longest-match-first; a word with any unmatched remainder becomes [UNK]. */
  wordPiece(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > (this.opts.maxCharsPerWord ?? 100)) return [this.opts.unkToken];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.vocab.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (found === undefined) return [this.opts.unkToken];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }
}

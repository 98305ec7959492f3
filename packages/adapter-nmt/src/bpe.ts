import { ConfigError } from '@adapters/core-graph';

/** File format tag of a saved `BpeTokenizer` (`tokenizer.bpe.json`). */
export const BPE_FORMAT = 'adapters-ts.bpe/1';
export const BPE_FILE = 'tokenizer.bpe.json';
/** Marks a piece that starts a whitespace-separated word (SentencePiece's ▁), so decoding restores the spacing. */
export const WORD_START = '\u2581';
/** Limits on training and loading (a tokenizer file is read whole). */
export const BPE_LIMITS = { vocab: 65_536, pieceChars: 64, texts: 2_000_000 } as const;

export interface BpeTrainOptions {
  /** Vocabulary size including the special tokens and the alphabet (merges stop there or when no pair repeats). */
  readonly vocabSize: number;
  /** Special tokens, first ids in this order; must contain `<pad>`, `</s>` and `<unk>`. */
  readonly specials?: readonly string[];
  /** A character seen fewer times than this maps to `<unk>` (default 2). */
  readonly minCharCount?: number;
}

export interface BpeJson {
  readonly format: typeof BPE_FORMAT;
  readonly specials: readonly string[];
  readonly alphabet: readonly string[];
  readonly merges: ReadonlyArray<readonly [string, string]>;
}

export const DEFAULT_SPECIALS: readonly string[] = ['<pad>', '</s>', '<unk>'];

/** Words and punctuation, each with ▁ when whitespace (or the text's start) precedes it. NFC first. */
export function pretokenize(text: string): string[] {
  const out: string[] = [];
  const re = /(\s*)(\p{L}[\p{L}\p{M}]*|\p{N}+|[^\s\p{L}\p{N}])/gu;
  let first = true;
  for (const m of text.normalize('NFC').matchAll(re)) {
    out.push(((m[1] as string).length > 0 || first ? WORD_START : '') + (m[2] as string));
    first = false;
  }
  return out;
}

const pairKey = (a: string, b: string): string => `${a}\u0000${b}`;

/**
 * Byte-pair encoding trained here (Sennrich et al. 2016 over characters of pre-tokenised words). Deterministic: the
 * most frequent adjacent pair merges first, ties broken by the pair's code-unit order, so one corpus gives one file.
 */
export class BpeTokenizer {
  readonly specials: readonly string[];
  readonly alphabet: readonly string[];
  readonly merges: ReadonlyArray<readonly [string, string]>;
  readonly vocab: readonly string[];
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();

  constructor(json: BpeJson, source = BPE_FILE) {
    if (json.format !== BPE_FORMAT) throw new ConfigError(`${source}: format`, `must be ${JSON.stringify(BPE_FORMAT)}, got ${JSON.stringify(json.format)}`);
    for (const s of DEFAULT_SPECIALS) if (!json.specials.includes(s)) throw new ConfigError(`${source}: specials`, `must contain ${s}`);
    this.specials = [...json.specials];
    this.alphabet = [...json.alphabet];
    this.merges = json.merges.map(([a, b]) => [a, b] as const);
    this.vocab = [...this.specials, ...this.alphabet, ...this.merges.map(([a, b]) => a + b)];
    if (this.vocab.length > BPE_LIMITS.vocab) throw new ConfigError(`${source}: merges`, `vocabulary of ${this.vocab.length} exceeds ${BPE_LIMITS.vocab}`);
    this.vocab.forEach((p, i) => {
      if (typeof p !== 'string' || p.length === 0 || p.length > BPE_LIMITS.pieceChars) throw new ConfigError(`${source}: vocab[${i}]`, 'pieces are non-empty strings of at most 64 characters');
      if (this.ids.has(p)) throw new ConfigError(`${source}: vocab[${i}]`, `piece ${JSON.stringify(p)} appears twice`);
      this.ids.set(p, i);
    });
    this.merges.forEach(([a, b], r) => {
      if (!this.ids.has(a) || !this.ids.has(b) || (this.ids.get(a) as number) >= this.specials.length + this.alphabet.length + r
        || (this.ids.get(b) as number) >= this.specials.length + this.alphabet.length + r) {
        throw new ConfigError(`${source}: merges[${r}]`, `merges pieces not defined before it (${JSON.stringify(a)}, ${JSON.stringify(b)})`);
      }
      this.ranks.set(pairKey(a, b), r);
    });
  }

  get size(): number {
    return this.vocab.length;
  }

  id(token: string): number {
    const i = this.ids.get(token);
    if (i === undefined) throw new ConfigError('token', `${JSON.stringify(token)} is not in the vocabulary`);
    return i;
  }

  get padId(): number {
    return this.id('<pad>');
  }

  get eosId(): number {
    return this.id('</s>');
  }

  get unkId(): number {
    return this.id('<unk>');
  }

  static train(texts: Iterable<string>, options: BpeTrainOptions): BpeTokenizer {
    const specials = options.specials ?? DEFAULT_SPECIALS;
    const words = new Map<string, number>();
    let n = 0;
    for (const t of texts) {
      if (++n > BPE_LIMITS.texts) throw new ConfigError('texts', `more than ${BPE_LIMITS.texts} texts`);
      for (const w of pretokenize(t)) words.set(w, (words.get(w) ?? 0) + 1);
    }
    const charCount = new Map<string, number>();
    for (const [w, c] of words) for (const ch of w) charCount.set(ch, (charCount.get(ch) ?? 0) + c);
    const minChar = options.minCharCount ?? 2;
    const alphabet = [...charCount].filter(([ch, c]) => c >= minChar && !specials.includes(ch)).map(([ch]) => ch).sort();
    const known = new Set(alphabet);
    // Words as symbol arrays (rare characters become a fixed placeholder that never merges).
    const entries = [...words].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w, c]) => ({ syms: [...w].map((ch) => (known.has(ch) ? ch : '\u0000')), count: c }));
    const merges: Array<[string, string]> = [];
    const target = options.vocabSize - specials.length - alphabet.length;
    // Pair counts and, per pair, the words holding it: a merge only recounts those words.
    const counts = new Map<string, number>();
    const where = new Map<string, Set<number>>();
    const visit = (w: number, sign: 1 | -1) => {
      const e = entries[w] as { syms: string[]; count: number };
      for (let i = 0; i + 1 < e.syms.length; i++) {
        const a = e.syms[i] as string;
        const b = e.syms[i + 1] as string;
        if (a === '\u0000' || b === '\u0000' || a.length + b.length > BPE_LIMITS.pieceChars) continue;
        const k = pairKey(a, b);
        counts.set(k, (counts.get(k) ?? 0) + sign * e.count);
        if (sign > 0) {
          let set = where.get(k);
          if (!set) where.set(k, (set = new Set()));
          set.add(w);
        }
      }
    };
    entries.forEach((_e, w) => visit(w, 1));
    while (merges.length < target) {
      let best: string | undefined;
      let bestCount = 1;
      for (const [k, c] of counts) if (c > bestCount || (c === bestCount && best !== undefined && k < best)) [best, bestCount] = [k, c];
      if (best === undefined) break;
      const [a, b] = best.split('\u0000') as [string, string];
      merges.push([a, b]);
      const merged = a + b;
      const touched = [...(where.get(best) ?? [])].sort((x, y) => x - y);
      for (const w of touched) {
        visit(w, -1);
        const e = entries[w] as { syms: string[] };
        for (let i = 0; i + 1 < e.syms.length; i++) {
          if (e.syms[i] === a && e.syms[i + 1] === b) e.syms.splice(i, 2, merged);
        }
        visit(w, 1);
      }
      counts.delete(best);
      where.delete(best);
      for (const [k, c] of counts) if (c <= 0) counts.delete(k);
    }
    return new BpeTokenizer({ format: BPE_FORMAT, specials: [...specials], alphabet, merges });
  }

  /** Pieces of one pre-tokenised word: lowest-rank merge first, until none applies. */
  private encodeWord(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    let syms = [...word];
    for (;;) {
      let bestRank = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.ranks.get(pairKey(syms[i] as string, syms[i + 1] as string));
        if (r !== undefined && r < bestRank) [bestRank, at] = [r, i];
      }
      if (at < 0) break;
      syms = [...syms.slice(0, at), (syms[at] as string) + (syms[at + 1] as string), ...syms.slice(at + 2)];
    }
    const unk = this.unkId;
    const ids = syms.map((s) => this.ids.get(s) ?? unk);
    if (this.cache.size < 100_000) this.cache.set(word, ids);
    return ids;
  }

  /** Token ids of a text (no special tokens added). */
  encode(text: string): number[] {
    return pretokenize(text).flatMap((w) => this.encodeWord(w));
  }

  /** The text of token ids; special tokens are dropped. */
  decode(ids: readonly number[]): string {
    const specials = this.specials.length;
    return ids.filter((i) => i >= specials && i < this.vocab.length).map((i) => this.vocab[i] as string).join('').split(WORD_START).join(' ').trim();
  }

  toJSON(): BpeJson {
    return { format: BPE_FORMAT, specials: [...this.specials], alphabet: [...this.alphabet], merges: this.merges.map(([a, b]) => [a, b] as const) };
  }

  static fromJSON(value: unknown, source = BPE_FILE): BpeTokenizer {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(source, 'must be a JSON object');
    const v = value as Record<string, unknown>;
    for (const k of ['specials', 'alphabet', 'merges'] as const) if (!Array.isArray(v[k])) throw new ConfigError(`${source}: ${k}`, 'must be an array');
    (v['merges'] as unknown[]).forEach((m, i) => {
      if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string') throw new ConfigError(`${source}: merges[${i}]`, 'must be a pair of strings');
    });
    return new BpeTokenizer(v as unknown as BpeJson, source);
  }
}

// Text → model inputs for BERT-family models. tokenizer.json is run by
// @huggingface/tokenizers (pure JS); a bare vocab.txt falls back to our WordPiece.
// Truncation, special tokens and padding are done here, the same way for both, because
// the JS library has no truncation and tokenizer.json's own padding (e.g. Fixed 128) is unwanted.
import { Tokenizer } from '@huggingface/tokenizers';
import type { FileSource } from '../io/file-source';
import { parseVocabTxt, WordPieceTokenizer } from './wordpiece';

export interface Encoded {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
}
export interface BatchEncoded {
  inputIds: number[][];
  tokenTypeIds: number[][];
  attentionMask: number[][];
}
export interface EncodeOptions {
  /** Total length including special tokens; longer inputs are truncated longest-first. */
  maxLength?: number;
}
export interface BatchEncodeOptions extends EncodeOptions {
  /** Pad to the longest row (default) or to a fixed length. */
  padTo?: 'longest' | number;
}
/** A text, or a text pair; `Example` from datasets.ts fits. */
export type TextInput = string | { text: string; textPair?: string | undefined };

export interface TextTokenizer {
  readonly kind: 'tokenizer.json' | 'vocab.txt';
  readonly vocabSize: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  /** From tokenizer_config.json / config.json, when stated. */
  readonly modelMaxLength: number | undefined;
  /** Tokens without special tokens (for inspection). */
  tokenize(text: string): string[];
  tokenToId(token: string): number | undefined;
  encode(text: string, pair?: string, options?: EncodeOptions): Encoded;
  encodeBatch(items: readonly TextInput[], options?: BatchEncodeOptions): BatchEncoded;
}

/** Adds special tokens around one or two token sequences; returns tokens and type ids. */
type AddSpecial = (a: string[], b: string[] | null) => { tokens: string[]; typeIds: number[] };

/**
 * Lengths [na, nb] that fit `budget`, as the Rust `tokenizers` LongestFirst does: the shorter
 * side keeps what it can up to half, the longer side gets the rest (and the odd token).
 */
export function longestFirst(a: number, b: number, budget: number): [number, number] {
  if (a + b <= budget) return [a, b];
  const swap = a > b;
  let n1 = swap ? b : a;
  let n2: number;
  if (n1 > budget) n2 = n1;
  else n2 = Math.max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  return swap ? [n2, n1] : [n1, n2];
}

class Impl implements TextTokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  private readonly specialsSingle: number;
  private readonly specialsPair: number;

  constructor(
    readonly kind: TextTokenizer['kind'],
    private readonly vocab: ReadonlyMap<string, number>,
    readonly tokenize: (text: string) => string[],
    private readonly addSpecial: AddSpecial,
    names: SpecialNames,
    private readonly zeroTypeIds: boolean,
    readonly modelMaxLength: number | undefined,
  ) {
    let max = -1;
    for (const id of vocab.values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    const need = (role: keyof SpecialNames): number => {
      for (const name of names[role]) {
        const id = vocab.get(name);
        if (id !== undefined) return id;
      }
      throw new Error(`tokenizer has no ${role} token (tried ${names[role].join(', ')}): not a BERT/RoBERTa-style vocabulary`);
    };
    this.padId = need('pad');
    this.unkId = need('unk');
    this.clsId = need('cls');
    this.sepId = need('sep');
    this.maskId = need('mask');
    this.specialsSingle = addSpecial([], null).tokens.length;
    this.specialsPair = addSpecial([], []).tokens.length;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  encode(text: string, pair?: string, options: EncodeOptions = {}): Encoded {
    let a = this.tokenize(text);
    let b = pair === undefined ? null : this.tokenize(pair);
    const max = options.maxLength;
    if (max !== undefined) {
      const budget = max - (b === null ? this.specialsSingle : this.specialsPair);
      if (budget < (b === null ? 1 : 2)) throw new Error(`maxLength ${max} leaves no room for text beside the special tokens`);
      if (b === null) a = a.slice(0, budget);
      else {
        const [na, nb] = longestFirst(a.length, b.length, budget);
        a = a.slice(0, na);
        b = b.slice(0, nb);
      }
    }
    const { tokens, typeIds } = this.addSpecial(a, b);
    return {
      inputIds: tokens.map((t) => this.vocab.get(t) ?? this.unkId),
      tokenTypeIds: this.zeroTypeIds ? typeIds.map(() => 0) : typeIds,
      attentionMask: tokens.map(() => 1),
    };
  }

  encodeBatch(items: readonly TextInput[], options: BatchEncodeOptions = {}): BatchEncoded {
    const opts: EncodeOptions = options.maxLength === undefined ? {} : { maxLength: options.maxLength };
    const rows = items.map((it) => (typeof it === 'string' ? this.encode(it, undefined, opts) : this.encode(it.text, it.textPair, opts)));
    const longest = rows.reduce((m, r) => Math.max(m, r.inputIds.length), 0);
    const padTo = options.padTo ?? 'longest';
    const width = padTo === 'longest' ? longest : padTo;
    if (width < longest) throw new Error(`padTo ${width} is shorter than the longest encoded row (${longest}); set maxLength <= padTo`);
    const pad = (xs: number[], v: number): number[] => xs.concat(new Array<number>(width - xs.length).fill(v));
    return {
      inputIds: rows.map((r) => pad(r.inputIds, this.padId)),
      tokenTypeIds: rows.map((r) => pad(r.tokenTypeIds, 0)),
      attentionMask: rows.map((r) => pad(r.attentionMask, 0)),
    };
  }
}

interface SpecialNames {
  pad: string[];
  unk: string[];
  cls: string[];
  sep: string[];
  mask: string[];
}

type Json = Record<string, unknown>;

async function readJson(source: FileSource, file: string): Promise<Json | undefined> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await source.read(file);
  } catch {
    return undefined;
  }
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as Json;
  } catch (e) {
    throw new Error(`${source.path(file)}: invalid JSON (${(e as Error).message})`);
  }
}

/** tokenizer_config.json names a token as a string or as an AddedToken object. */
function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
  return undefined;
}

function specialNames(...configs: (Json | undefined)[]): SpecialNames {
  const pick = (key: string, defaults: string[]): string[] => {
    const named = configs.map((c) => tokenName(c?.[`${key}_token`])).filter((x): x is string => x !== undefined);
    return [...named, ...defaults];
  };
  return {
    pad: pick('pad', ['[PAD]', '<pad>']),
    unk: pick('unk', ['[UNK]', '<unk>']),
    cls: pick('cls', ['[CLS]', '<s>']),
    sep: pick('sep', ['[SEP]', '</s>']),
    mask: pick('mask', ['[MASK]', '<mask>']),
  };
}

/** Loads the tokenizer of a model folder from a FileSource (bytes, URLs or a folder): tokenizer.json if present, else vocab.txt (BERT WordPiece). */
export async function loadTokenizerFrom(source: FileSource): Promise<TextTokenizer> {
  const [tokJson, tokConfig, specialMap, modelConfig] = await Promise.all(
    ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'config.json'].map((f) => readJson(source, f)),
  );
  const names = specialNames(tokConfig, specialMap);
  // RoBERTa-style models have one token type: any type id 1 would index out of range.
  const zeroTypeIds = modelConfig?.['type_vocab_size'] === 1;
  const maxLen = [tokConfig?.['model_max_length'], modelConfig?.['max_position_embeddings']].find(
    (v): v is number => typeof v === 'number' && v > 0 && v < 1e6, // HF writes 1e30 for "unset"
  );

  if (tokJson !== undefined) {
    const tok = new Tokenizer(tokJson, tokConfig ?? {});
    const pp = tok.post_processor;
    const addSpecial: AddSpecial = (a, b) => {
      if (pp === null) return { tokens: [...a, ...(b ?? [])], typeIds: [...a.map(() => 0), ...(b ?? []).map(() => 1)] };
      const out = pp.post_process(a, b, true);
      // ByteLevel leaves the pair separate and gives no type ids.
      const tokens = out.tokens_pair ? [...out.tokens, ...out.tokens_pair] : out.tokens;
      return { tokens, typeIds: out.token_type_ids ?? tokens.map(() => 0) };
    };
    const tokenize = (text: string): string[] => tok.tokenize(text, { add_special_tokens: false });
    return new Impl('tokenizer.json', tok.get_vocab(true), tokenize, addSpecial, names, zeroTypeIds, maxLen);
  }

  let vocabBytes: Uint8Array | undefined;
  try {
    vocabBytes = await source.read('vocab.txt');
  } catch {
    vocabBytes = undefined;
  }
  if (vocabBytes === undefined) throw new Error(`${source.location}: no tokenizer.json or vocab.txt; is this a model directory (see ensureModel)?`);
  const vocabText = new TextDecoder().decode(vocabBytes);
  const vocab = parseVocabTxt(vocabText);
  const lowercase = tokConfig?.['do_lower_case'] !== false;
  const strip = tokConfig?.['strip_accents'];
  const first = (xs: string[]): string => xs.find((x) => vocab.has(x)) ?? xs[0] ?? '';
  const [cls, sep, unk] = [first(names.cls), first(names.sep), first(names.unk)];
  const wp = new WordPieceTokenizer(vocab, {
    lowercase,
    ...(typeof strip === 'boolean' ? { stripAccents: strip } : {}),
    tokenizeChineseChars: tokConfig?.['tokenize_chinese_chars'] !== false,
    unkToken: unk,
    neverSplit: [names.pad, names.unk, names.cls, names.sep, names.mask].map(first).filter((t) => vocab.has(t)),
  });
  // BERT layout: [CLS] A [SEP] (B [SEP]), type ids 0 for the first segment, 1 for the second.
  const addSpecial: AddSpecial = (a, b) => {
    const first = [cls, ...a, sep];
    if (b === null) return { tokens: first, typeIds: first.map(() => 0) };
    const second = [...b, sep];
    return { tokens: [...first, ...second], typeIds: [...first.map(() => 0), ...second.map(() => 1)] };
  };
  return new Impl('vocab.txt', vocab, (t) => wp.tokenize(t), addSpecial, names, zeroTypeIds, maxLen);
}

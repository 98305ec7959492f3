// Corpus BLEU and chrF computed as sacreBLEU 2.x does (same tokenisation, statistics, smoothing and averaging), so
// scores are comparable with published numbers. Checked against sacreBLEU 2.6.0 in tools/parity.

/**
 * Python's `str.split()` whitespace (str.isspace), which sacreBLEU splits on; JS `\s` differs on \x1c-\x1f (Python
 * counts the information separators as whitespace) and \ufeff (Python does not).
 */
// eslint-disable-next-line no-control-regex -- the separators \x1c-\x1f are whitespace to Python
const PY_SPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
// eslint-disable-next-line no-control-regex -- as PY_SPACE
const PY_TRAILING_SPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u;
const pySplit = (s: string): string[] => s.split(PY_SPACE).filter((w) => w.length > 0);
const pyRstrip = (s: string): string => s.replace(PY_TRAILING_SPACE, '');

/** mteval-v13a tokenisation as sacreBLEU's `13a` tokenizer: entity unescaping, then punctuation split off except inside numbers. */
export function tokenize13a(line: string): string {
  let s = line.replace(/<skipped>/g, '').replace(/-\n/g, '').replace(/\n/g, ' ');
  if (s.includes('&')) s = s.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  s = ` ${s} `
    .replace(/([{-~[-` -&(-+:-@/])/g, ' $1 ')
    .replace(/([^0-9])([.,])/g, '$1 $2 ')
    .replace(/([.,])([^0-9])/g, ' $1 $2')
    .replace(/([0-9])(-)/g, '$1 $2 ');
  return pySplit(s).join(' ');
}

function ngramCounts(tokens: readonly string[], minOrder: number, maxOrder: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = minOrder; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      // Orders stay apart: n is part of the key (tokens hold no spaces, so the join is unambiguous).
      const key = `${n}|${tokens.slice(i, i + n).join(' ')}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

export interface BleuOptions {
  readonly lowercase?: boolean;
  /** `13a` (default, WMT's) or `none` (the text is already tokenised). */
  readonly tokenize?: '13a' | 'none';
  /** `exp` (default; mteval's NIST smoothing), `floor`, `add-k` or `none`. */
  readonly smoothMethod?: 'exp' | 'floor' | 'add-k' | 'none';
  /** For floor (default 0.1) and add-k (default 1). */
  readonly smoothValue?: number;
  /** Average only over orders the hypothesis has (sentence-level BLEU). */
  readonly effectiveOrder?: boolean;
  readonly maxNgramOrder?: number;
}

export interface BleuScore {
  /** 0–100. */
  readonly score: number;
  /** Matched n-grams per order. */
  readonly counts: readonly number[];
  /** Hypothesis n-grams per order. */
  readonly totals: readonly number[];
  readonly precisions: readonly number[];
  /** Brevity penalty. */
  readonly bp: number;
  readonly sysLen: number;
  /** Sum over segments of the reference length closest to the hypothesis' (shorter wins ties). */
  readonly refLen: number;
}

/** `references[k][i]` is reference stream k's translation of segment i (sacreBLEU's layout); `null` = no reference there. */
export type References = readonly (readonly (string | null)[])[];

function checkShapes(hypotheses: readonly string[], references: References): void {
  if (references.length === 0) throw new RangeError('at least one reference stream is needed');
  references.forEach((stream, k) => {
    if (stream.length !== hypotheses.length) throw new RangeError(`reference stream ${k} has ${stream.length} segments, the hypotheses ${hypotheses.length}`);
  });
}

/** Corpus BLEU as sacreBLEU's `BLEU().corpus_score(hypotheses, references)`. */
export function corpusBleu(hypotheses: readonly string[], references: References, options: BleuOptions = {}): BleuScore {
  checkShapes(hypotheses, references);
  const order = options.maxNgramOrder ?? 4;
  const prep = (s: string): string[] => {
    const t = options.lowercase === true ? s.toLowerCase() : s;
    return pySplit(options.tokenize === 'none' ? pyRstrip(t) : tokenize13a(pyRstrip(t)));
  };
  const counts = new Array<number>(order).fill(0);
  const totals = new Array<number>(order).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hypotheses.forEach((hyp, i) => {
    const refs = references.map((stream) => stream[i]).filter((r): r is string => r !== null && r !== undefined);
    const refNgrams = new Map<string, number>();
    const refLens: number[] = [];
    for (const ref of refs) {
      const tokens = prep(ref);
      refLens.push(tokens.length);
      for (const [k, c] of ngramCounts(tokens, 1, order)) refNgrams.set(k, Math.max(refNgrams.get(k) ?? 0, c));
    }
    const tokens = prep(hyp);
    sysLen += tokens.length;
    refLen += closestRefLength(tokens.length, refLens);
    for (const [k, c] of ngramCounts(tokens, 1, order)) {
      const n = Number(k.slice(0, k.indexOf('|'))) - 1;
      totals[n] = (totals[n] as number) + c;
      const r = refNgrams.get(k);
      if (r !== undefined) counts[n] = (counts[n] as number) + Math.min(c, r);
    }
  });
  return bleuFromStats(counts, totals, sysLen, refLen, options);
}

function closestRefLength(hypLen: number, refLens: readonly number[]): number {
  let bestDiff = -1;
  let best = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (bestDiff === -1 || diff < bestDiff || (diff === bestDiff && len < best)) {
      bestDiff = diff;
      best = len;
    }
  }
  return best;
}

const SMOOTH_DEFAULTS = { none: undefined, floor: 0.1, 'add-k': 1, exp: undefined } as const;

/** sacreBLEU's `compute_bleu`: brevity penalty, smoothed precisions, geometric mean (log floored at 0). */
export function bleuFromStats(counts: readonly number[], totals: readonly number[], sysLen: number, refLen: number, options: BleuOptions = {}): BleuScore {
  const method = options.smoothMethod ?? 'exp';
  const value = options.smoothValue ?? SMOOTH_DEFAULTS[method];
  const order = counts.length;
  const correct = [...counts];
  const total = [...totals];
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(order).fill(0);
  const result = (score: number): BleuScore => ({ score, counts: [...counts], totals: [...totals], precisions, bp, sysLen, refLen });
  if (!correct.some((c) => c !== 0)) return result(0);
  let smoothMteval = 1;
  let effOrder = order;
  for (let n = 1; n <= order; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1] = (correct[n - 1] as number) + (value as number);
      total[n - 1] = (total[n - 1] as number) + (value as number);
    }
    if (total[n - 1] === 0) break;
    if (options.effectiveOrder === true) effOrder = n;
    if (correct[n - 1] === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * (total[n - 1] as number));
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * (value as number)) / (total[n - 1] as number);
      }
    } else {
      precisions[n - 1] = (100 * (correct[n - 1] as number)) / (total[n - 1] as number);
    }
  }
  let logSum = 0;
  for (const p of precisions.slice(0, effOrder)) logSum += p === 0 ? -9999999999 : Math.log(p);
  return result(bp * Math.exp(logSum / effOrder));
}

/** Sentence BLEU as sacreBLEU's `sentence_score` (pass `effectiveOrder: true`, as sacreBLEU recommends). */
export function sentenceBleu(hypothesis: string, references: readonly string[], options: BleuOptions = {}): BleuScore {
  return corpusBleu([hypothesis], references.map((r) => [r]), options);
}

export interface ChrfOptions {
  /** Character n-gram order (default 6). */
  readonly charOrder?: number;
  /** Word n-gram order: 0 = chrF (default), 2 = chrF++. */
  readonly wordOrder?: number;
  /** Recall weight (default 2). */
  readonly beta?: number;
  readonly lowercase?: boolean;
  /** Keep whitespace inside character n-grams (default false). */
  readonly whitespace?: boolean;
  /** chrF++.py's epsilon smoothing instead of sacreBLEU's effective-order averaging (default false). */
  readonly epsSmoothing?: boolean;
}

const PUNCTUATION = new Set(Array.from('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'));

/** chrF++'s word split: a word's one trailing (else leading) punctuation mark becomes its own token. */
function chrfWords(sent: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(sent)) {
    const chars = Array.from(w);
    if (chars.length === 1) out.push(w);
    else if (PUNCTUATION.has(chars[chars.length - 1] as string)) out.push(chars.slice(0, -1).join(''), chars[chars.length - 1] as string);
    else if (PUNCTUATION.has(chars[0] as string)) out.push(chars[0] as string, chars.slice(1).join(''));
    else out.push(w);
  }
  return out;
}

/** Per order: character n-grams (code points; whitespace removed unless kept), then word n-grams. */
function chrfNgrams(sent: string, o: Required<Pick<ChrfOptions, 'charOrder' | 'wordOrder' | 'whitespace'>>): Map<string, number>[] {
  const chars = Array.from(o.whitespace ? sent : pySplit(sent).join(''));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= o.charOrder; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const k = chars.slice(i, i + n).join('');
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    out.push(m);
  }
  const words = o.wordOrder > 0 ? chrfWords(sent) : [];
  for (let n = 1; n <= o.wordOrder; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= words.length; i++) {
      const k = words.slice(i, i + n).join(' ');
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

function chrfF(stats: readonly number[], orders: number, beta: number, epsSmoothing: boolean): number {
  const eps = 1e-16;
  const factor = beta ** 2;
  let score = 0;
  let effective = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < orders; i++) {
    const [nHyp, nRef, nMatch] = stats.slice(3 * i, 3 * i + 3) as [number, number, number];
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effective++;
    }
  }
  if (epsSmoothing) return (100 * score) / orders;
  if (effective === 0) avgPrec = avgRec = 0;
  else {
    avgPrec /= effective;
    avgRec /= effective;
  }
  if (avgPrec + avgRec === 0) return 0;
  return (100 * ((1 + factor) * avgPrec * avgRec)) / (factor * avgPrec + avgRec);
}

/** Corpus chrF (chrF++ with `wordOrder: 2`) as sacreBLEU's `CHRF().corpus_score`: per segment the best reference by F, statistics summed. */
export function corpusChrf(hypotheses: readonly string[], references: References, options: ChrfOptions = {}): number {
  checkShapes(hypotheses, references);
  const o = { charOrder: options.charOrder ?? 6, wordOrder: options.wordOrder ?? 0, whitespace: options.whitespace ?? false };
  const beta = options.beta ?? 2;
  const eps = options.epsSmoothing ?? false;
  const orders = o.charOrder + o.wordOrder;
  const prep = (s: string) => (options.lowercase === true ? s.toLowerCase() : s);
  const sum = new Array<number>(3 * orders).fill(0);
  hypotheses.forEach((hyp, i) => {
    const h = chrfNgrams(prep(hyp), o);
    let best: number[] = [];
    let bestF = -1;
    for (const stream of references) {
      const ref = stream[i];
      if (ref === null || ref === undefined) continue;
      const r = chrfNgrams(prep(ref), o);
      const stats: number[] = [];
      h.forEach((hm, n) => {
        const rm = r[n] as Map<string, number>;
        let match = 0;
        let hypCount = 0;
        for (const [k, c] of hm) {
          hypCount += c;
          const rc = rm.get(k);
          if (rc !== undefined) match += Math.min(c, rc);
        }
        let refCount = 0;
        for (const c of rm.values()) refCount += c;
        stats.push(rm.size > 0 ? hypCount : 0, refCount, match);
      });
      const f = chrfF(stats, orders, beta, eps);
      if (f > bestF) {
        bestF = f;
        best = stats;
      }
    }
    best.forEach((v, j) => (sum[j] = (sum[j] as number) + v));
  });
  return chrfF(sum, orders, beta, eps);
}

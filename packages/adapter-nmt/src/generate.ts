import * as tf from '@tensorflow/tfjs';
import type { Executor } from '@adapters/core-graph';
import { ConfigError } from '@adapters/core-graph';
import type { EncoderState, LayerCache } from './run';
import { configOf, decodeStep, disposeEncoderState, encode } from './run';

/** Decoding settings; token ids default to the model's config (Hugging Face `generate()` names in comments). */
export interface GenerateOptions {
  /** Longest output, the decoder start token included (`max_length`). */
  readonly maxLength: number;
  /** 1 = greedy (`num_beams`). */
  readonly numBeams?: number;
  /** Finished hypotheses score sum(log p) / generated_length^lengthPenalty (`length_penalty`, default 1). */
  readonly lengthPenalty?: number;
  /** `early_stopping`: true stops a sentence once it has numBeams finished hypotheses; false (default) and 'never' are HF's heuristics. */
  readonly earlyStopping?: boolean | 'never';
  readonly decoderStartTokenId?: number;
  readonly eosTokenId?: number;
  readonly padTokenId?: number;
  /** First generated token (multilingual models: the target language code; `forced_bos_token_id`). */
  readonly forcedBosTokenId?: number;
  /** Token forced at the last position (`forced_eos_token_id`). */
  readonly forcedEosTokenId?: number;
  /** Tokens never generated (`bad_words_ids` of single tokens; Marian's configs ban the pad token this way). */
  readonly badTokenIds?: readonly number[];
  /** Reuse self-attention keys/values across steps (default true); false recomputes the whole prefix each step. */
  readonly useCache?: boolean;
}

interface Resolved {
  readonly maxLength: number;
  readonly numBeams: number;
  readonly lengthPenalty: number;
  readonly earlyStopping: boolean | 'never';
  readonly start: number;
  readonly eos: number;
  readonly pad: number;
  readonly forcedBos: number | undefined;
  readonly forcedEos: number | undefined;
  readonly banned: readonly number[];
  readonly useCache: boolean;
}

/** Upper bound on numBeams × batch rows per step, so a bad option cannot exhaust memory. */
const MAX_ROWS = 4096;

function resolve(executor: Executor, o: GenerateOptions, batch: number): Resolved {
  const c = configOf(executor);
  const id = (field: string, v: number | undefined, fallback?: number): number | undefined => {
    const x = v ?? fallback;
    if (x !== undefined && !(Number.isInteger(x) && x >= 0 && x < c.vocabSize)) throw new ConfigError(`generate.${field}`, `must be a token id in [0, ${c.vocabSize}), got ${x}`);
    return x;
  };
  const numBeams = o.numBeams ?? 1;
  if (!Number.isInteger(o.maxLength) || o.maxLength < 2) throw new ConfigError('generate.maxLength', `must be an integer ≥ 2, got ${o.maxLength}`);
  if (o.maxLength > c.maxPositions) throw new ConfigError('generate.maxLength', `${o.maxLength} exceeds the model's ${c.maxPositions} positions (max_position_embeddings)`);
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new ConfigError('generate.numBeams', `must be a positive integer, got ${numBeams}`);
  if (numBeams * batch > MAX_ROWS) throw new ConfigError('generate.numBeams', `${numBeams} beams × ${batch} sentences exceeds ${MAX_ROWS} decoder rows`);
  const lengthPenalty = o.lengthPenalty ?? 1;
  if (!Number.isFinite(lengthPenalty)) throw new ConfigError('generate.lengthPenalty', `must be finite, got ${lengthPenalty}`);
  const eos = id('eosTokenId', o.eosTokenId, c.eosTokenId) as number;
  const banned = (o.badTokenIds ?? []).map((t, i) => id(`badTokenIds[${i}]`, t) as number);
  const pad = id('padTokenId', o.padTokenId, c.padTokenId) as number;
  return {
    maxLength: o.maxLength, numBeams, lengthPenalty, earlyStopping: o.earlyStopping ?? false,
    start: id('decoderStartTokenId', o.decoderStartTokenId, c.decoderStartTokenId) as number, eos, pad,
    forcedBos: id('forcedBosTokenId', o.forcedBosTokenId, c.forcedBosTokenId), forcedEos: id('forcedEosTokenId', o.forcedEosTokenId, c.forcedEosTokenId),
    banned, useCache: o.useCache ?? true,
  };
}

/** HF's logits processors: banned tokens get −∞; then a forced token (BOS first, EOS last) is the only one allowed. */
function processScores(scores: Float32Array, r: Resolved, curLen: number): Float32Array {
  let out = scores;
  if (r.banned.length > 0) {
    out = Float32Array.from(scores);
    for (const t of r.banned) out[t] = -Infinity;
  }
  return applyForced(out, forcedToken(r, curLen));
}

/** Forced BOS at the first generated position and forced EOS at the last (HF's logits processors): one token allowed. */
function forcedToken(r: Resolved, curLen: number): number | undefined {
  if (curLen === 1 && r.forcedBos !== undefined) return r.forcedBos;
  if (curLen === r.maxLength - 1 && r.forcedEos !== undefined) return r.forcedEos;
  return undefined;
}

/**
 * Decodes prefixes step by step: `next(tokens, reorder)` returns the last position's log-probabilities (or logits)
 * per row; with the cache only the newest token runs through the decoder.
 */
class Stepper {
  private cache: LayerCache[] | undefined;

  constructor(
    private readonly executor: Executor,
    private readonly state: EncoderState,
    private readonly useCache: boolean,
    private readonly logSoftmax: boolean,
  ) {}

  /** Rows of `prefixes` must all have the same length; `sources[r]` is the cache row prefix r continues. */
  next(prefixes: readonly (readonly number[])[], sources?: readonly number[]): Float32Array[] {
    if (sources && this.cache) {
      const idx = tf.tensor1d(Int32Array.from(sources), 'int32');
      const reordered = this.cache.map((c) => ({ key: tf.gather(c.key, idx) as tf.Tensor3D, value: tf.gather(c.value, idx) as tf.Tensor3D }));
      this.disposeCache();
      idx.dispose();
      this.cache = reordered;
    }
    const rows = prefixes.length;
    const len = (prefixes[0] as readonly number[]).length;
    const input = this.useCache && this.cache ? prefixes.map((p) => [p[len - 1] as number]) : prefixes.map((p) => [...p]);
    const ids = tf.tensor2d(input, [rows, input[0]?.length ?? 0], 'int32');
    const { logits, cache } = decodeStep(this.executor, this.state, ids, this.useCache ? this.cache : undefined);
    ids.dispose();
    this.disposeCache();
    if (this.useCache) this.cache = cache;
    else tf.dispose(cache.flatMap((c) => [c.key, c.value]));
    const last = tf.tidy(() => {
      const t = logits.shape[1];
      const l = tf.reshape(tf.slice(logits, [0, t - 1, 0], [rows, 1, -1]), [rows, -1]);
      return this.logSoftmax ? tf.logSoftmax(l, -1) : l;
    });
    logits.dispose();
    const values = last.dataSync() as Float32Array;
    const vocab = last.shape[1] as number;
    last.dispose();
    return Array.from({ length: rows }, (_v, r) => values.subarray(r * vocab, (r + 1) * vocab));
  }

  disposeCache(): void {
    if (this.cache) tf.dispose(this.cache.flatMap((c) => [c.key, c.value]));
    this.cache = undefined;
  }
}

const argmax = (v: Float32Array): number => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
};

function applyForced(scores: Float32Array, forced: number | undefined): Float32Array {
  if (forced === undefined) return scores;
  const out = new Float32Array(scores.length).fill(-Infinity);
  out[forced] = 0;
  return out;
}

/**
 * Translates a batch: greedy (numBeams 1) or beam search, following Hugging Face `generate()` (transformers 4.57)
 * step for step, so the same model gives the same token ids. Returns one sequence per input row, starting with the
 * decoder start token and padded with the pad token to the longest.
 */
export function generate(executor: Executor, inputIds: readonly (readonly number[])[], attentionMask: readonly (readonly number[])[], options: GenerateOptions): number[][] {
  const batch = inputIds.length;
  if (batch === 0) return [];
  const r = resolve(executor, options, batch);
  const srcLen = (inputIds[0] as readonly number[]).length;
  if (inputIds.some((row) => row.length !== srcLen) || attentionMask.length !== batch || attentionMask.some((row) => row.length !== srcLen)) {
    throw new ConfigError('generate.inputIds', `input ids and attention mask must be ${batch} rows of ${srcLen}`);
  }
  const ids = tf.tensor2d(inputIds.map((row) => [...row]), [batch, srcLen], 'int32');
  const mask = tf.tensor2d(attentionMask.map((row) => [...row]), [batch, srcLen], 'float32');
  let state: EncoderState | undefined;
  try {
    if (r.numBeams === 1) {
      state = encode(executor, ids, mask);
      return greedy(new Stepper(executor, state, r.useCache, false), r, batch);
    }
    // Each sentence's encoder output repeated once per beam, as HF expands the inputs.
    const rep = Int32Array.from({ length: batch * r.numBeams }, (_v, i) => Math.floor(i / r.numBeams));
    const [bIds, bMask] = tf.tidy(() => [tf.gather(ids, rep) as tf.Tensor2D, tf.gather(mask, rep) as tf.Tensor2D]);
    state = encode(executor, bIds, bMask);
    tf.dispose([bIds, bMask]);
    return beamSearch(new Stepper(executor, state, r.useCache, true), r, batch);
  } finally {
    tf.dispose([ids, mask]);
    if (state) disposeEncoderState(state);
  }
}

function greedy(stepper: Stepper, r: Resolved, batch: number): number[][] {
  const seqs = Array.from({ length: batch }, () => [r.start]);
  const open = new Array<boolean>(batch).fill(true);
  try {
    while ((seqs[0] as number[]).length < r.maxLength && open.some(Boolean)) {
      const curLen = (seqs[0] as number[]).length;
      const scores = stepper.next(seqs);
      seqs.forEach((s, i) => {
        const token = open[i] ? argmax(processScores(scores[i] as Float32Array, r, curLen)) : r.pad;
        s.push(token);
        if (token === r.eos) open[i] = false;
      });
    }
  } finally {
    stepper.disposeCache();
  }
  return seqs;
}

interface Hypothesis {
  readonly tokens: readonly number[];
  readonly score: number;
}

const NEG = -1e9;
const f32 = Math.fround;

/** The k best (score, index) of `scores`, best first; ties keep the lower index first. */
function topK(scores: Float32Array, k: number, add: number): { score: number; index: number }[] {
  const best: { score: number; index: number }[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = f32((scores[i] as number) + add);
    if (best.length === k && s <= (best[k - 1] as { score: number }).score) continue;
    let at = best.length;
    while (at > 0 && (best[at - 1] as { score: number }).score < s) at--;
    best.splice(at, 0, { score: s, index: i });
    if (best.length > k) best.pop();
  }
  return best;
}

/** HF's beam search (`_beam_search`, transformers 4.57): 2·numBeams candidates per sentence and step, finished hypotheses kept per sentence. */
function beamSearch(stepper: Stepper, r: Resolved, batch: number): number[][] {
  const nb = r.numBeams;
  const running = Array.from({ length: batch }, () => Array.from({ length: nb }, (_v, k): Hypothesis => ({ tokens: [r.start], score: k === 0 ? 0 : NEG })));
  const finished = Array.from({ length: batch }, (): Hypothesis[] => []);
  const improvable = new Array<boolean>(batch).fill(true);
  const penalty = (len: number) => Math.pow(len, r.lengthPenalty);
  let curLen = 1;
  let sources: number[] | undefined;
  try {
    for (;;) {
      const scores = stepper.next(running.flat().map((h) => h.tokens), sources);
      let allHit = true;
      const nextSources: number[] = [];
      for (let b = 0; b < batch; b++) {
        const beams = running[b] as Hypothesis[];
        // Top 2·nb continuations over all beams (HF: topk over the flattened [nb × vocab] accumulated log-probs).
        const candidates = beams
          .flatMap((h, k) => topK(processScores(scores[b * nb + k] as Float32Array, r, curLen), 2 * nb, h.score).map((c) => ({ ...c, beam: k, flat: k * (scores[0] as Float32Array).length + c.index })))
          .sort((x, y) => y.score - x.score || x.flat - y.flat)
          .slice(0, 2 * nb)
          .map((c) => ({ ...c, tokens: [...(beams[c.beam] as Hypothesis).tokens, c.index], hit: c.index === r.eos || curLen + 1 >= r.maxLength }));
        if (!candidates.every((c) => c.hit)) allHit = false;
        // Finished: only the top nb candidates count, scored with the length penalty; keep the nb best.
        const full = finished[b] as Hypothesis[];
        const closed = (r.earlyStopping === true && full.length === nb) || !improvable[b];
        if (!closed) {
          for (const c of candidates.slice(0, nb)) if (c.hit) full.push({ tokens: c.tokens, score: f32(c.score / penalty(curLen)) });
          full.sort((x, y) => y.score - x.score);
          full.splice(nb);
        }
        // Running: the best nb candidates, finished ones pushed to the bottom.
        const next = candidates
          .map((c, rank) => ({ c, rank, s: f32(c.score + (c.hit ? NEG : 0)) }))
          .sort((x, y) => y.s - x.s || x.rank - y.rank)
          .slice(0, nb);
        running[b] = next.map(({ c, s }) => ({ tokens: c.tokens, score: s }));
        for (const { c } of next) nextSources.push(b * nb + c.beam);
      }
      curLen++;
      for (let b = 0; b < batch; b++) {
        if (!improvable[b]) continue;
        const full = finished[b] as Hypothesis[];
        const length = r.earlyStopping === 'never' && r.lengthPenalty > 0 ? r.maxLength - 1 : curLen - 1;
        const best = f32(((running[b] as Hypothesis[])[0] as Hypothesis).score / penalty(length));
        const worst = full.length === nb ? Math.min(...full.map((h) => h.score)) : NEG;
        improvable[b] = best > worst;
      }
      const allFull = finished.every((f) => f.length === nb);
      if (!improvable.some(Boolean) || (allFull && r.earlyStopping === true) || allHit) break;
      sources = nextSources;
    }
  } finally {
    stepper.disposeCache();
  }
  const best = finished.map((f) => (f[0] as Hypothesis).tokens);
  const width = Math.max(...best.map((t) => t.length));
  const fill = r.pad !== 0 ? r.pad : r.eos;
  return best.map((t) => [...t, ...new Array<number>(width - t.length).fill(fill)]);
}

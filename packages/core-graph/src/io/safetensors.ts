// Reader/writer for the safetensors format:
//   u64 little-endian header length N | N bytes of UTF-8 JSON header | raw little-endian data.
// Everything read from a file is treated as untrusted: every field is validated before use
// and every failure is a SafetensorsError naming the source and (when known) the tensor.
import type { ErrorCode } from '../errors';
import { AdapterGraphError } from '../errors';
import { f16BitsToNumber, numberToF16Bits } from './float16';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** A tensor as stored: `data` is the exact little-endian bytes (a view into the input, not a copy). */
export interface RawTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

export interface DecodedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  values: Float32Array | Int32Array | Float64Array | Uint8Array;
}

export type EncodableDtype = 'F32' | 'I32' | 'F64' | 'I64' | 'U8' | 'F16';

export interface EncodableTensor {
  dtype: EncodableDtype;
  shape: number[];
  values: ArrayLike<number>;
}

export interface SafetensorsContents<T> {
  tensors: Map<string, T>;
  metadata: Record<string, string>;
}

/** Codes: E_SAFETENSORS_HEADER (length/JSON), _DUPLICATE_KEY, _COVERAGE (offsets vs data), _TENSOR (dtype/shape/values), E_SAFETENSORS (I/O). */
export class SafetensorsError extends AdapterGraphError {
  readonly source: string;
  readonly tensor?: string;

  constructor(source: string, problem: string, tensor?: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(`${source}: ${tensor === undefined ? '' : `tensor ${JSON.stringify(tensor)}: `}${problem}`, options?.code ?? 'E_SAFETENSORS', options?.cause === undefined ? undefined : { cause: options.cause });
    this.source = source;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

export const ITEM_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Header sizes above this are refused outright so a corrupt length can't trigger a huge allocation. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const METADATA_KEY = '__metadata__';
const BUFFER_SOURCE = '<buffer>';
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(v: unknown): v is SafetensorsDtype {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ITEM_SIZE, v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** JSON for error messages, cut short so a hostile header can't produce a megabyte-long message. */
function show(v: unknown): string {
  const text = String(JSON.stringify(v));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function product(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Converts between file order (little-endian) and host order, in place; a no-op on LE hosts. */
function swapIfBigEndian(bytes: Uint8Array, itemSize: number): Uint8Array {
  if (!HOST_IS_LITTLE_ENDIAN && itemSize > 1) {
    for (let i = 0; i < bytes.length; i += itemSize) bytes.subarray(i, i + itemSize).reverse();
  }
  return bytes;
}

/** A tensor's place in the data buffer, validated against the header and the buffer's length. */
interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Throws when a JSON object in `text` (already valid JSON) repeats a key: JSON.parse keeps the last one silently,
 * and the reference reader must not disagree with us about which tensor a name means.
 */
function checkDuplicateKeys(text: string, fail: (problem: string, tensor?: string, code?: ErrorCode) => never): void {
  // One frame per open object/array: the keys seen so far, and whether the next string in an object is a key.
  const stack: Array<{ keys: Set<string>; expectKey: boolean } | undefined> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push(undefined);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = true;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string; // decodes escapes: "\u0061" and "a" are the same key
        if (top.keys.has(key)) fail(`header has the key ${show(key)} twice`, undefined, 'E_SAFETENSORS_DUPLICATE_KEY');
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    }
  }
}

/**
 * Validates a header (the JSON bytes) against the data buffer's length exactly as the safetensors spec's reference
 * reader does: valid UTF-8 JSON object, no duplicate keys, known dtypes, byte lengths matching shape x dtype, and
 * data_offsets that tile the data buffer from 0 to its end with no gap, overlap or trailing byte.
 */
export function parseHeader(json: Uint8Array, dataLength: number, source: string): { entries: TensorEntry[]; metadata: Record<string, string> } {
  const fail = (problem: string, tensor?: string, code: ErrorCode = 'E_SAFETENSORS_HEADER'): never => {
    throw new SafetensorsError(source, problem, tensor, { code });
  };
  let text: string;
  let header: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid UTF-8 JSON (${(e as Error).message.slice(0, 120)})`);
  }
  if (!isPlainObject(header) || !text.trimStart().startsWith('{')) fail('header is not a JSON object');
  checkDuplicateKeys(text, fail);
  const fields = Object.entries(header as Record<string, unknown>);
  const metadata = parseMetadata(fields.find(([k]) => k === METADATA_KEY)?.[1], fail);
  const entries: TensorEntry[] = [];
  for (const [name, info] of fields) {
    if (name === METADATA_KEY) continue;
    const bad = (problem: string): never => fail(problem, name, 'E_SAFETENSORS_TENSOR');
    if (!isPlainObject(info)) bad('entry is not an object');
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (!isDtype(dtype)) bad(`unknown dtype ${show(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isIndex)) bad(`shape ${show(shape)} is not an array of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
      bad(`data_offsets ${show(offsets)} is not [begin, end] with non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) bad(`data_offsets end ${end} is before begin ${begin}`);
    const dims = shape as number[];
    const expected = product(dims) * ITEM_SIZE[dtype as SafetensorsDtype];
    if (end - begin !== expected) bad(`byte length ${end - begin} does not match shape [${dims.join(', ')}] x ${dtype} (${expected} bytes)`);
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: [...dims], begin, end });
  }
  // Coverage: sorted by position, every tensor starts where the previous ended, the first at 0, the last at the end.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin < at) fail(`data [${e.begin}, ${e.end}] overlaps the previous tensor's data (which ends at ${at})`, e.name, 'E_SAFETENSORS_COVERAGE');
    if (e.begin > at) fail(`data [${e.begin}, ${e.end}] leaves a gap after byte ${at} of the data buffer`, e.name, 'E_SAFETENSORS_COVERAGE');
    at = e.end;
  }
  if (at !== dataLength) {
    fail(at > dataLength ? `tensors need ${at} data bytes but the file holds ${dataLength} after the header (truncated, or a wrong header length)` : `${dataLength - at} trailing bytes after the last tensor's data (a wrong header length, or appended data)`, undefined, 'E_SAFETENSORS_COVERAGE');
  }
  return { entries, metadata };
}

/** The header length from the first 8 bytes, checked against the limit and the file size. */
export function headerLength(prefix: Uint8Array, fileSize: number, source: string): number {
  const fail = (problem: string): never => {
    throw new SafetensorsError(source, problem, undefined, { code: 'E_SAFETENSORS_HEADER' });
  };
  if (fileSize < 8) fail(`file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n < 2n) fail(`header length ${n} is too small for a JSON object`);
  if (8n + n > BigInt(fileSize)) fail(`header length ${n} goes beyond the end of the file (${fileSize} bytes)`);
  return Number(n);
}

/** Parses and validates the header; returns raw byte views of every tensor. */
export function decodeSafetensorsRaw(bytes: Uint8Array, source: string = BUFFER_SOURCE): SafetensorsContents<RawTensor> {
  const n = headerLength(bytes, bytes.length, source);
  const data = bytes.subarray(8 + n);
  const { entries, metadata } = parseHeader(bytes.subarray(8, 8 + n), data.length, source);
  const tensors = new Map<string, RawTensor>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: data.subarray(e.begin, e.end) });
  return { tensors, metadata };
}

function parseMetadata(raw: unknown, fail: (problem: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) fail(`${METADATA_KEY} is not an object`);
  const entries = Object.entries(raw as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') fail(`${METADATA_KEY} value for ${show(k)} is not a string`);
  }
  // fromEntries defines own properties, so a "__proto__" key can't change the prototype.
  return Object.fromEntries(entries) as Record<string, string>;
}

/** Converts one raw tensor into JS typed-array values (see DecodedTensor for the dtype mapping). */
export function decodeTensorValues(name: string, raw: RawTensor, source: string = BUFFER_SOURCE): DecodedTensor {
  // Copy first: the input may sit at any byte offset, and typed views need alignment.
  const bytes = swapIfBigEndian(new Uint8Array(raw.data), ITEM_SIZE[raw.dtype]);
  const buf = bytes.buffer;
  let values: DecodedTensor['values'];
  switch (raw.dtype) {
    case 'F64': values = new Float64Array(buf); break;
    case 'F32': values = new Float32Array(buf); break;
    case 'I32': values = new Int32Array(buf); break;
    case 'I16': values = Int32Array.from(new Int16Array(buf)); break;
    case 'I8': values = Int32Array.from(new Int8Array(buf)); break;
    case 'U8':
    case 'BOOL': values = bytes; break;
    case 'F16': values = Float32Array.from(new Uint16Array(buf), f16BitsToNumber); break;
    case 'BF16': {
      // bfloat16 is the top half of a float32: shifting the bits up is exact.
      const bits = Uint32Array.from(new Uint16Array(buf), (h) => h << 16);
      values = new Float32Array(bits.buffer);
      break;
    }
    case 'I64': {
      const wide = new BigInt64Array(buf);
      values = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) {
        const v = wide[i]!;
        if (v < -2147483648n || v > 2147483647n) {
          throw new SafetensorsError(source, `I64 value ${v} at index ${i} is outside the int32 range`, name);
        }
        values[i] = Number(v);
      }
      break;
    }
  }
  return { name, dtype: raw.dtype, shape: [...raw.shape], values };
}

export function decodeSafetensors(bytes: Uint8Array, source: string = BUFFER_SOURCE): SafetensorsContents<DecodedTensor> {
  const raw = decodeSafetensorsRaw(bytes, source);
  const tensors = new Map<string, DecodedTensor>();
  for (const [name, t] of raw.tensors) tensors.set(name, decodeTensorValues(name, t, source));
  return { tensors, metadata: raw.metadata };
}

/** Turns `values` into little-endian bytes for `dtype`, rejecting values the dtype can't hold. */
function encodeValues(name: string, t: EncodableTensor, source: string): Uint8Array {
  const fail = (problem: string): never => {
    throw new SafetensorsError(source, problem, name);
  };
  const checkInts = (min: number, max: number): void => {
    for (let i = 0; i < t.values.length; i++) {
      const v = t.values[i]!;
      if (!Number.isInteger(v) || v < min || v > max) fail(`${t.dtype} value ${v} at index ${i} is not an integer in [${min}, ${max}]`);
    }
  };
  let arr: Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | BigInt64Array;
  switch (t.dtype) {
    // TypedArray#set from a same-typed array copies bytes, so F32 NaN payloads survive.
    case 'F32': arr = new Float32Array(t.values.length); arr.set(t.values); break;
    case 'F64': arr = new Float64Array(t.values.length); arr.set(t.values); break;
    case 'I32': checkInts(-(2 ** 31), 2 ** 31 - 1); arr = Int32Array.from(t.values); break;
    case 'U8': checkInts(0, 255); arr = Uint8Array.from(t.values); break;
    case 'I64':
      checkInts(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      arr = BigInt64Array.from(Array.from(t.values, (v) => BigInt(v)));
      break;
    case 'F16': arr = Uint16Array.from(t.values, numberToF16Bits); break;
    default: return fail(`cannot encode dtype ${JSON.stringify(t.dtype)} (supported: F32, I32, F64, I64, U8, F16)`);
  }
  return swapIfBigEndian(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), ITEM_SIZE[t.dtype]);
}

/**
 * Serialises tensors deterministically: names sorted, data packed in that order, and the header
 * padded with spaces so the data starts at a multiple of 8 (lets readers map it aligned).
 */
export function encodeSafetensors(tensors: Record<string, EncodableTensor>, metadata?: Record<string, string>): Uint8Array {
  return encode(tensors, metadata, BUFFER_SOURCE);
}

export function encode(tensors: Record<string, EncodableTensor>, metadata: Record<string, string> | undefined, source: string): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Array<[string, unknown]> = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    const meta = Object.keys(metadata).sort().map((k): [string, string] => {
      const v = metadata[k];
      if (typeof v !== 'string') throw new SafetensorsError(source, `metadata value for ${JSON.stringify(k)} is not a string`);
      return [k, v];
    });
    header.push([METADATA_KEY, Object.fromEntries(meta)]);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new SafetensorsError(source, `${METADATA_KEY} is reserved and cannot be a tensor name`);
    const t = tensors[name]!;
    if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) {
      throw new SafetensorsError(source, `shape ${JSON.stringify(t.shape)} is not an array of non-negative integers`, name);
    }
    const count = product(t.shape);
    if (t.values.length !== count) {
      throw new SafetensorsError(source, `has ${t.values.length} values but shape [${t.shape.join(', ')}] needs ${count}`, name);
    }
    const bytes = encodeValues(name, t, source);
    header.push([name, { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] }]);
    chunks.push(bytes);
    offset += bytes.length;
  }

  const json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  const headerLen = Math.ceil(json.length / 8) * 8; // 8 + headerLen is then a multiple of 8
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

// URIEL typology vectors from lang2vec's `feature_predictions.npz` (PyPI lang2vec 1.1.2, data CC BY-SA 4.0):
// 7,970 languages (ISO 639-3) × 289 k-NN-predicted features (syntax, phonology, inventory) — what UDapter reads.
// The .npz is a zip of .npy arrays; both are read here (stored or deflated entries, '<f4' and '<U' arrays).
import { AdapterGraphError } from '@adapters/core-graph';
import { inflateRawSync } from 'zlib';

export class TypologyError extends AdapterGraphError {
  constructor(message: string) {
    super(message, 'E_DATA');
  }
}

/** Entries of a zip archive (local headers; sizes from the central directory). */
export function readZip(bytes: Uint8Array, source: string): Map<string, Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new TypologyError(`${source}: not a zip file (no end of central directory)`);
  const count = dv.getUint16(eocd + 10, true);
  let at = dv.getUint32(eocd + 16, true);
  const out = new Map<string, Uint8Array>();
  const dec = new TextDecoder();
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || dv.getUint32(at, true) !== 0x02014b50) throw new TypologyError(`${source}: bad central directory entry ${n}`);
    const method = dv.getUint16(at + 10, true);
    const csize = dv.getUint32(at + 20, true);
    const usize = dv.getUint32(at + 24, true);
    const nameLen = dv.getUint16(at + 28, true);
    const extraLen = dv.getUint16(at + 30, true);
    const commentLen = dv.getUint16(at + 32, true);
    const local = dv.getUint32(at + 42, true);
    const name = dec.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length || dv.getUint32(local, true) !== 0x04034b50) throw new TypologyError(`${source}: bad local header of ${name}`);
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (start + csize > bytes.length) throw new TypologyError(`${source}: ${name} runs past the end of the file`);
    const raw = bytes.subarray(start, start + csize);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) data = new Uint8Array(inflateRawSync(raw));
    else throw new TypologyError(`${source}: ${name} uses compression method ${method} (supported: stored, deflate)`);
    if (data.length !== usize) throw new TypologyError(`${source}: ${name} inflates to ${data.length} bytes, the directory says ${usize}`);
    out.set(name, data);
  }
  return out;
}

export interface NpyArray {
  readonly shape: number[];
  readonly values: Float32Array | string[];
}

/** A .npy array of little-endian float32 ('<f4') or fixed-width unicode ('<U<n>'), C order. */
export function readNpy(bytes: Uint8Array, source: string): NpyArray {
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw new TypologyError(`${source}: not a .npy array`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6] as number;
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, start));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new TypologyError(`${source}: unreadable .npy header ${JSON.stringify(header)}`);
  if (fortran === 'True') throw new TypologyError(`${source}: Fortran-order arrays are not supported`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  if (descr === '<f4') {
    if (start + count * 4 > bytes.length) throw new TypologyError(`${source}: data shorter than shape (${shape.join('×')})`);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = dv.getFloat32(start + i * 4, true);
    return { shape, values };
  }
  const u = /^<U(\d+)$/.exec(descr);
  if (u !== null) {
    const width = Number(u[1]);
    if (start + count * width * 4 > bytes.length) throw new TypologyError(`${source}: data shorter than shape (${shape.join('×')})`);
    const values: string[] = [];
    for (let i = 0; i < count; i++) {
      const cps: number[] = [];
      for (let k = 0; k < width; k++) {
        const cp = dv.getUint32(start + (i * width + k) * 4, true);
        if (cp === 0) break;
        cps.push(cp);
      }
      values.push(String.fromCodePoint(...cps));
    }
    return { shape, values };
  }
  throw new TypologyError(`${source}: dtype ${descr} is not supported (float32 '<f4' or unicode '<U')`);
}

export interface TypologyTable {
  readonly features: readonly string[];
  /** ISO 639-3 code → feature vector. */
  vector(code: string): Float32Array;
  has(code: string): boolean;
}

/** ISO 639-1 → 639-3 for the languages this project names; other codes are used as given (three letters). */
export const ISO3: Readonly<Record<string, string>> = {
  en: 'eng', de: 'deu', fr: 'fra', nl: 'nld', it: 'ita', ru: 'rus', cs: 'ces', fi: 'fin', sv: 'swe', tr: 'tur', ja: 'jpn', zh: 'cmn', ar: 'arb', hi: 'hin', ko: 'kor', pl: 'pol', es: 'spa', pt: 'por', ro: 'ron', ca: 'cat', da: 'dan', no: 'nob', el: 'ell', he: 'heb', hu: 'hun', id: 'ind', uk: 'ukr', bg: 'bul', fa: 'pes', eu: 'eus', et: 'est', lv: 'lvs', lt: 'lit', ga: 'gle', cy: 'cym', is: 'isl', vi: 'vie', th: 'tha', ta: 'tam', ur: 'urd', af: 'afr', hr: 'hrv', sr: 'srp', sk: 'slk', sl: 'slv',
};

export const iso3 = (code: string): string => ISO3[code.toLowerCase()] ?? code.toLowerCase();

/** Parses lang2vec's feature_predictions.npz (data [languages, 289, 1], langs, feats). */
export function readTypology(npz: Uint8Array, source = 'feature_predictions.npz'): TypologyTable {
  const entries = readZip(npz, source);
  const get = (name: string): NpyArray => {
    const e = entries.get(name);
    if (e === undefined) throw new TypologyError(`${source}: no ${name} (entries: ${[...entries.keys()].join(', ')})`);
    return readNpy(e, `${source}:${name}`);
  };
  const data = get('data.npy');
  const langs = get('langs.npy').values as string[];
  const feats = get('feats.npy').values as string[];
  const [nl, nf] = data.shape as [number, number];
  if (nl !== langs.length || nf !== feats.length || !(data.values instanceof Float32Array)) throw new TypologyError(`${source}: data is ${data.shape.join('×')}, langs ${langs.length}, feats ${feats.length}`);
  const index = new Map(langs.map((l, i) => [l, i]));
  const values = data.values;
  return {
    features: feats,
    has: (code) => index.has(iso3(code)),
    vector(code) {
      const i = index.get(iso3(code));
      if (i === undefined) throw new TypologyError(`no typology vector for language '${code}' (ISO 639-3 '${iso3(code)}') in ${source}`);
      return values.slice(i * nf, (i + 1) * nf);
    },
  };
}

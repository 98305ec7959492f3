// Writes a small lang2vec-shaped .npz (zip of .npy: data [L, F, 1] float32, langs <U3, feats <U8) for tests.
import { deflateRawSync } from 'zlib';

function npy(descr: string, shape: number[], body: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(body, 10 + header.length);
  return out;
}

function unicode(values: string[], width: number): Uint8Array {
  const b = new Uint8Array(values.length * width * 4);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => [...v].forEach((c, k) => dv.setUint32((i * width + k) * 4, c.codePointAt(0)!, true)));
  return b;
}

/** A zip archive; `deflate` stores entries compressed (method 8) like numpy's savez_compressed. */
export function zip(entries: Record<string, Uint8Array>, deflate: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const nameBytes = new TextEncoder().encode(name);
    const stored = deflate ? new Uint8Array(deflateRawSync(data)) : data;
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, deflate ? 8 : 0, true);
    lv.setUint32(18, stored.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const c = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, deflate ? 8 : 0, true);
    cv.setUint32(20, stored.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    c.set(nameBytes, 46);
    parts.push(local, stored);
    central.push(c);
    offset += local.length + stored.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function typologyNpz(langs: string[], features: string[], values: (lang: number, feature: number) => number, deflate = true): Uint8Array {
  const data = new Float32Array(langs.length * features.length);
  langs.forEach((_l, i) => features.forEach((_f, j) => (data[i * features.length + j] = values(i, j))));
  return zip({
    'data.npy': npy('<f4', [langs.length, features.length, 1], new Uint8Array(data.buffer)),
    'sources.npy': npy('<U9', [1], unicode(['predicted'], 9)),
    'langs.npy': npy('<U3', [langs.length], unicode(langs, 3)),
    'feats.npy': npy('<U8', [features.length], unicode(features, 8)),
  }, deflate);
}

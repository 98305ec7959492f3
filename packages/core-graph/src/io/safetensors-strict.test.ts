// Issue 18 item 4 / 11: the reader accepts exactly what the safetensors reference reader accepts (header length
// sane, no duplicate keys, offsets tiling the data buffer) and reads files above 2 GiB by ranges.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterGraphError } from '../errors';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from './safetensors';
import { readSafetensorsFile } from './safetensors-file';

const valid = encodeSafetensors({ a: { dtype: 'F32', shape: [2], values: [1, 2] }, b: { dtype: 'F32', shape: [1], values: [3] } });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(e).toBeInstanceOf(AdapterGraphError);
    return (e as SafetensorsError).code;
  }
  return 'accepted';
}

function withHeaderLength(bytes: Uint8Array, n: bigint): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setBigUint64(0, n, true);
  return copy;
}

function rawFile(headerText: string, data: ArrayLike<number>): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors header length and coverage', () => {
  const n = new DataView(valid.buffer).getBigUint64(0, true);

  it('a header length off by one in either direction is refused (the writer pads with spaces, so -1 still parses as JSON)', () => {
    expect(codeOf(() => decodeSafetensors(valid))).toBe('accepted');
    expect(codeOf(() => decodeSafetensors(withHeaderLength(valid, n - 1n)))).toBe('E_SAFETENSORS_COVERAGE');
    expect(codeOf(() => decodeSafetensors(withHeaderLength(valid, n + 1n)))).toMatch(/^E_SAFETENSORS_(HEADER|COVERAGE)$/);
    expect(codeOf(() => decodeSafetensors(withHeaderLength(valid, 2n ** 64n - 1n)))).toBe('E_SAFETENSORS_HEADER'); // -1 as u64
    expect(codeOf(() => decodeSafetensors(withHeaderLength(valid, 0n)))).toBe('E_SAFETENSORS_HEADER');
  });

  it('trailing bytes, gaps and a truncated data buffer are refused', () => {
    const trailing = new Uint8Array(valid.length + 1);
    trailing.set(valid);
    expect(codeOf(() => decodeSafetensors(trailing))).toBe('E_SAFETENSORS_COVERAGE');
    expect(codeOf(() => decodeSafetensors(valid.subarray(0, valid.length - 1)))).toBe('E_SAFETENSORS_COVERAGE');
    const gap = rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [0, 7]);
    expect(() => decodeSafetensors(gap, 'gap.safetensors')).toThrow(/gap.safetensors: tensor "a": data \[1, 2\] leaves a gap after byte 0/);
  });

  it('duplicate keys are refused instead of last-wins, also when written with escapes', () => {
    const dup = rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [1, 2]);
    expect(codeOf(() => decodeSafetensors(dup))).toBe('E_SAFETENSORS_DUPLICATE_KEY');
    const escaped = rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [1, 2]);
    expect(() => decodeSafetensors(escaped)).toThrow(/header has the key "a" twice/);
    const nested = rawFile('{"__metadata__":{"k":"1","k":"2"}}', []);
    expect(codeOf(() => decodeSafetensors(nested))).toBe('E_SAFETENSORS_DUPLICATE_KEY');
    // The same key in two different objects is fine.
    expect(codeOf(() => decodeSafetensors(rawFile('{"__metadata__":{"a":"x"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [9])))).toBe('accepted');
  });
});

describe('files above 2 GiB are read by ranges', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'st-large-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a tensor lying beyond byte 2^31 of a sparse file loads with its exact values', async () => {
    const padBytes = 2 ** 31 + 8; // a U8 tensor covering the hole
    const header = JSON.stringify({
      pad: { dtype: 'U8', shape: [padBytes], data_offsets: [0, padBytes] },
      w: { dtype: 'F32', shape: [3], data_offsets: [padBytes, padBytes + 12] },
    });
    const json = new TextEncoder().encode(header.padEnd(Math.ceil(header.length / 8) * 8, ' '));
    const prefix = new Uint8Array(8 + json.length);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
    prefix.set(json, 8);
    const file = join(dir, 'big.safetensors');
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, prefix, 0, prefix.length, 0);
      const w = new Float32Array([1.5, -2.25, 3e-8]);
      writeSync(fd, new Uint8Array(w.buffer), 0, 12, prefix.length + padBytes); // the rest stays a hole on disk
    } finally {
      closeSync(fd);
    }
    const { tensors } = await readSafetensorsFile(file, { select: (name) => name === 'w' });
    expect([...tensors.keys()]).toEqual(['w']);
    expect(Array.from(tensors.get('w')!.values)).toEqual([1.5, -2.25, Math.fround(3e-8)]);
  });

  it('ranged and whole-file reads agree and validate alike', async () => {
    const file = join(dir, 'small.safetensors');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, valid);
    const whole = await readSafetensorsFile(file);
    const ranged = await readSafetensorsFile(file, { rangedAbove: 0 });
    expect([...ranged.tensors.entries()].map(([k, t]) => [k, Array.from(t.values)])).toEqual([...whole.tensors.entries()].map(([k, t]) => [k, Array.from(t.values)]));
    writeFileSync(file, withHeaderLength(valid, new DataView(valid.buffer).getBigUint64(0, true) - 1n));
    await expect(readSafetensorsFile(file, { rangedAbove: 0 })).rejects.toMatchObject({ code: 'E_SAFETENSORS_COVERAGE' });
  });
});

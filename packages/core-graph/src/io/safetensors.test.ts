import * as fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f16BitsToNumber, numberToF16Bits } from './float16';
import {
  decodeSafetensors,
  decodeSafetensorsRaw,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  SafetensorsError,
  type EncodableDtype,
  type EncodableTensor,
} from './safetensors';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors-file';

const SRC = 'models/demo.safetensors';

/** Builds a file by hand from a header (object or raw JSON text) and data bytes. */
function rawFile(header: unknown, data: ArrayLike<number> = [], opts: { rawHeader?: boolean } = {}): Uint8Array {
  const text = opts.rawHeader ? (header as string) : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Runs `fn` and returns the SafetensorsError it throws (fails the test otherwise). */
function catchError(fn: () => unknown): SafetensorsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return e as SafetensorsError;
  }
  throw new Error('expected a SafetensorsError, got none');
}

const f32Bits = (values: Float32Array): number[] => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));

/** A random shape (up to 4 dims, up to 5 per dim — zero dims and scalars included). */
const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 });
const count = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
const withValues = <T>(valueArb: (n: number) => fc.Arbitrary<T>) =>
  shapeArb.chain((shape) => valueArb(count(shape)).map((values) => ({ shape, values })));

function roundTrip(dtype: EncodableDtype, shape: number[], values: ArrayLike<number>) {
  const { tensors } = decodeSafetensors(encodeSafetensors({ t: { dtype, shape, values } }));
  const t = tensors.get('t')!;
  expect(t.dtype).toBe(dtype);
  expect(t.shape).toEqual(shape);
  return t.values;
}

describe('round trips', () => {
  it('F32 keeps every bit pattern, including NaN payloads and -0', () => {
    const arb = withValues((n) => fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: n, maxLength: n }));
    fc.assert(
      fc.property(arb, ({ shape, values: bits }) => {
        const input = new Float32Array(Uint32Array.from(bits).buffer);
        const out = roundTrip('F32', shape, input);
        expect(out).toBeInstanceOf(Float32Array);
        expect(f32Bits(out as Float32Array)).toEqual(bits);
      }),
    );
  });

  it('F32 from a plain number array rounds like Math.fround', () => {
    fc.assert(
      fc.property(withValues((n) => fc.array(fc.double(), { minLength: n, maxLength: n })), ({ shape, values }) => {
        expect(Array.from(roundTrip('F32', shape, values))).toEqual(values.map(Math.fround));
      }),
    );
  });

  it('F64 keeps every value exactly', () => {
    fc.assert(
      fc.property(withValues((n) => fc.array(fc.double(), { minLength: n, maxLength: n })), ({ shape, values }) => {
        const out = roundTrip('F64', shape, values);
        expect(out).toBeInstanceOf(Float64Array);
        expect(Array.from(out)).toEqual(values); // toEqual treats -0 / NaN exactly (Object.is)
      }),
    );
  });

  it('I32 over the full int32 range', () => {
    const ints = (n: number) => fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: n, maxLength: n });
    fc.assert(
      fc.property(withValues(ints), ({ shape, values }) => {
        const out = roundTrip('I32', shape, values);
        expect(out).toBeInstanceOf(Int32Array);
        expect(Array.from(out)).toEqual(values);
      }),
    );
  });

  it('I64 values within int32 range decode to Int32Array', () => {
    const ints = (n: number) => fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: n, maxLength: n });
    fc.assert(
      fc.property(withValues(ints), ({ shape, values }) => {
        const out = roundTrip('I64', shape, values);
        expect(out).toBeInstanceOf(Int32Array);
        expect(Array.from(out)).toEqual(values);
      }),
    );
  });

  it('U8', () => {
    const bytes = (n: number) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: n, maxLength: n });
    fc.assert(
      fc.property(withValues(bytes), ({ shape, values }) => {
        const out = roundTrip('U8', shape, values);
        expect(out).toBeInstanceOf(Uint8Array);
        expect(Array.from(out)).toEqual(values);
      }),
    );
  });

  it('F16 keeps every non-NaN half value exactly (NaN stays NaN)', () => {
    const halves = (n: number) => fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n });
    fc.assert(
      fc.property(withValues(halves), ({ shape, values: bits }) => {
        const numbers = bits.map(f16BitsToNumber);
        const out = roundTrip('F16', shape, numbers);
        expect(out).toBeInstanceOf(Float32Array);
        expect(Array.from(out)).toEqual(numbers);
      }),
    );
  });

  it('decodes hand-built I16, I8, BOOL and BF16 tensors', () => {
    const arb = fc.record({
      i16: fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 20 }),
      i8: fc.array(fc.integer({ min: -128, max: 127 }), { maxLength: 20 }),
      bool: fc.array(fc.boolean(), { maxLength: 20 }),
      bf16: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 20 }),
    });
    fc.assert(
      fc.property(arb, ({ i16, i8, bool, bf16 }) => {
        const data = new Uint8Array(i16.length * 2 + i8.length + bool.length + bf16.length * 2);
        const view = new DataView(data.buffer);
        let o = 0;
        const span = (len: number): [number, number] => [o, (o += len)];
        const spans = { i16: span(i16.length * 2), i8: span(i8.length), bool: span(bool.length), bf16: span(bf16.length * 2) };
        i16.forEach((v, i) => view.setInt16(spans.i16[0] + 2 * i, v, true));
        i8.forEach((v, i) => view.setInt8(spans.i8[0] + i, v));
        bool.forEach((v, i) => view.setUint8(spans.bool[0] + i, v ? 1 : 0));
        bf16.forEach((v, i) => view.setUint16(spans.bf16[0] + 2 * i, v, true));
        const file = rawFile(
          {
            i16: { dtype: 'I16', shape: [i16.length], data_offsets: spans.i16 },
            i8: { dtype: 'I8', shape: [i8.length], data_offsets: spans.i8 },
            bool: { dtype: 'BOOL', shape: [bool.length], data_offsets: spans.bool },
            bf16: { dtype: 'BF16', shape: [bf16.length], data_offsets: spans.bf16 },
          },
          data,
        );
        const { tensors } = decodeSafetensors(file);
        expect(tensors.get('i16')!.values).toEqual(Int32Array.from(i16));
        expect(tensors.get('i8')!.values).toEqual(Int32Array.from(i8));
        expect(tensors.get('bool')!.values).toEqual(Uint8Array.from(bool, Number));
        const bfOut = tensors.get('bf16')!.values as Float32Array;
        expect(bfOut).toBeInstanceOf(Float32Array);
        expect(f32Bits(bfOut)).toEqual(bf16.map((h) => (h << 16) >>> 0)); // exact: bf16 is the top half of f32
      }),
    );
  });

  it('many tensors of mixed dtypes plus metadata survive together', () => {
    const tensorArb: fc.Arbitrary<EncodableTensor> = fc.constantFrom<EncodableDtype>('F32', 'F64', 'I32', 'I64', 'U8', 'F16').chain((dtype) =>
      withValues((n) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: n, maxLength: n })).map(({ shape, values }) => ({ dtype, shape, values })),
    );
    const arb = fc.tuple(fc.dictionary(fc.string({ minLength: 1 }).filter((s) => s !== '__metadata__'), tensorArb), fc.dictionary(fc.string(), fc.string()));
    fc.assert(
      fc.property(arb, ([input, metadata]) => {
        const bytes = encodeSafetensors(input, metadata);
        const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect((8 + headerLen) % 8).toBe(0);
        const out = decodeSafetensors(bytes);
        expect(out.metadata).toEqual(metadata);
        expect([...out.tensors.keys()].sort()).toEqual(Object.keys(input).sort());
        for (const [name, t] of Object.entries(input)) {
          const d = out.tensors.get(name)!;
          expect(d.name).toBe(name);
          expect(d.shape).toEqual(t.shape);
          expect(Array.from(d.values)).toEqual(Array.from(t.values));
        }
      }),
    );
  });

  it('is deterministic regardless of key insertion order', () => {
    const a = { dtype: 'F32' as const, shape: [1], values: [1] };
    const b = { dtype: 'I32' as const, shape: [2], values: [2, 3] };
    const one = encodeSafetensors({ a, b }, { x: '1', y: '2' });
    const two = encodeSafetensors({ b, a }, { y: '2', x: '1' });
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(true);
  });

  it('handles scalars, zero-size tensors and awkward names like __proto__', () => {
    const bytes = encodeSafetensors({
      scalar: { dtype: 'F32', shape: [], values: [7] },
      empty: { dtype: 'I64', shape: [0, 3], values: [] },
      ['__proto__']: { dtype: 'U8', shape: [1], values: [9] },
      'ünï cødé': { dtype: 'U8', shape: [1], values: [1] },
    });
    const { tensors } = decodeSafetensors(bytes);
    expect(Array.from(tensors.get('scalar')!.values)).toEqual([7]);
    expect(tensors.get('scalar')!.shape).toEqual([]);
    expect(tensors.get('empty')!.values).toHaveLength(0);
    expect(Array.from(tensors.get('__proto__')!.values)).toEqual([9]);
    expect(Array.from(tensors.get('ünï cødé')!.values)).toEqual([1]);
  });
});

describe('F16 / BF16 conversions against hand-computed values', () => {
  const f16Cases: Array<[number, number]> = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3800, 0.5],
    [0x3555, 0.333251953125], // 1365/4096
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x7bff, 65504], // largest finite
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x0000, 0],
    [0x8000, -0],
    [0x2e66, 0.0999755859375],
  ];

  it.each(f16Cases)('F16 0x%s decodes correctly', (bits, value) => {
    const file = rawFile({ h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, [bits & 0xff, bits >> 8]);
    expect(decodeSafetensors(file).tensors.get('h')!.values[0]).toBe(value); // toBe distinguishes -0
    expect(numberToF16Bits(value)).toBe(bits);
  });

  it('F16 NaN decodes to NaN', () => {
    for (const bits of [0x7e00, 0x7c01, 0xffff]) expect(f16BitsToNumber(bits)).toBeNaN();
    expect(numberToF16Bits(NaN)).toBe(0x7e00);
  });

  it('F16 encoding rounds to nearest, ties to even, with no double rounding', () => {
    expect(numberToF16Bits(65519)).toBe(0x7bff);
    expect(numberToF16Bits(65520)).toBe(0x7c00); // tie between 65504 and 2^16 -> even mantissa (inf)
    expect(numberToF16Bits(1e6)).toBe(0x7c00);
    expect(numberToF16Bits(-1e6)).toBe(0xfc00);
    expect(numberToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(numberToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(numberToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie 1 vs 2 -> 2
    expect(numberToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(numberToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even
    // Just above a tie, but the excess is below float32 precision: going via float32 would give 0x3c00.
    expect(numberToF16Bits(1 + 2 ** -11 + 2 ** -30)).toBe(0x3c01);
    expect(numberToF16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // tie 0x03ff vs 0x0400 -> even, carrying into the min normal
  });

  it('F16 encoding picks the nearest half for any finite double', () => {
    fc.assert(
      fc.property(fc.double({ min: -65504, max: 65504, noNaN: true }), (x) => {
        const h = numberToF16Bits(x);
        const err = Math.abs(f16BitsToNumber(h) - x);
        // Neighbours in magnitude (same sign) must not be closer.
        for (const n of [h - 1, h + 1]) {
          if (n < 0 || (n & 0x8000) !== (h & 0x8000) || (n & 0x7c00) === 0x7c00) continue;
          expect(err).toBeLessThanOrEqual(Math.abs(f16BitsToNumber(n) - x));
        }
      }),
    );
  });

  const bf16Cases: Array<[number, number]> = [
    [0x3f80, 1],
    [0xc000, -2],
    [0x4049, 3.140625],
    [0x0001, 2 ** -133], // subnormal: 2^-149 shifted up 16 bits
    [0x7f7f, 0xff * 2 ** 120], // largest finite: 1.1111111b * 2^127
    [0x7f80, Infinity],
    [0xff80, -Infinity],
    [0x8000, -0],
  ];

  it.each(bf16Cases)('BF16 0x%s decodes correctly', (bits, value) => {
    const file = rawFile({ b: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }, [bits & 0xff, bits >> 8]);
    expect(decodeSafetensors(file).tensors.get('b')!.values[0]).toBe(value);
  });

  it('BF16 NaN decodes to NaN', () => {
    const file = rawFile({ b: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }, [0xc0, 0x7f]);
    expect(decodeSafetensors(file).tensors.get('b')!.values[0]).toBeNaN();
  });
});

describe('golden bytes', () => {
  // {"__metadata__":{"format":"pt"},"a":{...F32 [2] [0,8]},"b":{...I32 [2] [8,16]}} is 139 bytes,
  // padded with 5 spaces to 144 = 0x90 so the data starts at 8 + 144 = 152, a multiple of 8.
  const headerText =
    '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]}}' +
    '     ';
  const golden = Uint8Array.from([
    0x90, 0, 0, 0, 0, 0, 0, 0, // u64 LE header length 144
    ...Array.from(headerText, (c) => c.charCodeAt(0)),
    0x00, 0x00, 0x80, 0x3f, // a[0] = 1.0f
    0x00, 0x00, 0x00, 0xc0, // a[1] = -2.0f
    0x01, 0x00, 0x00, 0x00, // b[0] = 1
    0xff, 0xff, 0xff, 0xff, // b[1] = -1
  ]);

  it('the hand-written golden file has the expected size', () => {
    expect(headerText).toHaveLength(144);
    expect(golden).toHaveLength(168);
  });

  it('encodes to exactly the golden bytes', () => {
    const out = encodeSafetensors(
      { b: { dtype: 'I32', shape: [2], values: [1, -1] }, a: { dtype: 'F32', shape: [2], values: [1, -2] } },
      { format: 'pt' },
    );
    expect(Array.from(out)).toEqual(Array.from(golden));
  });

  it('decodes the golden bytes', () => {
    const { tensors, metadata } = decodeSafetensors(golden);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.get('a')).toEqual({ name: 'a', dtype: 'F32', shape: [2], values: Float32Array.from([1, -2]) });
    expect(tensors.get('b')).toEqual({ name: 'b', dtype: 'I32', shape: [2], values: Int32Array.from([1, -1]) });
  });

  it('decodes from an unaligned view and from a pooled Node Buffer', () => {
    const padded = new Uint8Array(golden.length + 3);
    padded.set(golden, 3);
    expect(decodeSafetensors(padded.subarray(3)).tensors.get('a')!.values).toEqual(Float32Array.from([1, -2]));
    const buf = Buffer.from(golden); // small Buffers share a pool, so byteOffset is usually non-zero
    expect(decodeSafetensors(buf).tensors.get('b')!.values).toEqual(Int32Array.from([1, -1]));
  });

  it('raw decode returns the stored bytes without conversion', () => {
    const raw = decodeSafetensorsRaw(golden).tensors.get('a')!;
    expect(raw).toEqual({ dtype: 'F32', shape: [2], data: Uint8Array.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]) });
  });
});

describe('malformed files give a SafetensorsError naming the source and the problem', () => {
  const t = (dtype: unknown, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

  function expectFailure(file: Uint8Array, problem: RegExp, tensor?: string): void {
    const err = catchError(() => decodeSafetensors(file, SRC));
    expect(err.message).toContain(SRC);
    expect(err.message).toMatch(problem);
    expect(err.source).toBe(SRC);
    expect(err.tensor).toBe(tensor);
    if (tensor !== undefined) expect(err.message).toContain(`"${tensor}"`);
  }

  it('uses <buffer> when no source is given', () => {
    const err = catchError(() => decodeSafetensors(new Uint8Array(3)));
    expect(err.message).toMatch(/^<buffer>: /);
    expect(err.name).toBe('SafetensorsError');
  });

  it('file shorter than 8 bytes', () => {
    for (const n of [0, 1, 7]) expectFailure(new Uint8Array(n), /shorter than the 8-byte header length/);
  });

  it('header length beyond the file', () => {
    const file = rawFile({});
    new DataView(file.buffer).setBigUint64(0, 100n, true);
    expectFailure(file, /header length 100 goes beyond the end of the file/);
  });

  it('unreasonably large header lengths', () => {
    for (const n of [BigInt(MAX_HEADER_BYTES) + 1n, 2n ** 40n, 2n ** 64n - 1n]) {
      const file = rawFile({});
      new DataView(file.buffer).setBigUint64(0, n, true);
      expectFailure(file, new RegExp(`header length ${n} exceeds`));
    }
  });

  it('header not valid JSON or not UTF-8', () => {
    expectFailure(rawFile('{"a": ', [], { rawHeader: true }), /not valid UTF-8 JSON/);
    const bad = rawFile('{"\u00ff": {}}', [], { rawHeader: true });
    bad[10] = 0xff; // break the UTF-8 sequence
    expectFailure(bad, /not valid UTF-8 JSON/);
  });

  it('header not an object', () => {
    for (const text of ['[1, 2]', 'null', '"str"', '42', 'true']) {
      expectFailure(rawFile(text, [], { rawHeader: true }), /header is not a JSON object/);
    }
  });

  it('entry not an object', () => {
    expectFailure(rawFile({ w: 5 }), /entry is not an object/, 'w');
    expectFailure(rawFile({ w: [] }), /entry is not an object/, 'w');
  });

  it('unknown or missing dtype', () => {
    expectFailure(rawFile({ w: t('F8', [1], [0, 1]) }, [0]), /unknown dtype "F8"/, 'w');
    expectFailure(rawFile({ w: t('f32', [1], [0, 4]) }, [0, 0, 0, 0]), /unknown dtype "f32"/, 'w');
    expectFailure(rawFile({ w: t('toString', [1], [0, 4]) }, [0, 0, 0, 0]), /unknown dtype "toString"/, 'w');
    expectFailure(rawFile({ w: { shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /unknown dtype undefined/, 'w');
  });

  it('shape not an array of non-negative integers', () => {
    for (const shape of [null, 3, '3', [-1], [1.5], ['2'], [2 ** 60], undefined]) {
      expectFailure(rawFile({ w: t('U8', shape, [0, 1]) }, [0]), /shape .* is not an array of non-negative integers/, 'w');
    }
  });

  it('data_offsets not [begin, end] integers', () => {
    for (const offsets of [null, [0], [0, 1, 2], [0, 1.5], [-1, 0], ['0', '1'], { 0: 0, 1: 1 }, undefined]) {
      expectFailure(rawFile({ w: t('U8', [1], offsets) }, [0]), /data_offsets .* is not \[begin, end\]/, 'w');
    }
  });

  it('keeps messages short even for huge bad fields', () => {
    const err = catchError(() => decodeSafetensors(rawFile({ w: t('U8', new Array(100000).fill(-1), [0, 1]) }, [0]), SRC));
    expect(err.message.length).toBeLessThan(300);
  });

  it('end before begin', () => {
    expectFailure(rawFile({ w: t('U8', [0], [4, 2]) }, [0, 0, 0, 0]), /end 2 is before begin 4/, 'w');
  });

  it('offsets outside the data buffer', () => {
    expectFailure(rawFile({ w: t('F32', [1], [0, 4]) }, [0, 0]), /tensors need 4 data bytes but the file holds 2/);
    expectFailure(rawFile({ w: t('U8', [1], [10, 11]) }, [0]), /data \[10, 11\] leaves a gap after byte 0/, 'w');
  });

  it('byte length not matching shape x itemsize', () => {
    expectFailure(rawFile({ w: t('F32', [3], [0, 8]) }, new Uint8Array(8)), /byte length 8 does not match shape \[3\] x F32 \(12 bytes\)/, 'w');
    expectFailure(rawFile({ w: t('I64', [], [0, 4]) }, new Uint8Array(8)), /does not match shape \[\] x I64 \(8 bytes\)/, 'w');
  });

  it('overlapping tensors', () => {
    const file = rawFile({ a: t('U8', [4], [0, 4]), b: t('U8', [2], [3, 5]) }, new Uint8Array(5));
    expectFailure(file, /data \[3, 5\] overlaps the previous tensor's data \(which ends at 4\)/, 'b');
    const same = rawFile({ a: t('U8', [2], [0, 2]), b: t('U8', [2], [0, 2]) }, new Uint8Array(2));
    expectFailure(same, /overlaps/, 'b');
  });

  it('zero-size tensors may sit at a tensor boundary, not inside another tensor (as the reference reader)', () => {
    const file = rawFile({ a: t('U8', [0], [0, 0]), b: t('F32', [0, 2], [2, 2]), c: t('U8', [2], [0, 2]) }, [5, 6]);
    expect(decodeSafetensors(file).tensors.size).toBe(3);
    expectFailure(rawFile({ a: t('U8', [0], [1, 1]), c: t('U8', [2], [0, 2]) }, [5, 6]), /overlaps/, 'a');
  });

  it('bad __metadata__', () => {
    expectFailure(rawFile({ __metadata__: [] }), /__metadata__ is not an object/);
    expectFailure(rawFile({ __metadata__: { k: 1 } }), /__metadata__ value for "k" is not a string/);
  });

  it('I64 values outside int32 range', () => {
    const data = new Uint8Array(16);
    new DataView(data.buffer).setBigInt64(8, 2n ** 31n, true);
    expectFailure(rawFile({ ids: t('I64', [2], [0, 16]) }, data), /I64 value 2147483648 at index 1 is outside the int32 range/, 'ids');
    new DataView(data.buffer).setBigInt64(8, -(2n ** 31n) - 1n, true);
    expectFailure(rawFile({ ids: t('I64', [2], [0, 16]) }, data), /I64 value -2147483649 at index 1/, 'ids');
    new DataView(data.buffer).setBigInt64(8, -(2n ** 31n), true);
    expect(decodeSafetensors(rawFile({ ids: t('I64', [2], [0, 16]) }, data)).tensors.get('ids')!.values[1]).toBe(-(2 ** 31));
  });

  it('accepts a header padded with trailing spaces and no metadata', () => {
    const file = rawFile('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}        ', [42], { rawHeader: true });
    const { tensors, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({});
    expect(Array.from(tensors.get('w')!.values)).toEqual([42]);
  });
});

describe('fuzzing never produces anything but SafetensorsError', () => {
  const valid = encodeSafetensors(
    {
      f: { dtype: 'F32', shape: [2, 2], values: [1, 2, 3, 4] },
      h: { dtype: 'F16', shape: [3], values: [0.5, -1, 65504] },
      i: { dtype: 'I64', shape: [2], values: [7, -7] },
      u: { dtype: 'U8', shape: [0], values: [] },
      d: { dtype: 'F64', shape: [1], values: [Math.PI] },
    },
    { note: 'fuzz' },
  );

  function decodeOrSafetensorsError(bytes: Uint8Array): void {
    try {
      decodeSafetensors(bytes, SRC);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw e;
      expect(e.message).toContain(SRC);
    }
  }

  it('random byte mutations and truncations', () => {
    const mutation = fc.record({ pos: fc.nat({ max: valid.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 8 }), fc.option(fc.nat({ max: valid.length })), (muts, cut) => {
        const bytes = valid.slice(0, cut ?? valid.length);
        for (const { pos, byte } of muts) if (pos < bytes.length) bytes[pos] = byte;
        decodeOrSafetensorsError(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('random header-length fields', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (n) => {
        const bytes = valid.slice();
        new DataView(bytes.buffer).setBigUint64(0, n, true);
        decodeOrSafetensorsError(bytes);
      }),
    );
  });

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodeOrSafetensorsError));
  });

  it('random but plausible headers over random data', () => {
    const num = fc.oneof(fc.integer({ min: -2, max: 40 }), fc.double(), fc.constant(2 ** 53));
    const entry = fc.record(
      {
        dtype: fc.oneof(fc.constantFrom('F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'X'), fc.jsonValue()),
        shape: fc.oneof(fc.array(num, { maxLength: 3 }), fc.jsonValue()),
        data_offsets: fc.oneof(fc.tuple(num, num), fc.array(num, { maxLength: 3 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    const header = fc.dictionary(fc.oneof(fc.string(), fc.constant('__metadata__')), fc.oneof(entry, fc.jsonValue()), { maxKeys: 5 });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 48 }), (h, data) => decodeOrSafetensorsError(rawFile(h, data))),
      { numRuns: 2000 },
    );
  });
});

describe('encode validation', () => {
  const encodeError = (fn: () => unknown, problem: RegExp, tensor?: string) => {
    const err = catchError(fn);
    expect(err.message).toMatch(problem);
    expect(err.message).toContain('<buffer>');
    expect(err.tensor).toBe(tensor);
  };

  it('values.length must equal product(shape)', () => {
    encodeError(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 3], values: [1, 2, 3] } }), /tensor "w": has 3 values but shape \[2, 3\] needs 6/, 'w');
  });

  it('rejects bad shapes, out-of-range integers and reserved names', () => {
    encodeError(() => encodeSafetensors({ w: { dtype: 'F32', shape: [-1], values: [] } }), /shape \[-1\]/, 'w');
    encodeError(() => encodeSafetensors({ w: { dtype: 'I32', shape: [1], values: [2 ** 31] } }), /I32 value 2147483648 at index 0/, 'w');
    encodeError(() => encodeSafetensors({ w: { dtype: 'I32', shape: [1], values: [0.5] } }), /not an integer/, 'w');
    encodeError(() => encodeSafetensors({ w: { dtype: 'U8', shape: [2], values: [0, 256] } }), /U8 value 256 at index 1/, 'w');
    encodeError(() => encodeSafetensors({ w: { dtype: 'I64', shape: [1], values: [2 ** 53] } }), /I64 value/, 'w');
    encodeError(() => encodeSafetensors({ w: { dtype: 'BF16' as EncodableDtype, shape: [1], values: [1] } }), /cannot encode dtype "BF16"/, 'w');
    encodeError(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], values: [] } }), /reserved/);
    encodeError(() => encodeSafetensors({}, { k: 1 as unknown as string }), /metadata value for "k"/);
  });

  it('encodes an empty file', () => {
    const bytes = encodeSafetensors({});
    expect(bytes).toHaveLength(16); // "{}" padded to 8
    expect(decodeSafetensors(bytes)).toEqual({ tensors: new Map(), metadata: {} });
  });
});

describe('files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes and reads back, leaving no temp files', async () => {
    const path = join(dir, 'w.safetensors');
    await writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [2], values: [0.25, 8] } }, { step: '3' });
    expect(readdirSync(dir)).toEqual(['w.safetensors']);
    const { tensors, metadata } = await readSafetensorsFile(path);
    expect(metadata).toEqual({ step: '3' });
    expect(tensors.get('w')!.values).toEqual(Float32Array.from([0.25, 8]));
  });

  it('names the path when the file is missing or corrupt', async () => {
    const missing = join(dir, 'missing.safetensors');
    await expect(readSafetensorsFile(missing)).rejects.toThrow(SafetensorsError);
    await expect(readSafetensorsFile(missing)).rejects.toThrow(`${missing}: cannot read file`);
    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, Uint8Array.from([1, 2, 3]));
    await expect(readSafetensorsFile(corrupt)).rejects.toThrow(`${corrupt}: file is 3 bytes`);
  });

  it('a failed write keeps the existing file and names the path', async () => {
    const path = join(dir, 'keep.safetensors');
    writeFileSync(path, 'old');
    const bad = writeSafetensorsFile(path, { w: { dtype: 'U8', shape: [2], values: [1] } });
    await expect(bad).rejects.toThrow(`${path}: tensor "w": has 1 values`);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['keep.safetensors']);
  });

  it('writing into a missing directory throws and creates nothing', async () => {
    const sub = join(dir, 'nope');
    await expect(writeSafetensorsFile(join(sub, 'w.safetensors'), {})).rejects.toThrow(/ENOENT/);
    expect(existsSync(sub)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});

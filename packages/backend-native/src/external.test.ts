import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { loadAddon } from './addon';
import { disableNativeKernels, enableNativeKernels, externalStats, mapWeightsFile } from './index';
import { describeNative, randomArray, wasmBackend } from './test-util';

/** Writes `chunks` (float32 arrays) after `lead` bytes of padding; returns the file and each chunk's byte offset. */
function writeFloats(chunks: Float32Array[], lead = 16): { file: string; offsets: number[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'external-'));
  const file = path.join(dir, 'weights.bin');
  const offsets: number[] = [];
  let at = lead;
  for (const c of chunks) {
    offsets.push(at);
    at += c.byteLength;
  }
  const bytes = new Uint8Array(at);
  chunks.forEach((c, i) => bytes.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), offsets[i]!));
  fs.writeFileSync(file, bytes);
  return { file, offsets };
}

/** [r, c] values stored as their [c, r] transpose, as a Hugging Face nn.Linear weight stores an [in, out] kernel. */
function transposed(values: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = values[i * c + j]!;
  return out;
}

const bits = (t: tf.Tensor): Uint32Array => new Uint32Array((t.dataSync() as Float32Array).slice().buffer);

describeNative('mapped weights (tensors outside the wasm heap)', () => {
  beforeAll(() => enableNativeKernels());
  afterAll(() => disableNativeKernels());

  it('reads back the stored values, plain and stored transposed', () => {
    const w = randomArray(6 * 5, 1);
    const { file, offsets } = writeFloats([w, transposed(w, 6, 5)]);
    const mapped = mapWeightsFile(file);
    const plain = mapped.tensor(offsets[0]!, [6, 5]);
    const flipped = mapped.tensor(offsets[1]!, [6, 5], true);
    expect(plain.dataSync()).toEqual(w);
    expect(flipped.dataSync()).toEqual(w);
    expect(flipped.arraySync()).toEqual(tf.tensor(w, [6, 5]).arraySync());
    expect(externalStats().tensors).toBe(2);
    tf.dispose([plain, flipped]);
    expect(externalStats().tensors).toBe(0);
  });

  it('matmuls read mapped operands in place, bit for bit the heap result, forward and gradients', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }),
        fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 1 << 30 }), (m, k, n, tA, tB, stored, seed) => {
          const x = randomArray(m * k, seed);
          const w = randomArray(k * n, seed + 1);
          const wShape = tB ? [n, k] : [k, n];
          const { file, offsets } = writeFloats([stored ? transposed(w, wShape[0]!, wShape[1]!) : w]);
          const mapped = mapWeightsFile(file).tensor(offsets[0]!, wShape, stored);
          const heapW = tf.tensor(w, wShape);
          const xT = tf.tensor(tA ? transposed(x, m, k) : x, tA ? [k, m] : [m, k]);
          const before = copiesTotal();
          const [yMapped, yHeap] = [mapped, heapW].map((wt) => tf.matMul(xT, wt, tA, tB));
          // The mapped product equals a heap product over the same stored layout (same sgemm call) ...
          const sameLayout = stored ? tf.tensor(transposed(w, wShape[0]!, wShape[1]!), [wShape[1]!, wShape[0]!]) : heapW;
          const ySame = tf.matMul(xT, sameLayout, tA, stored ? !tB : tB);
          expect(bits(yMapped!)).toEqual(bits(ySame));
          // ... and the plain heap product within float32 reordering (packing may differ by layout).
          const a = yMapped!.dataSync();
          const b = yHeap!.dataSync();
          for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * Math.sqrt(k) * k);
          // Gradient to x goes through dy·Wᵀ with W mapped: no heap copy of W is made.
          const gMapped = tf.grad((xx: tf.Tensor) => tf.matMul(xx, mapped, tA, tB).sum())(xT);
          const gSame = tf.grad((xx: tf.Tensor) => tf.matMul(xx, sameLayout, tA, stored ? !tB : tB).sum())(xT);
          expect(bits(gMapped)).toEqual(bits(gSame));
          expect(copiesTotal()).toBe(before);
          tf.dispose([mapped, heapW, xT, yMapped!, yHeap!, ySame, sameLayout, gMapped, gSame]);
        }),
      { numRuns: 25 },
    );
    expect(externalStats().tensors).toBe(0);
  });

  it('gathers rows of a mapped embedding table in place', () => {
    const table = randomArray(50 * 8, 7);
    const { file, offsets } = writeFloats([table]);
    const mapped = mapWeightsFile(file).tensor(offsets[0]!, [50, 8]);
    const ids = tf.tensor1d([3, 0, 49, 3, 17], 'int32');
    const before = copiesTotal();
    const got = tf.gather(mapped, ids);
    expect(bits(got)).toEqual(bits(tf.gather(tf.tensor(table, [50, 8]), ids)));
    expect(copiesTotal()).toBe(before);
    tf.dispose([mapped, ids, got]);
  });

  it('other kernels get a heap copy: same results as the heap tensor, and the copies are counted and freed', () => {
    const w = randomArray(12 * 7, 3);
    const { file, offsets } = writeFloats([transposed(w, 12, 7)]);
    const mapped = mapWeightsFile(file).tensor(offsets[0]!, [12, 7], true);
    const heap = tf.tensor(w, [12, 7]);
    const tensorsBefore = tf.memory().numTensors;
    const ids = wasmBackend().numDataIds();
    for (const f of [(t: tf.Tensor) => tf.add(t, 1), (t: tf.Tensor) => tf.transpose(t), (t: tf.Tensor) => tf.sum(t, 0),
      (t: tf.Tensor) => tf.reshape(t, [7, 12]), (t: tf.Tensor) => tf.gather(t, tf.tensor1d([2, 11], 'int32'))]) {
      tf.tidy(() => expect(bits(f(mapped))).toEqual(bits(f(heap))));
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(wasmBackend().numDataIds()).toBe(ids);
    expect(externalStats().copies['Add']).toBeGreaterThanOrEqual(1);
    tf.dispose([mapped, heap]);
  });

  it('a variable over a mapped tensor trains: its first update moves it to the heap and releases the mapping', () => {
    const w = randomArray(4 * 3, 5);
    const { file, offsets } = writeFloats([transposed(w, 4, 3)]);
    const initial = mapWeightsFile(file).tensor(offsets[0]!, [4, 3], true);
    const v = tf.variable(initial);
    initial.dispose();
    expect(externalStats().tensors).toBe(1);
    const x = tf.tensor(randomArray(2 * 4, 6), [2, 4]);
    const { grads } = tf.variableGrads(() => tf.matMul(x, v).square().sum() as tf.Scalar, [v]);
    v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.1)));
    expect(externalStats().tensors).toBe(0);
    const expected = tf.tidy(() => {
      const h = tf.tensor(w, [4, 3]);
      const g = tf.grad((hh: tf.Tensor) => tf.matMul(x, hh).square().sum())(h);
      return tf.sub(h, tf.mul(g, 0.1));
    });
    expect(bits(v)).toEqual(bits(expected));
    tf.dispose([v, x, expected, grads[v.name]!]);
  });

  it('keeps the mapped bytes out of the wasm heap', () => {
    const big = new Float32Array(4 * 1024 * 1024); // 16 MiB
    big[123] = 1.5;
    const { file, offsets } = writeFloats([big]);
    const heapBefore = wasmBackend().heapBytes();
    const mapped = mapWeightsFile(file).tensor(offsets[0]!, [1024, 4096]);
    const row = tf.gather(mapped, tf.tensor1d([0], 'int32'));
    expect(row.dataSync()[123]).toBe(1.5);
    expect(wasmBackend().heapBytes() - heapBefore).toBeLessThan(1024 * 1024);
    tf.dispose([mapped, row]);
  });

  it('refuses a missing file, misaligned or out-of-file data, and transposed storage of a non-matrix, naming the file', () => {
    const { file } = writeFloats([new Float32Array(8)]);
    expect(() => mapWeightsFile(`${file}.missing`)).toThrow(/weights\.bin\.missing.*No such file/);
    const mapped = mapWeightsFile(file);
    expect(() => mapped.tensor(2, [2])).toThrow(/weights\.bin.*byte 2.*aligned/);
    expect(() => mapped.tensor(16, [9])).toThrow(/weights\.bin.*outside the file/);
    expect(() => mapped.tensor(16, [2, 2, 2], true)).toThrow(/only a 2-D tensor/);
    expect(externalStats().tensors).toBe(0);
  });

  it('the addon rejects a virtual offset of an unknown region or past a region end', () => {
    const addon = loadAddon().addon!;
    const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer as ArrayBuffer;
    const out = tf.zeros([1, 1]);
    const outOff = (tf.backend() as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } }).dataIdMap.get(out.dataId).memoryOffset;
    expect(() => addon.gemm(heap, 8000 * 2 ** 40, 0, outOff, 1, 1, 1, 1, false, false, 0, 0)).toThrow(/external regions/);
    const { region } = addon.allocRegion(64);
    expect(() => addon.gemm(heap, region * 2 ** 40 + 64, 0, outOff, 1, 1, 1, 1, false, false, 0, 0)).toThrow(/external regions/);
    expect(() => addon.allocRegion(0)).toThrow(/allocRegion's bytes/);
    out.dispose();
  });
});

function copiesTotal(): number {
  return Object.values(externalStats().copies).reduce((p, c) => p + c, 0);
}

describeNative('mapped weights: reshapes of a matrix stored transposed', () => {
  beforeAll(() => enableNativeKernels());
  afterAll(() => disableNativeKernels());

  it('a leading size-1 axis shares the mapping; any other reshape gets a heap copy in logical order', () => {
    const w = randomArray(6 * 4, 11);
    const { file, offsets } = writeFloats([transposed(w, 6, 4)]);
    const mapped = mapWeightsFile(file).tensor(offsets[0]!, [6, 4], true);
    const heap = tf.tensor(w, [6, 4]);
    const x = tf.tensor(randomArray(3 * 6, 12), [1, 3, 6]);
    const copiesBefore = externalStats().copies['Reshape'] ?? 0;
    const lifted = tf.reshape(mapped, [1, 6, 4]);
    expect(externalStats().copies['Reshape'] ?? 0).toBe(copiesBefore);
    expect(bits(tf.matMul(x, lifted))).toEqual(bits(tf.matMul(x, tf.reshape(tf.tensor(transposed(w, 6, 4), [4, 6]), [1, 4, 6]), false, true)));
    for (const shape of [[6, 1, 4], [24], [4, 6], [2, 3, 4]]) {
      expect(tf.reshape(mapped, shape).dataSync()).toEqual(tf.reshape(heap, shape).dataSync());
    }
    expect(externalStats().copies['Reshape'] ?? 0).toBe(copiesBefore + 4);
    tf.dispose([mapped, heap, x, lifted]);
  });
});

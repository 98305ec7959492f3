// Safetensors files on disk (Node): whole-file reads, ranged reads of files above RANGED_READ_BYTES, atomic writes.
// The format itself (decode/encode, validation) is in safetensors.ts, which runs in browsers too.
import { open, readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write';
import type { DecodedTensor, EncodableTensor, RawTensor, SafetensorsContents } from './safetensors';
import { decodeSafetensorsRaw, decodeTensorValues, encode, headerLength, parseHeader, SafetensorsError } from './safetensors';

/** Files above this size are read tensor by tensor (fs ranges): one Buffer cannot hold more than 2 GiB everywhere. */
export const RANGED_READ_BYTES = 1024 ** 3;

export interface ReadSafetensorsOptions {
  /** Read only the tensors this accepts (the whole header is still validated); default: all. */
  readonly select?: (name: string) => boolean;
  /** Read by ranges when the file is larger than this many bytes (default RANGED_READ_BYTES). */
  readonly rangedAbove?: number;
}

async function readRanges(path: string, size: number, select: (name: string) => boolean): Promise<SafetensorsContents<RawTensor>> {
  const handle = await open(path, 'r');
  try {
    const readAt = async (position: number, length: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, position + done);
        if (bytesRead === 0) throw new SafetensorsError(path, `file ended at byte ${position + done} while reading (changed while being read?)`, undefined, { code: 'E_SAFETENSORS_COVERAGE' });
        done += bytesRead;
      }
      return buf;
    };
    const n = headerLength(await readAt(0, Math.min(8, size)), size, path);
    const { entries, metadata } = parseHeader(await readAt(8, n), size - 8 - n, path);
    const tensors = new Map<string, RawTensor>();
    for (const e of entries) {
      if (select(e.name)) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: await readAt(8 + n + e.begin, e.end - e.begin) });
    }
    return { tensors, metadata };
  } finally {
    await handle.close();
  }
}

export async function readSafetensorsFile(path: string, options: ReadSafetensorsOptions = {}): Promise<SafetensorsContents<DecodedTensor>> {
  const select = options.select ?? (() => true);
  let raw: SafetensorsContents<RawTensor>;
  try {
    const size = (await stat(path)).size;
    if (size > (options.rangedAbove ?? RANGED_READ_BYTES)) raw = await readRanges(path, size, select);
    else raw = decodeSafetensorsRaw(await readFile(path), path);
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(path, `cannot read file (${(e as Error).message})`, undefined, { cause: e });
  }
  const tensors = new Map<string, DecodedTensor>();
  for (const [name, t] of raw.tensors) if (select(name)) tensors.set(name, decodeTensorValues(name, t, path));
  return { tensors, metadata: raw.metadata };
}

/** Encodes then writes atomically, so readers never see a half-written file. */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, EncodableTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encode(tensors, metadata, path));
}

// Atomic file replacement: readers see either the old file or the complete new one, never a prefix.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temp name in the target's directory: rename(2) is only atomic within one filesystem. */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes to a temp file, fsyncs it, then renames it over `path`. On failure the temp file is removed. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  // 'wx' never clobbers: if the random name somehow exists we fail instead of sharing a file.
  const handle = await open(tmp, 'wx');
  let renamed = false;
  try {
    try {
      await handle.writeFile(data);
      await handle.sync(); // data must be on disk before the rename makes it visible
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
  await syncDirectory(dirname(path));
}

/** Persists the rename itself. Best-effort: some platforms (Windows) can't open directories. */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // The file content is already durable; only the directory entry may lag.
  }
}

/** Pretty-printed JSON (2 spaces, trailing newline), written atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2) as string | undefined;
  if (text === undefined) throw new TypeError(`writeJsonAtomic(${path}): value is not JSON-serialisable`);
  await writeFileAtomic(path, text + '\n');
}

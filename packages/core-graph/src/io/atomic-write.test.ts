import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'atomic-write-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes strings and bytes, replacing existing content, with no temp files left', async () => {
    const path = join(dir, 'out.txt');
    await writeFileAtomic(path, 'first');
    expect(readFileSync(path, 'utf8')).toBe('first');
    await writeFileAtomic(path, Uint8Array.from([0, 1, 255]));
    expect(Array.from(readFileSync(path))).toEqual([0, 1, 255]);
    expect(readdirSync(dir)).toEqual(['out.txt']);
  });

  it('into a directory that does not exist: throws and creates nothing', async () => {
    const missing = join(dir, 'missing');
    await expect(writeFileAtomic(join(missing, 'out.txt'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(missing)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a failure while writing keeps the existing file and removes the temp file', async () => {
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'old');
    // Not a string or bytes: fails after the temp file was opened. (Node's TypeError comes from
    // another realm than jest's sandbox, so match the error code rather than the class.)
    await expect(writeFileAtomic(path, 42 as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['keep.txt']);
  });

  it('a failing rename (target is a directory) leaves the directory alone and no temp file', async () => {
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'inner'), 'inside');
    await expect(writeFileAtomic(target, 'x')).rejects.toThrow();
    expect(statSync(target).isDirectory()).toBe(true);
    expect(readFileSync(join(target, 'inner'), 'utf8')).toBe('inside');
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('concurrent writers to one path: the result is one complete payload', async () => {
    const path = join(dir, 'race.txt');
    const payloads = Array.from({ length: 20 }, (_, i) => `payload-${i}-`.repeat(1000));
    await Promise.all(payloads.map((p) => writeFileAtomic(path, p)));
    expect(payloads).toContain(readFileSync(path, 'utf8'));
    expect(readdirSync(dir)).toEqual(['race.txt']);
  });
});

describe('writeJsonAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'atomic-json-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('pretty-prints with two spaces and a trailing newline', async () => {
    const path = join(dir, 'v.json');
    await writeJsonAtomic(path, { a: 1, b: [true, null], c: { d: 'e' } });
    expect(readFileSync(path, 'utf8')).toBe('{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ],\n  "c": {\n    "d": "e"\n  }\n}\n');
  });

  it('rejects values JSON cannot represent without touching the disk', async () => {
    await expect(writeJsonAtomic(join(dir, 'u.json'), undefined)).rejects.toThrow(/not JSON-serialisable/);
    await expect(writeJsonAtomic(join(dir, 'f.json'), () => 1)).rejects.toThrow(TypeError);
    expect(readdirSync(dir)).toEqual([]);
  });
});

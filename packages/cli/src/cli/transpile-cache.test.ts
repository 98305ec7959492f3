// bin/transpile.js, the require hook that runs the CLI (and scripts/register-source.js) from TypeScript sources with
// an on-disk cache. Each case runs in a child process: Jest's module system ignores require.extensions.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const HOOK = path.join(__dirname, '..', '..', 'bin', 'transpile.js');

interface Outcome {
  readonly result: unknown;
  readonly hits: number;
  readonly compiles: number;
}

/** Runs entry.ts in a fresh node with the hook on `cacheDir`; what it exports as `result`, and the hook's counters. */
function runChild(entry: string, cacheDir: string): Promise<Outcome> {
  const script = `
const stats = require(${JSON.stringify(HOOK)}).registerTypeScript({ cacheDir: ${JSON.stringify(cacheDir)}, compilerOptions: { target: 'ES2022', esModuleInterop: true } });
const { result } = require(${JSON.stringify(entry)});
process.stdout.write(JSON.stringify({ result, hits: stats.hits, compiles: stats.compiles }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Outcome) : reject(new Error(`child exited ${String(code)}: ${err}`))));
  });
}

const cacheFiles = (dir: string): string[] =>
  fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js') || f.endsWith('.tmp')) : [];

describe('bin/transpile.js (the CLI runs its TypeScript sources through a disk cache)', () => {
  let tmp: string;
  let src: string;
  let cache: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'transpile-'));
    src = path.join(tmp, 'src');
    cache = path.join(tmp, 'cache');
    fs.mkdirSync(src);
    // Type-only syntax, an import of another .ts file, class fields and a default-import interop.
    fs.writeFileSync(path.join(src, 'util.ts'), 'export interface Pair { a: number; b: number }\nexport const add = (p: Pair): number => p.a + p.b;\n');
    fs.writeFileSync(
      path.join(src, 'main.ts'),
      "import path from 'node:path';\nimport { add, type Pair } from './util';\nclass Box { value = 2; }\nconst p: Pair = { a: 40, b: new Box().value };\nexport const result = [add(p), path.basename('/x/y.ts')];\n",
    );
  });

  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('compiles every file on a cold start, reads them all from the cache on a warm one, with the same result', async () => {
    const entry = path.join(src, 'main.ts');
    const cold = await runChild(entry, cache);
    expect(cold).toEqual({ result: [42, 'y.ts'], hits: 0, compiles: 2 });
    expect(cacheFiles(cache).filter((f) => f.endsWith('.js'))).toHaveLength(2);
    const warm = await runChild(entry, cache);
    expect(warm).toEqual({ result: [42, 'y.ts'], hits: 2, compiles: 0 });
  });

  it('compiles a changed file again and keeps reading the unchanged ones', async () => {
    const entry = path.join(src, 'main.ts');
    await runChild(entry, cache);
    fs.writeFileSync(path.join(src, 'util.ts'), 'export interface Pair { a: number; b: number }\nexport const add = (p: Pair): number => p.a * p.b;\n');
    const after = await runChild(entry, cache);
    expect(after).toEqual({ result: [80, 'y.ts'], hits: 1, compiles: 1 });
  });

  it('runs without a usable cache (compiling each time) and leaves no partial files when processes race', async () => {
    const entry = path.join(src, 'main.ts');
    const blocked = path.join(tmp, 'a-file');
    fs.writeFileSync(blocked, 'not a directory');
    const unwritable = path.join(blocked, 'cache');
    for (let i = 0; i < 2; i++) expect(await runChild(entry, unwritable)).toEqual({ result: [42, 'y.ts'], hits: 0, compiles: 2 });
    // Four cold processes at once on one cache: each gets the right result, and only whole entries remain.
    const raced = await Promise.all([0, 1, 2, 3].map(() => runChild(entry, cache)));
    for (const r of raced) expect(r.result).toEqual([42, 'y.ts']);
    expect(cacheFiles(cache).sort()).toEqual(cacheFiles(cache).filter((f) => f.endsWith('.js')).sort());
    expect(cacheFiles(cache)).toHaveLength(2);
  });

  it('maps stack traces to the TypeScript lines', () => {
    const file = path.join(src, 'throws.ts');
    fs.writeFileSync(file, 'type T = { n: number };\nconst t: T = { n: 1 };\n\nexport function boom(): never {\n  throw new Error(`boom ${t.n}`);\n}\nboom();\n');
    const script = `require(${JSON.stringify(HOOK)}).registerTypeScript({ cacheDir: ${JSON.stringify(cache)} }); require(${JSON.stringify(file)});`;
    let stderr = '';
    try {
      execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      stderr = String((e as { stderr?: Buffer }).stderr);
    }
    expect(stderr).toContain('boom 1');
    expect(stderr).toContain(`${file}:5:`);
  });
});

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KnownTreebank } from './treebank-fetch';
import { fetchTreebank, KNOWN_TREEBANKS, TreebankFetchError } from './treebank-fetch';

const DEV = '# text = Ciao.\n1\tCiao\tciao\tINTJ\t_\t_\t0\troot\t_\t_\n2\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_\n\n';
const TEST = '# text = Sì.\n1\tSì\tsì\tINTJ\t_\t_\t0\troot\t_\t_\n\n';
const LICENCE = 'Toy licence: CC BY-NC-SA 3.0\n';
const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const entry = (commit: string): KnownTreebank => ({ repo: 'UD_Toy-TB', commit, prefix: 'xx_tb', licence: 'CC BY-NC-SA 3.0', sha256: { dev: hash(DEV), test: hash(TEST) } });

describe('fetchTreebank (UD treebanks at pinned commits)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'ud-fetch-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const writeClone = (dir: string, dev = DEV) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'xx_tb-ud-dev.conllu'), dev);
    writeFileSync(path.join(dir, 'xx_tb-ud-test.conllu'), TEST);
    writeFileSync(path.join(dir, 'LICENSE.txt'), LICENCE);
  };

  it('copies the splits and licence from a local clone and notes the licence in README.md (one row per treebank)', async () => {
    writeClone(path.join(tmp, 'clone'));
    const o = { outDir: path.join(tmp, 'data'), from: path.join(tmp, 'clone'), treebanks: { 'xx-tb': entry('a'.repeat(40)), 'yy-tb': entry('b'.repeat(40)) } };
    const r = await fetchTreebank('xx-tb', o);
    expect(readFileSync(path.join(tmp, 'data/ud-xx-tb/xx_tb-ud-dev.conllu'), 'utf8')).toBe(DEV);
    expect(readFileSync(path.join(tmp, 'data/ud-xx-tb/LICENSE.txt'), 'utf8')).toBe(LICENCE);
    expect(r.unchecked).toEqual([]);
    await fetchTreebank('yy-tb', o);
    await fetchTreebank('xx-tb', o);
    const rows = readFileSync(path.join(tmp, 'data/README.md'), 'utf8').split('\n').filter((l) => l.startsWith('| ud-'));
    expect(rows).toEqual([
      `| ud-yy-tb | xx_tb-ud-dev.conllu, xx_tb-ud-test.conllu | UniversalDependencies/UD_Toy-TB @ ${'b'.repeat(40)} | CC BY-NC-SA 3.0 |`,
      `| ud-xx-tb | xx_tb-ud-dev.conllu, xx_tb-ud-test.conllu | UniversalDependencies/UD_Toy-TB @ ${'a'.repeat(40)} | CC BY-NC-SA 3.0 |`,
    ]);
  });

  it('reads a bare git mirror at the pinned commit, not at HEAD', async () => {
    const work = path.join(tmp, 'work');
    writeClone(work);
    const git = (...a: string[]) => execFileSync('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { encoding: 'utf8' }).trim();
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'one');
    const pinned = git('rev-parse', 'HEAD');
    writeFileSync(path.join(work, 'xx_tb-ud-dev.conllu'), `${DEV}${TEST}`);
    git('commit', '-qam', 'two');
    execFileSync('git', ['clone', '-q', '--bare', work, path.join(tmp, 'mirror.git')]);
    await fetchTreebank('xx-tb', { outDir: path.join(tmp, 'data'), from: path.join(tmp, 'mirror.git'), treebanks: { 'xx-tb': entry(pinned) } });
    expect(readFileSync(path.join(tmp, 'data/ud-xx-tb/xx_tb-ud-dev.conllu'), 'utf8')).toBe(DEV);
    await expect(fetchTreebank('xx-tb', { outDir: path.join(tmp, 'data2'), from: path.join(tmp, 'mirror.git'), treebanks: { 'xx-tb': entry('c'.repeat(40)) } }))
      .rejects.toThrow(/cannot read xx_tb-ud-dev.conllu at commit c{40}/);
  });

  it('downloads <base>/<repo>/<commit>/<file>', async () => {
    const files: Record<string, string> = { 'xx_tb-ud-dev.conllu': DEV, 'xx_tb-ud-test.conllu': TEST, 'LICENSE.txt': LICENCE };
    const asked: string[] = [];
    const server = createServer((req, res) => {
      asked.push(req.url ?? '');
      const body = files[path.basename(req.url ?? '')];
      res.statusCode = body === undefined ? 404 : 200;
      res.end(body ?? 'no');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await fetchTreebank('xx-tb', { outDir: path.join(tmp, 'data'), baseUrl, treebanks: { 'xx-tb': entry('d'.repeat(40)) } });
      expect(asked).toEqual(['xx_tb-ud-dev.conllu', 'xx_tb-ud-test.conllu', 'LICENSE.txt'].map((f) => `/UD_Toy-TB/${'d'.repeat(40)}/${f}`));
      expect(readFileSync(path.join(tmp, 'data/ud-xx-tb/xx_tb-ud-test.conllu'), 'utf8')).toBe(TEST);
      await expect(fetchTreebank('xx-tb', { outDir: path.join(tmp, 'd2'), baseUrl, splits: ['train'], treebanks: { 'xx-tb': entry('d'.repeat(40)) } })).rejects.toThrow(/xx_tb-ud-train.conllu: HTTP 404/);
    } finally {
      server.close();
    }
  });

  it('refuses a file whose sha256 differs, or a Git LFS pointer, and writes nothing', async () => {
    writeClone(path.join(tmp, 'clone'), DEV.replace('Ciao', 'Ciao!'));
    const o = { outDir: path.join(tmp, 'data'), from: path.join(tmp, 'clone'), treebanks: { 'xx-tb': entry('a'.repeat(40)) } };
    const err = await fetchTreebank('xx-tb', o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TreebankFetchError);
    expect((err as Error).message).toMatch(/xx-tb xx_tb-ud-dev.conllu: sha256 [0-9a-f]{64} differs from the pinned/);
    expect(existsSync(path.join(tmp, 'data'))).toBe(false);
    writeClone(path.join(tmp, 'lfs'), 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 3\n');
    const unpinned = { ...entry('a'.repeat(40)), sha256: {} };
    await expect(fetchTreebank('xx-tb', { ...o, from: path.join(tmp, 'lfs'), treebanks: { 'xx-tb': unpinned } })).rejects.toThrow(/not a CoNLL-U file \(a Git LFS pointer\?\)/);
    await expect(fetchTreebank('es-ancora', o)).rejects.toThrow(/treebank 'es-ancora': unknown; known: xx-tb/);
  });

  it('pins no Spanish or Portuguese treebank, and full commit hashes for the others', () => {
    for (const [name, tb] of Object.entries(KNOWN_TREEBANKS)) {
      expect(name).not.toMatch(/^(es|pt)-/);
      expect(tb.commit).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(KNOWN_TREEBANKS['it-isdt']?.licence).toMatch(/^CC BY-NC-SA 3\.0/);
  });

  const shared = path.resolve(__dirname, '../../../../shared/datasets');
  const maybe = existsSync(path.join(shared, 'ud-en-ewt')) ? it : it.skip;
  maybe('the pinned hashes of en-ewt, de-gsd and fr-gsd match the shared datasets (same commits)', async () => {
    for (const name of ['en-ewt', 'de-gsd', 'fr-gsd']) {
      const r = await fetchTreebank(name, { outDir: path.join(tmp, 'data'), from: path.join(shared, `ud-${name}`) });
      expect(r.unchecked).toEqual([]);
    }
    expect(readFileSync(path.join(tmp, 'data/README.md'), 'utf8')).toContain('| ud-fr-gsd | fr_gsd-ud-dev.conllu, fr_gsd-ud-test.conllu | UniversalDependencies/UD_French-GSD @ 830e2782304af08b3cc1c9250475343e04274d81 | CC BY-SA 4.0 |');
  });
});

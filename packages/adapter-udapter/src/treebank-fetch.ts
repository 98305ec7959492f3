// Universal Dependencies treebanks for the real runs, at pinned commits: downloaded from raw.githubusercontent.com, or
// read from a local clone / bare mirror (`from`). Files are sha256-checked where the hash is pinned, written atomically,
// and the folder's README.md records each treebank's source and licence (UD licences differ: ISDT is non-commercial).
// Nothing fetched here belongs in the repository.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { AdapterGraphError } from '@adapters/core-graph';

export class TreebankFetchError extends AdapterGraphError {
  constructor(message: string) {
    super(message, 'E_DATA');
  }
}

export type TreebankSplit = 'train' | 'dev' | 'test';

export interface KnownTreebank {
  /** GitHub repository under UniversalDependencies/. */
  readonly repo: string;
  /** Full commit hash (raw.githubusercontent.com and `git show` both take it). */
  readonly commit: string;
  /** File prefix: `<prefix>-ud-<split>.conllu`. */
  readonly prefix: string;
  /** The licence as the treebank's LICENSE.txt states it. */
  readonly licence: string;
  /** sha256 of the files at `commit` (splits without one are written unchecked and said so). */
  readonly sha256: Partial<Record<TreebankSplit, string>>;
}

/** Treebanks the real runs use. Spanish and Portuguese are absent on purpose (reserved as unseen-language tests). */
export const KNOWN_TREEBANKS: Readonly<Record<string, KnownTreebank>> = {
  'en-ewt': {
    repo: 'UD_English-EWT', commit: '15d613d8447b3478787d4c278730a1e48a945efb', prefix: 'en_ewt', licence: 'CC BY-SA 4.0',
    sha256: { dev: '531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6', test: 'e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd' },
  },
  'de-gsd': {
    repo: 'UD_German-GSD', commit: '297fcf350481058d0737a27f0f8fd03b2eadd67a', prefix: 'de_gsd', licence: 'CC BY-SA 4.0',
    sha256: { dev: '00431f2624cbbf66796c097a9303bbc8f8e8ca88ef35c4c5664aa396b2d674c9', test: 'bceb8e867ba3ee7f1449d44fb31538d63a514f07e6763e7d9a5ffe794407bed4' },
  },
  'fr-gsd': {
    repo: 'UD_French-GSD', commit: '830e2782304af08b3cc1c9250475343e04274d81', prefix: 'fr_gsd', licence: 'CC BY-SA 4.0',
    sha256: { dev: '3e7531b645e5bd6fe37bb619cdd8292e87f5937e64cd8627b4094324eb830e6b', test: '5d1743c7a9ce2908943d4a430ed9a77755e2a8d7e32d42ee0f1d6a0b528f0be8' },
  },
  'it-isdt': {
    repo: 'UD_Italian-ISDT', commit: '689c1bf3c7d132903d2196ac69b76a0933c90997', prefix: 'it_isdt',
    licence: 'CC BY-NC-SA 3.0 (Creative Commons Attribution-NonCommercial-ShareAlike 3.0 Unported; research use; cite Bosco, Montemagni & Simi 2013)',
    sha256: { dev: '1bc7dda04c58a4d87e2e6607a0e612462b87e7da6dde56be610d3749521af744', test: 'cea8ca0e8d1ddf7ce509f10afff426d00e058982f49473e0744cd0ee477129e3' },
  },
};

export const RAW_BASE = 'https://raw.githubusercontent.com/UniversalDependencies';

export interface FetchTreebankOptions {
  /** Folder the treebank folders (`ud-<name>/`) and README.md go to. */
  readonly outDir: string;
  readonly splits?: readonly TreebankSplit[];
  /** A local clone (files in a work tree) or a bare git directory of the treebank's repository. */
  readonly from?: string;
  /** Base URL for downloads (tests point it at a local server). */
  readonly baseUrl?: string;
  readonly log?: (line: string) => void;
  /** The registry to look `name` up in (tests use synthetic treebanks). */
  readonly treebanks?: Readonly<Record<string, KnownTreebank>>;
}

export interface FetchedTreebank {
  readonly name: string;
  readonly dir: string;
  readonly files: readonly string[];
  readonly unchecked: readonly string[];
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const run = promisify(execFile);

/** `from` is a git directory (bare mirror or a `.git`) when it has HEAD and objects/. */
const gitDirOf = (from: string): string | undefined => {
  if (existsSync(path.join(from, 'HEAD')) && existsSync(path.join(from, 'objects'))) return from;
  const dotGit = path.join(from, '.git');
  return existsSync(path.join(dotGit, 'HEAD')) ? dotGit : undefined;
};

async function readLocal(from: string, tb: KnownTreebank, file: string): Promise<Buffer> {
  const gitDir = gitDirOf(from);
  if (gitDir !== undefined) {
    try {
      const { stdout } = await run('git', ['--git-dir', gitDir, 'show', `${tb.commit}:${file}`], { encoding: 'buffer', maxBuffer: 1 << 30 });
      return stdout;
    } catch (e) {
      throw new TreebankFetchError(`--from ${from}: cannot read ${file} at commit ${tb.commit} (${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0] ?? ''})`);
    }
  }
  const p = path.join(from, file);
  if (!existsSync(p)) throw new TreebankFetchError(`--from ${from}: no ${file} (neither a git directory nor a folder with the file)`);
  return fs.readFile(p);
}

async function download(url: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new TreebankFetchError(`${url}: ${(e as Error).message} (offline? use --from DIR with a local clone or mirror)`);
  }
  if (!res.ok) throw new TreebankFetchError(`${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

const README_HEAD = '# Universal Dependencies treebanks (fetched, not part of the project)\n\n' +
  'Written by `adapters udapter-fetch`. Each treebank keeps its own licence (below, and LICENSE.txt in its folder).\n\n' +
  '| folder | files | source (repo @ commit) | licence |\n|---|---|---|---|\n';

/** Adds or replaces the treebank's row of `outDir/README.md`. */
async function noteLicence(outDir: string, name: string, tb: KnownTreebank, files: readonly string[]): Promise<void> {
  const readme = path.join(outDir, 'README.md');
  const old = existsSync(readme) ? await fs.readFile(readme, 'utf8') : README_HEAD;
  const row = `| ud-${name} | ${files.join(', ')} | UniversalDependencies/${tb.repo} @ ${tb.commit} | ${tb.licence} |`;
  const lines = (old.startsWith(README_HEAD) ? old : README_HEAD).trimEnd().split('\n').filter((l) => !l.startsWith(`| ud-${name} |`));
  await fs.writeFile(readme, `${[...lines, row].join('\n')}\n`);
}

/**
 * Fetches one known treebank's splits (and LICENSE.txt) into `outDir/ud-<name>/`. Every file is read and checked
 * before any is written, so a failed fetch leaves nothing behind.
 */
export async function fetchTreebank(name: string, o: FetchTreebankOptions): Promise<FetchedTreebank> {
  const registry = o.treebanks ?? KNOWN_TREEBANKS;
  const tb = registry[name];
  if (tb === undefined) throw new TreebankFetchError(`treebank '${name}': unknown; known: ${Object.keys(registry).join(', ')}`);
  const splits = o.splits ?? ['dev', 'test'];
  const wanted = [...splits.map((s) => `${tb.prefix}-ud-${s}.conllu`), 'LICENSE.txt'];
  const contents: Buffer[] = [];
  const unchecked: string[] = [];
  for (const [i, file] of wanted.entries()) {
    const data = o.from !== undefined ? await readLocal(o.from, tb, file) : await download(`${o.baseUrl ?? RAW_BASE}/${tb.repo}/${tb.commit}/${file}`);
    const split = splits[i];
    const pinned = split === undefined ? undefined : tb.sha256[split];
    if (pinned !== undefined && sha256(data) !== pinned) throw new TreebankFetchError(`${name} ${file}: sha256 ${sha256(data)} differs from the pinned ${pinned}`);
    if (split !== undefined && pinned === undefined) unchecked.push(file);
    if (split !== undefined && !data.subarray(0, 4096).toString('utf8').includes('\t')) throw new TreebankFetchError(`${name} ${file}: not a CoNLL-U file (a Git LFS pointer?)`);
    contents.push(data);
  }
  const dir = path.join(o.outDir, `ud-${name}`);
  await fs.mkdir(dir, { recursive: true });
  for (const [i, file] of wanted.entries()) {
    const tmp = path.join(dir, `.${file}.part`);
    await fs.writeFile(tmp, contents[i] as Buffer);
    await fs.rename(tmp, path.join(dir, file));
  }
  await noteLicence(o.outDir, name, tb, wanted.slice(0, -1));
  o.log?.(`ud-${name}: ${wanted.join(', ')} → ${dir} (${tb.licence})${unchecked.length > 0 ? `; no pinned sha256 for ${unchecked.join(', ')}` : ''}`);
  return { name, dir, files: wanted.map((f) => path.join(dir, f)), unchecked };
}

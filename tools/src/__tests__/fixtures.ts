// Temporary workspaces for the tools' tests: nothing here touches the real repository.
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../workspace';

/** Writes `files` (relative path → text; objects are written as JSON) under `root`. */
export function writeFiles(root: string, files: Readonly<Record<string, string | object>>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = join(root, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
}

export function tempDir(prefix = 'adapters-tools-'): string {
  return mkdtempSync(join(realpathSync(tmpdir()), prefix));
}

export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/**
 * A copy of the real workspace's root configuration with `node_modules` and the given packages linked
 * in (read-only use: the tools write only new files and tsconfig.base.json, which is a copy).
 */
export function linkedWorkspace(packages: readonly string[]): string {
  const root = tempDir();
  for (const f of ['package.json', 'tsconfig.base.json', 'jest.preset.js', 'jest.setup.js', 'eslint.config.mjs']) cpSync(join(REPO_ROOT, f), join(root, f));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  mkdirSync(join(root, 'packages'));
  for (const p of packages) symlinkSync(join(REPO_ROOT, 'packages', p), join(root, 'packages', p), 'dir');
  return root;
}

export const manifest = (name: string, extra: object = {}): object => ({
  name,
  version: '0.1.0',
  main: 'dist/index.js',
  types: 'dist/index.d.ts',
  exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './package.json': './package.json' },
  ...extra,
});

/** Collects printed lines. */
export function capture(): { lines: string[]; print: (line: string) => void } {
  const lines: string[] = [];
  return { lines, print: (l) => void lines.push(l) };
}

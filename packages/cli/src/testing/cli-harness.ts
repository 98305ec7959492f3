// Runs the `adapters` CLI in-process for tests of plugin subcommands: captured streams, plugin discovery rooted
// at a temp directory, and the packages under test linked into its node_modules/@adapters.
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { main } from '../cli/main';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/**
 * Links package folders into `root/node_modules/@adapters/<folder name>` and declares them in `root/package.json`
 * (plugin discovery loads declared packages only), so only they are discovered.
 */
export function linkAdapterPackages(root: string, packageDirs: readonly string[]): void {
  const scope = join(root, 'node_modules', '@adapters');
  mkdirSync(scope, { recursive: true });
  const manifest = join(root, 'package.json');
  const pkg = (existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')) : { name: 'cli-test-project', private: true }) as { dependencies?: Record<string, string> };
  for (const dir of packageDirs) {
    symlinkSync(dir, join(scope, basename(dir)), 'dir');
    pkg.dependencies = { ...pkg.dependencies, [`@adapters/${basename(dir)}`]: '*' };
  }
  writeFileSync(manifest, JSON.stringify(pkg));
}

/** `adapters ARGV...` with cwd and plugin search rooted at `cwd`; returns the exit code and both streams. */
export async function runCliIn(cwd: string, argv: readonly string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s), isTTY: false }, cwd, env: {}, pluginSearchPaths: [cwd] };
  const code = await main(argv, ctx);
  return { code, out: out.join(''), err: err.join('') };
}

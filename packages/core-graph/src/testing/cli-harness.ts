// Runs the `adapters` CLI in-process for tests of plugin subcommands: captured streams, plugin discovery rooted
// at a temp directory, and the packages under test linked into its node_modules/@adapters.
import { mkdirSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { main } from '../cli/main';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Links package folders into `root/node_modules/@adapters/<folder name>` so only they are discovered. */
export function linkAdapterPackages(root: string, packageDirs: readonly string[]): void {
  const scope = join(root, 'node_modules', '@adapters');
  mkdirSync(scope, { recursive: true });
  for (const dir of packageDirs) symlinkSync(dir, join(scope, basename(dir)), 'dir');
}

/** `adapters ARGV...` with cwd and plugin search rooted at `cwd`; returns the exit code and both streams. */
export async function runCliIn(cwd: string, argv: readonly string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s), isTTY: false }, cwd, env: {}, pluginSearchPaths: [cwd] };
  const code = await main(argv, ctx);
  return { code, out: out.join(''), err: err.join('') };
}

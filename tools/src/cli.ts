// Entry point of the workspace tools: `ts-node --transpile-only src/cli.ts <command> [options]`.
import { resolve } from 'node:path';
import { runApiReport } from './api-report';
import { runCheckBoundaries } from './check-boundaries';
import { newAdapter } from './new-adapter';
import { REPO_ROOT } from './workspace';

const USAGE = `usage:
  new-adapter NAME [--root DIR] [--description TEXT]   scaffold packages/adapter-NAME and register it
  check-boundaries [--root DIR]                         check package boundaries, print each package's API
  api-report [--root DIR] [--out DIR] [--check]         write (or with --check, verify) tools/api/*.api.md`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

interface Parsed {
  readonly positional: string[];
  readonly flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['--root', '--out', '--description']);
const BOOLEAN_FLAGS = new Set(['--check', '--help']);

function parse(args: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_FLAGS.has(name)) {
      const value = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : args[++i];
      if (value === undefined) throw new Error(`${name} needs a value`);
      flags.set(name, value);
    } else if (BOOLEAN_FLAGS.has(a)) flags.set(a, true);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else positional.push(a);
  }
  return { positional, flags };
}

/** Runs one command; returns the process exit code. */
export function main(argv: readonly string[], io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) }): number {
  const [command, ...rest] = argv;
  try {
    const { positional, flags } = parse(rest);
    if (command === undefined || command === '--help' || flags.has('--help')) {
      io.out(USAGE);
      return command === undefined ? 1 : 0;
    }
    const root = resolve(String(flags.get('--root') ?? REPO_ROOT));
    switch (command) {
      case 'new-adapter': {
        const [name, ...extra] = positional;
        if (name === undefined || extra.length > 0) throw new Error('new-adapter takes exactly one NAME');
        const description = flags.get('--description');
        const result = newAdapter({ root, name, ...(typeof description === 'string' ? { description } : {}) });
        for (const f of result.created) io.out(`created ${f}`);
        for (const f of result.updated) io.out(`updated ${f}`);
        io.out(`next: run \`npm install\` at the repository root (links the workspace and updates package-lock.json), then \`npx nx test ${result.packageName}\``);
        return 0;
      }
      case 'check-boundaries':
        if (positional.length > 0) throw new Error('check-boundaries takes no arguments');
        return runCheckBoundaries(root, io.out);
      case 'api-report': {
        if (positional.length > 0) throw new Error('api-report takes no arguments');
        const out = flags.get('--out');
        return runApiReport({ root, check: flags.has('--check'), ...(typeof out === 'string' ? { outDir: resolve(out) } : {}) }, io.out);
      }
      default:
        throw new Error(`unknown command '${command}'`);
    }
  } catch (e) {
    io.err(`${command ?? 'tools'}: ${(e as Error).message}`);
    if (!(e instanceof Error) || /unknown|needs a value|takes/.test(e.message)) io.err(USAGE);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

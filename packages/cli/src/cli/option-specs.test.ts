import * as path from 'path';
import { MAX_SEED } from '@adapters/core-graph';
import type { CommandSpec, OptionSpec } from './args';
import { parseArgs, UsageError } from './args';
import { COMMANDS } from './main';
import { option, SHARED_OPTIONS } from './option-specs';
import { discoverPlugins } from './plugins';

const byName = new Map<string, OptionSpec>(Object.values(SHARED_OPTIONS).map((o) => [o.name, o]));

describe('shared option specs', () => {
  test('option() changes help, default and placeholder only; name, type and bounds stay', () => {
    const o = option('seed', { help: 'seed of the split', defaultText: '0', metavar: 'S' });
    expect(o).toEqual({ name: 'seed', type: 'int', min: 0, max: MAX_SEED, metavar: 'S', help: 'seed of the split', defaultText: '0' });
    expect(option('maxLength').min).toBe(4);
    expect(SHARED_OPTIONS.seed.help).toBe('random seed'); // the table itself is not mutated
  });

  test('seeds outside 0..2^32-1 are a usage error naming the bound, in a plugin command as in a built-in one', () => {
    const spec: CommandSpec = { name: 'x-train', brief: '', summary: '', usage: '', options: [option('seed', { defaultText: '0' })] };
    expect(parseArgs(['--seed', String(MAX_SEED)], spec).number('seed')).toBe(MAX_SEED);
    expect(() => parseArgs(['--seed', '-1'], spec)).toThrow(new UsageError("--seed must be at least 0, got '-1'", 'x-train'));
    expect(() => parseArgs(['--seed', String(MAX_SEED + 1)], spec)).toThrow(/--seed must be at most 4294967295/);
  });

  // A flag means the same thing in every command of this monorepo (built-in and every plugin's ./cli entry): the
  // same type and bounds as its SHARED_OPTIONS entry. A plugin that copied a spec and changed a bound fails here.
  test('every command in this monorepo uses the shared type and bounds for a shared option name', () => {
    const plugins = discoverPlugins([path.resolve(__dirname, '..', '..')]);
    const commands = [...COMMANDS.map((spec) => ({ pkg: '@adapters/cli', spec })), ...plugins.flatMap((p) => p.commands.map((c) => ({ pkg: p.name, spec: c.spec })))];
    expect(commands.length).toBeGreaterThan(25);
    const mismatches: string[] = [];
    let checked = 0;
    for (const { pkg, spec } of commands) {
      for (const o of spec.options) {
        const shared = byName.get(o.name);
        if (!shared) continue;
        checked++;
        const [want, got] = [[shared.type, shared.min, shared.max], [o.type, o.min, o.max]];
        if (JSON.stringify(want) !== JSON.stringify(got)) mismatches.push(`${pkg} ${spec.name} --${o.name}: ${JSON.stringify(got)} (shared: ${JSON.stringify(want)})`);
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(mismatches).toEqual([]);
  }, 60_000);
});

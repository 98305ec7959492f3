// Finds adapter plugin packages (`@adapters/adapter-*`) without a fixed list: every such package exports `plugins`
// (an array of AdapterPlugin), so declaring one as a dependency makes its adapters usable. Its CLI subcommands live
// in a second entry point named by `"adapters": { "cli": "./dist/cli.js" }` in its package.json (exported as
// `PKG/cli`), so importing the library never loads CLI code. Only packages the project (or the CLI itself) declares
// are loaded (never whatever sits in some node_modules folder above the working directory: loading a package runs
// its code).
import { existsSync, readdirSync, readFileSync, realpathSync } from 'fs';
import * as path from 'path';
import type { AnyAdapterPlugin, PackageDescriptor, Runtime } from '@adapters/core-graph';
import { createRuntime, definePackage, PluginDefinitionError, resolveConfig } from '@adapters/core-graph';
import type { CommandSpec, ParsedArgs } from './args';
import { UsageError } from './args';
import type { RunExtraHandler } from '@adapters/core-graph';
import type { CliContext } from './commands';

export const PLUGIN_SCOPE = '@adapters';
export const PLUGIN_PREFIX = 'adapter-';

export interface PluginPackage {
  /** e.g. `@adapters/adapter-bottleneck` */
  readonly name: string;
  readonly version: string | undefined;
  readonly dir: string;
  readonly plugins: readonly AnyAdapterPlugin[];
  /**
   * What the package contributes to a runtime: its exported package descriptors (`definePackage`: adapters, ops,
   * blocks, heads, lowerings), plus one holding any exported plugin they do not list. Empty when `error` is set;
   * absent (packages made by hand): `runtimeOf` makes one of `plugins`.
   */
  readonly descriptors?: readonly PackageDescriptor[];
  /** Subcommands the package adds to the `adapters` CLI (the `commands` export of its `adapters.cli` entry). */
  readonly commands: readonly CliCommand[];
  /** Handlers of its run.json extras (its `runExtras` export), for `adapters eval|predict --run`. */
  readonly runExtras?: Readonly<Record<string, RunExtraHandler>>;
  /**
   * For extras core's eval cannot rebuild (a tagger, a model per task): the plugin command that evaluates such a run
   * (its `runExtrasCommands` export), e.g. `{ madx: 'adapters madx-eval --task-adapter DIR ...' }`, for the error.
   */
  readonly runExtrasCommands?: Readonly<Record<string, string>>;
  /** Why the package could not be used; then `plugins` is empty. */
  readonly error?: string;
}

/**
 * A subcommand contributed by a plugin package (export `commands: CliCommand[]`), e.g. the fusion recipe.
 * `spec` drives parsing and help exactly like the built-in commands.
 */
export interface CliCommand {
  readonly spec: CommandSpec;
  run(args: ParsedArgs, ctx: CliContext): Promise<void> | void;
}

const isCommand = (v: unknown): v is CliCommand =>
  v !== null && typeof v === 'object' && typeof (v as CliCommand).run === 'function' && typeof (v as CliCommand).spec?.name === 'string';

const KINDS = ['adapters', 'ops', 'blocks', 'heads', 'lowerings'] as const;
const isDescriptor = (v: unknown): v is PackageDescriptor =>
  v !== null && typeof v === 'object' && typeof (v as PackageDescriptor).name === 'string' && KINDS.every((k) => Array.isArray((v as Record<string, unknown>)[k]));

const isPlugin = (v: unknown): v is AnyAdapterPlugin =>
  v !== null && typeof v === 'object' && typeof (v as AnyAdapterPlugin).name === 'string' && Array.isArray((v as AnyAdapterPlugin).modes) && typeof (v as AnyAdapterPlugin).build === 'function';

function readPackageJson(dir: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const isPluginName = (name: string): boolean => name.startsWith(`${PLUGIN_SCOPE}/${PLUGIN_PREFIX}`) && /^@adapters\/adapter-[a-z0-9._-]+$/.test(name);

/** The nearest directory at or above `start` satisfying `accept` with its package.json. */
function nearestPackage(start: string, accept: (pkg: Record<string, unknown>) => boolean): { dir: string; pkg: Record<string, unknown> } | undefined {
  let dir = path.resolve(start);
  for (;;) {
    const pkg = readPackageJson(dir);
    if (pkg && accept(pkg)) return { dir, pkg };
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Package names in `dependencies` / `devDependencies` (own properties only). */
function declaredNames(pkg: Record<string, unknown>): string[] {
  const names: string[] = [];
  for (const field of ['dependencies', 'devDependencies']) {
    const deps = pkg[field];
    if (deps !== null && typeof deps === 'object' && !Array.isArray(deps)) names.push(...Object.keys(deps));
  }
  return [...new Set(names)].sort();
}

/** Does the manifest declare a CLI entry (`"adapters": { "cli": "./dist/cli.js" }`)? Reading it runs no code. */
function declaresCli(pkg: Record<string, unknown> | undefined): boolean {
  const field = pkg?.['adapters'];
  return field !== null && typeof field === 'object' && typeof (field as Record<string, unknown>)['cli'] === 'string';
}

/** A package the CLI loads: an adapter plugin package (`@adapters/adapter-*`) or any package declaring a CLI entry. */
const isCliPackage = (name: string, dir: string): boolean => isPluginName(name) || declaresCli(readPackageJson(dir));

/** Where Node would find the declared package `name` from `projectDir` (node_modules there or above). */
function resolveDeclared(name: string, projectDir: string): string | undefined {
  let dir = projectDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Plugin packages among an npm workspace root's `workspaces` (patterns `dir/*` or plain paths). */
function workspacePlugins(root: string, pkg: Record<string, unknown>): string[] {
  const field = pkg['workspaces'];
  const patterns = Array.isArray(field) ? field : field !== null && typeof field === 'object' && Array.isArray((field as { packages?: unknown }).packages) ? (field as { packages: unknown[] }).packages : [];
  const dirs: string[] = [];
  for (const p of patterns) {
    if (typeof p !== 'string' || p.includes('..')) continue;
    if (p.endsWith('/*')) {
      const base = path.join(root, p.slice(0, -2));
      let entries: string[] = [];
      try {
        entries = readdirSync(base).sort();
      } catch {
        // pattern names no folder
      }
      dirs.push(...entries.map((e) => path.join(base, e)));
    } else if (!p.includes('*')) dirs.push(path.join(root, p));
  }
  return dirs.filter((d) => {
    const name = readPackageJson(d)?.['name'];
    return typeof name === 'string' && isCliPackage(name, d);
  });
}

/**
 * The package folders a start directory may use: the adapter plugin packages and the packages declaring a CLI entry
 * that the nearest package.json declares (resolved as Node would), plus, inside an npm workspace (this monorepo), the
 * workspace's own such packages.
 */
export function declaredPluginDirs(start: string): string[] {
  const out: string[] = [];
  const project = nearestPackage(start, () => true);
  if (project) {
    for (const name of declaredNames(project.pkg)) {
      // Only a name Node could resolve to a folder of that name (no paths, no `..`).
      if (!/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+$/i.test(name)) continue;
      const dir = resolveDeclared(name, project.dir);
      if (dir !== undefined && isCliPackage(name, dir)) out.push(dir);
    }
  }
  const workspace = nearestPackage(start, (pkg) => pkg['workspaces'] !== undefined);
  if (workspace) out.push(...workspacePlugins(workspace.dir, workspace.pkg));
  return out;
}

/** The file to load: the built entry point, or (in a source checkout) src/index.ts when TypeScript can be loaded. */
function entryOf(dir: string, pkg: Record<string, unknown>): string | undefined {
  const main = typeof pkg['main'] === 'string' ? pkg['main'] : 'index.js';
  const candidates = [path.join(dir, main), `${path.join(dir, main)}.js`, path.join(dir, main, 'index.js')];
  const built = candidates.find((f) => existsSync(f) && !f.endsWith(path.sep));
  if (built) return built;
  const source = path.join(dir, 'src', 'index.ts');
  return existsSync(source) ? source : undefined;
}

/** The CLI entry a package declares (`"adapters": { "cli": "./dist/cli.js" }`): built, or its source in a checkout. */
function cliEntryOf(dir: string, pkg: Record<string, unknown>): { file: string | undefined; declared: string } | undefined {
  const field = pkg['adapters'];
  const declared = field !== null && typeof field === 'object' ? (field as Record<string, unknown>)['cli'] : undefined;
  if (typeof declared !== 'string') return undefined;
  const built = path.resolve(dir, declared);
  // The entry must stay inside the package: a manifest cannot make the CLI load an arbitrary file.
  if (!built.startsWith(dir + path.sep)) return { file: undefined, declared };
  if (existsSync(built)) return { file: built, declared };
  const source = path.join(dir, 'src', `${path.basename(declared, '.js')}.ts`);
  return { file: existsSync(source) ? source : undefined, declared };
}

function loadFailure(dir: string, entry: string, e: unknown): string {
  const first = String((e as Error)?.message ?? e).split('\n')[0];
  const hint = entry.endsWith('.ts') ? ": it is not built; run 'npm run build' (or run the CLI from source, which loads TypeScript)" : '';
  return `failed to load ${path.relative(dir, entry)}: ${first}${hint}`;
}

/**
 * Loads one plugin package: its `plugins` export (or, failing that, every exported plugin object) and the `commands`
 * export of its declared CLI entry (a `commands` export of the main entry is accepted too).
 */
export function loadPluginPackage(dir: string, load: (file: string) => unknown = require): PluginPackage {
  const pkg = readPackageJson(dir) ?? {};
  const name = typeof pkg['name'] === 'string' ? pkg['name'] : path.basename(dir);
  const version = typeof pkg['version'] === 'string' ? pkg['version'] : undefined;
  const fail = (error: string): PluginPackage => ({ name, version, dir, plugins: [], descriptors: [], commands: [], error });
  const entry = entryOf(dir, pkg);
  if (!entry) return fail(`no entry point (${String(pkg['main'] ?? 'index.js')} is missing): build it with 'npm run build'`);
  let mod: unknown;
  try {
    mod = load(entry);
  } catch (e) {
    return fail(loadFailure(dir, entry, e));
  }
  const exports = (mod ?? {}) as Record<string, unknown>;
  const declared = exports['plugins'];
  let plugins: AnyAdapterPlugin[];
  if (declared !== undefined) {
    if (!Array.isArray(declared) || !declared.every(isPlugin)) return fail(`its 'plugins' export must be an array of adapter plugins`);
    plugins = declared;
  } else {
    // Convention not followed (yet): accept exported plugin objects so the package still works.
    // A package without plugins (e.g. a test harness) is listed but not an error.
    plugins = [...new Set(Object.values(exports).filter(isPlugin))];
  }
  let commands = exports['commands'];
  let cliExports: Record<string, unknown> = {};
  const cli = cliEntryOf(dir, pkg);
  if (cli !== undefined) {
    if (cli.file === undefined) return fail(`its CLI entry '${cli.declared}' (package.json "adapters.cli") is missing or outside the package: build it with 'npm run build'`);
    try {
      cliExports = (load(cli.file) ?? {}) as Record<string, unknown>;
      commands = cliExports['commands'];
    } catch (e) {
      return fail(loadFailure(dir, cli.file, e));
    }
  }
  if (commands !== undefined && (!Array.isArray(commands) || !commands.every(isCommand))) return fail(`its 'commands' export must be an array of { spec, run } CLI commands`);
  // `runExtras` / `runExtrasCommands` may come from the main entry or the CLI entry (the CLI entry's win a key).
  const mapOf = (key: string, valid: (v: unknown) => boolean): Record<string, unknown> | string | undefined => {
    const parts = [exports[key], cliExports[key]].filter((v) => v !== undefined);
    if (parts.length === 0) return undefined;
    if (!parts.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(valid))) return key;
    return Object.assign({}, ...parts) as Record<string, unknown>;
  };
  const runExtras = mapOf('runExtras', (h) => typeof h === 'function');
  if (typeof runExtras === 'string') return fail(`its 'runExtras' export must map extras keys to handler functions`);
  const runExtrasCommands = mapOf('runExtrasCommands', (c) => typeof c === 'string');
  if (typeof runExtrasCommands === 'string') return fail(`its 'runExtrasCommands' export must map extras keys to command lines`);
  let descriptors: PackageDescriptor[];
  try {
    descriptors = descriptorsOf(name, exports, plugins);
  } catch (e) {
    return fail(`its package descriptor is invalid: ${String((e as Error)?.message ?? e)}`);
  }
  return {
    name, version, dir, plugins, descriptors, commands: (commands as CliCommand[] | undefined) ?? [],
    ...(runExtras ? { runExtras: runExtras as Record<string, RunExtraHandler> } : {}),
    ...(runExtrasCommands ? { runExtrasCommands: runExtrasCommands as Record<string, string> } : {}),
  };
}

/** A package's exported descriptors, and one for its exported plugins that none of them lists (older packages). */
function descriptorsOf(name: string, exports: Record<string, unknown>, plugins: readonly AnyAdapterPlugin[]): PackageDescriptor[] {
  const declared = [...new Set(Object.values(exports).filter(isDescriptor))];
  const listed = new Set(declared.flatMap((d) => d.adapters));
  const rest = plugins.filter((p) => !listed.has(p));
  const taken = new Set(declared.map((d) => d.name));
  return rest.length === 0 ? declared : [...declared, definePackage({ name: taken.has(name) ? `${name} (plugins)` : name, adapters: rest })];
}

/**
 * The runtime the CLI builds, places and runs models with: core plus every usable package's descriptors, first
 * package first. A package whose contributions conflict with earlier ones (another definition under a name they
 * already use) is left out, with its reason in `skipped`, as a plugin name claimed twice keeps the first.
 */
export function runtimeOf(packages: readonly PluginPackage[]): { runtime: Runtime; skipped: readonly { name: string; reason: string }[] } {
  const accepted: PackageDescriptor[] = [];
  const skipped: { name: string; reason: string }[] = [];
  let runtime = createRuntime();
  for (const p of packages) {
    const own = p.descriptors ?? (p.plugins.length > 0 ? [definePackage({ name: p.name, adapters: p.plugins })] : []);
    if (own.length === 0) continue;
    const fresh = own.filter((d) => !accepted.some((a) => a === d || a.name === d.name));
    try {
      runtime = createRuntime([...accepted, ...fresh]);
      accepted.push(...fresh);
    } catch (e) {
      if (!(e instanceof PluginDefinitionError)) throw e;
      skipped.push({ name: p.name, reason: e.message });
    }
  }
  return { runtime, skipped };
}

/**
 * Adapter plugin packages declared for each start directory (typically the CLI's own location and the working
 * directory): see `declaredPluginDirs`. A package found twice (e.g. through a symlink) is loaded once.
 */
export function discoverPlugins(searchFrom: readonly string[], load?: (file: string) => unknown): PluginPackage[] {
  const seenDirs = new Set<string>();
  const seenNames = new Set<string>();
  const out: PluginPackage[] = [];
  for (const start of searchFrom) {
    for (const dir of declaredPluginDirs(start)) {
      let real: string;
      try {
        real = realpathSync(dir);
      } catch {
        continue;
      }
      if (seenDirs.has(real)) continue;
      seenDirs.add(real);
      const pkg = loadPluginPackage(real, load);
      if (seenNames.has(pkg.name)) continue; // a nearer copy of the same package wins
      seenNames.add(pkg.name);
      out.push(pkg);
    }
  }
  return out;
}

/** All usable plugins, first package first; a plugin name claimed twice keeps the first. */
export function allPlugins(packages: readonly PluginPackage[]): AnyAdapterPlugin[] {
  const byName = new Map<string, AnyAdapterPlugin>();
  for (const p of packages) for (const plugin of p.plugins) if (!byName.has(plugin.name)) byName.set(plugin.name, plugin);
  return [...byName.values()];
}

export interface PluginChoice {
  readonly plugin: AnyAdapterPlugin;
  /** The config input for the plugin: `{ config: PRESET, ...overrides }` for a preset, the overrides for a plugin name. */
  readonly input: Record<string, unknown>;
  readonly via: 'preset' | 'name';
}

/** Does the plugin accept `{ config: preset }` although it does not list presets? (Probe for older plugins.) */
function acceptsPreset(plugin: AnyAdapterPlugin, preset: string): boolean {
  if (plugin.presets !== undefined || !('config' in (plugin.defaults as object))) return false;
  try {
    resolveConfig(plugin, { config: preset }, 'probe');
    return true;
  } catch {
    return false;
  }
}

/** Picks the plugin whose `presets` include `name`, or whose `name` is `name`. */
export function choosePlugin(packages: readonly PluginPackage[], name: string, overrides: Readonly<Record<string, unknown>>): PluginChoice {
  const plugins = allPlugins(packages);
  const byPreset = plugins.filter((p) => p.presets?.includes(name));
  const pick = (plugin: AnyAdapterPlugin, via: PluginChoice['via']): PluginChoice => ({ plugin, via, input: via === 'preset' ? { config: name, ...overrides } : { ...overrides } });
  if (byPreset.length > 1) throw new UsageError(`adapter '${name}' is a preset of several plugins (${byPreset.map((p) => p.name).join(', ')}); name the plugin instead, e.g. --adapter ${byPreset[0]?.name}:config=${name}`);
  if (byPreset[0]) return pick(byPreset[0], 'preset');
  const byName = plugins.find((p) => p.name === name);
  if (byName) return pick(byName, 'name');
  const probed = plugins.filter((p) => acceptsPreset(p, name));
  if (probed.length === 1 && probed[0]) return pick(probed[0], 'preset');
  const known = plugins.map((p) => (p.presets && p.presets.length > 0 ? `${p.name} (${p.presets.join(', ')})` : p.name));
  const broken = packages.filter((p) => p.error !== undefined).map((p) => `${p.name}: ${p.error}`);
  throw new UsageError(
    `no installed adapter plugin provides '${name}' (installed: ${known.join('; ') || 'none'})` +
      (broken.length > 0 ? `; unusable packages: ${broken.join('; ')}` : `; install one, e.g. npm install @adapters/adapter-bottleneck`),
  );
}

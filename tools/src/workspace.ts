// The workspace as the tools see it: the repository root, its packages under packages/*, their manifests.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly private?: boolean;
  readonly exports?: Readonly<Record<string, unknown>>;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly scripts?: Readonly<Record<string, string>>;
  readonly [key: string]: unknown;
}

export interface WorkspacePackage {
  /** Directory name under packages/, e.g. `adapter-bottleneck`. */
  readonly dir: string;
  /** Absolute path of the package directory. */
  readonly root: string;
  /** npm name, e.g. `@adapters/adapter-bottleneck`. */
  readonly name: string;
  readonly manifest: PackageJson;
}

/** The repository this file lives in (tools/src → ../..). */
export const REPO_ROOT = resolve(__dirname, '..', '..');

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Every directory under `<root>/packages` that has a package.json, sorted by directory name. */
export function listPackages(root: string): WorkspacePackage[] {
  const dir = join(root, 'packages');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => statSync(join(dir, d)).isDirectory() && existsSync(join(dir, d, 'package.json')))
    .sort()
    .map((d) => {
      const manifest = readJson<PackageJson>(join(dir, d, 'package.json'));
      return { dir: d, root: join(dir, d), name: manifest.name ?? d, manifest };
    });
}

/** All `.ts` files under a directory (recursively), sorted; skips node_modules and dist. */
export function listTsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name === 'node_modules' || entry.name === 'dist') continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && entry.name.endsWith('.ts')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The public entry points of a package: `.` → src/index.ts, and each exports subpath (e.g. `./testing`) → its source. */
export function entryPoints(pkg: WorkspacePackage): { specifier: string; file: string }[] {
  const entries: { specifier: string; file: string }[] = [];
  const main = join(pkg.root, 'src', 'index.ts');
  if (existsSync(main)) entries.push({ specifier: pkg.name, file: main });
  for (const key of Object.keys(pkg.manifest.exports ?? {}).sort()) {
    if (key === '.' || key === './package.json' || !key.startsWith('./')) continue;
    const file = join(pkg.root, 'src', key.slice(2), 'index.ts');
    const single = join(pkg.root, 'src', `${key.slice(2)}.ts`);
    if (existsSync(file)) entries.push({ specifier: `${pkg.name}/${key.slice(2)}`, file });
    else if (existsSync(single)) entries.push({ specifier: `${pkg.name}/${key.slice(2)}`, file: single });
  }
  return entries;
}

export const toPosix = (p: string): string => p.split('\\').join('/');

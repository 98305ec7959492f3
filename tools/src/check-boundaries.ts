// check-boundaries: package boundary rules over every packages/*/src/**/*.ts, read with ts-morph.
//
// Errors (exit code 1), one line each:
//   deep-import            `@adapters/x/<sub>` where <sub> is not in x's package.json exports (e.g. `@adapters/x/src/...`)
//   testing-entry          a `/testing` entry imported from production code (allowed in tests, src/testing/ and test-support packages)
//   relative-escape        a relative import that leaves its package (e.g. `../../core-graph/src/graph`)
//   self-import            a package importing itself by name
//   undeclared-dependency  a package used but not declared in the package's package.json
//                          (test code may also use devDependencies of the package or of the workspace root)
//   package-cycle          packages that import each other in a cycle
// Warnings: file-cycle (runtime import cycles between files of one package; type-only imports do not count),
//   unregistered-entry (an entry point without its `paths` entry in tsconfig.base.json: typecheck cannot resolve it).
import { builtinModules } from 'node:module';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { SourceFile } from 'ts-morph';
import { Node, Project, SyntaxKind, ts } from 'ts-morph';
import type { PackageJson, WorkspacePackage } from './workspace';
import { entryPoints, listPackages, listTsFiles, readJson, toPosix } from './workspace';

export type Severity = 'error' | 'warning';

export type Rule = 'deep-import' | 'testing-entry' | 'relative-escape' | 'self-import' | 'undeclared-dependency' | 'package-cycle' | 'file-cycle' | 'unregistered-entry';

export interface Finding {
  readonly severity: Severity;
  readonly rule: Rule;
  /** Package name the finding is about. */
  readonly package: string;
  /** Repository-relative file, when the finding is about one import. */
  readonly file?: string;
  readonly line?: number;
  readonly message: string;
}

export interface PackageApi {
  readonly package: string;
  readonly entry: string;
  readonly exports: readonly string[];
}

export interface BoundaryReport {
  readonly packages: number;
  readonly files: number;
  readonly findings: readonly Finding[];
  readonly api: readonly PackageApi[];
}

/** One import-like reference in a source file. */
export interface ImportRef {
  readonly specifier: string;
  readonly line: number;
  /** `import type` / `export type` (erased at run time). */
  readonly typeOnly: boolean;
}

/** Every module reference of a file: imports, re-exports, `import x = require()`, `require()`, `import()` and `import('x').T` types. */
export function importsOf(sf: SourceFile): ImportRef[] {
  const refs: ImportRef[] = [];
  for (const d of sf.getImportDeclarations()) {
    const named = d.getNamedImports();
    const typeOnly = d.isTypeOnly() || (named.length > 0 && !d.getDefaultImport() && !d.getNamespaceImport() && named.every((n) => n.isTypeOnly()));
    refs.push({ specifier: d.getModuleSpecifierValue(), line: d.getStartLineNumber(), typeOnly });
  }
  for (const d of sf.getExportDeclarations()) {
    const spec = d.getModuleSpecifierValue();
    if (spec !== undefined) refs.push({ specifier: spec, line: d.getStartLineNumber(), typeOnly: d.isTypeOnly() });
  }
  for (const d of sf.getDescendantsOfKind(SyntaxKind.ImportEqualsDeclaration)) {
    const ref = d.getModuleReference();
    if (Node.isExternalModuleReference(ref)) {
      const e = ref.getExpression();
      if (e && Node.isStringLiteral(e)) refs.push({ specifier: e.getLiteralValue(), line: d.getStartLineNumber(), typeOnly: d.isTypeOnly() });
    }
  }
  for (const call of sf.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    const callee = call.getExpression();
    const isRequire = Node.isIdentifier(callee) && callee.getText() === 'require';
    const isDynamicImport = callee.getKind() === SyntaxKind.ImportKeyword;
    const arg = call.getArguments()[0];
    if ((isRequire || isDynamicImport) && arg && Node.isStringLiteral(arg)) refs.push({ specifier: arg.getLiteralValue(), line: call.getStartLineNumber(), typeOnly: false });
  }
  for (const t of sf.getDescendantsOfKind(SyntaxKind.ImportType)) {
    const arg = t.getArgument();
    if (Node.isLiteralTypeNode(arg)) {
      const lit = arg.getLiteral();
      if (Node.isStringLiteral(lit)) refs.push({ specifier: lit.getLiteralValue(), line: t.getStartLineNumber(), typeOnly: true });
    }
  }
  return refs;
}

const BUILTINS = new Set(builtinModules);

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

const isBuiltin = (specifier: string): boolean => specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(packageNameOf(specifier));

/** Tests and test helpers: `*.test.ts`, `*.spec.ts`, anything under `__tests__/` or `src/testing/`. */
export function isTestSupportFile(pkgRoot: string, file: string): boolean {
  const rel = toPosix(relative(pkgRoot, file));
  return /\.(test|spec)\.ts$/.test(rel) || rel.includes('/__tests__/') || rel.startsWith('src/testing/');
}

/** A package that exists to test other packages (declares `"adapters": { "testSupport": true }`) may use testing entries and dev dependencies. */
const isTestSupportPackage = (manifest: PackageJson): boolean => (manifest['adapters'] as { testSupport?: unknown } | undefined)?.testSupport === true;

function resolveRelative(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.d.ts`, join(base, 'index.ts'), base.replace(/\.js$/, '.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return base;
}

const inside = (dir: string, p: string): boolean => p === dir || p.startsWith(dir + sep);

/** Strongly connected components with more than one node or a self-loop (Tarjan), each in a stable order. */
export function cyclesOf(nodes: readonly string[], edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of [...(edges.get(v) ?? [])].sort()) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || edges.get(v)?.has(v)) out.push(comp);
    }
  };
  for (const n of [...nodes].sort()) if (!idx.has(n)) strong(n);
  return out.map((comp) => cyclePath(comp, edges)).sort((a, b) => (a.join() < b.join() ? -1 : 1));
}

/** One concrete cycle through a strongly connected component, starting at its smallest node: [a, b, ..., a]. */
function cyclePath(comp: readonly string[], edges: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const members = new Set(comp);
  const start = [...comp].sort()[0] as string;
  // Breadth-first from start; the first edge back to start closes the shortest cycle through it.
  const prev = new Map<string, string>();
  const queue = [start];
  const seen = new Set([start]);
  while (queue.length > 0) {
    const v = queue.shift() as string;
    for (const w of [...(edges.get(v) ?? [])].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0] as string) as string);
        return [...path, start];
      }
      if (!seen.has(w)) {
        seen.add(w);
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...comp, comp[0] as string];
}

export function checkBoundaries(root: string): BoundaryReport {
  const packages = listPackages(root);
  const rootManifest: PackageJson = existsSync(join(root, 'package.json')) ? readJson<PackageJson>(join(root, 'package.json')) : {};
  const rootDev = new Set(Object.keys(rootManifest.devDependencies ?? {}));
  const project = new Project({ useInMemoryFileSystem: false, skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true, compilerOptions: { allowJs: false } });
  const filesByPackage = new Map<WorkspacePackage, SourceFile[]>();
  for (const pkg of packages) filesByPackage.set(pkg, listTsFiles(join(pkg.root, 'src')).map((f) => project.addSourceFileAtPath(f)));

  const byName = new Map(packages.map((p) => [p.name, p]));
  const names = [...byName.keys()].sort((a, b) => b.length - a.length);
  const findings: Finding[] = [];
  const pkgEdges = new Map<string, Set<string>>(packages.map((p) => [p.name, new Set<string>()]));
  const rel = (f: string): string => toPosix(relative(root, f));
  let fileCount = 0;

  for (const pkg of packages) {
    const m = pkg.manifest;
    const runtimeDeps = new Set([...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {})]);
    const devDeps = new Set([...Object.keys(m.devDependencies ?? {}), ...rootDev]);
    const supportPackage = isTestSupportPackage(m);
    const fileEdges = new Map<string, Set<string>>();
    const files = filesByPackage.get(pkg) ?? [];
    fileCount += files.length;
    for (const sf of files) {
      const file = sf.getFilePath() as string;
      const testCode = supportPackage || isTestSupportFile(pkg.root, file);
      fileEdges.set(file, new Set());
      const report = (rule: Rule, line: number, message: string, severity: Severity = 'error') =>
        findings.push({ severity, rule, package: pkg.name, file: rel(file), line, message });
      for (const ref of importsOf(sf)) {
        const spec = ref.specifier;
        if (spec.startsWith('.') || spec.startsWith('/')) {
          const target = resolveRelative(file, spec);
          if (!inside(pkg.root, target)) {
            const other = packages.find((p) => inside(p.root, target));
            report('relative-escape', ref.line, other
              ? `relative import '${spec}' reaches into ${other.name}; import '${other.name}' (its public entry) instead`
              : `relative import '${spec}' leaves the package (${rel(target)})`);
            if (other) pkgEdges.get(pkg.name)?.add(other.name);
          } else if (!ref.typeOnly && target.endsWith('.ts') && files.some((f) => f.getFilePath() === target)) {
            fileEdges.get(file)?.add(target);
          }
          continue;
        }
        if (isBuiltin(spec)) continue;
        const wsName = names.find((n) => spec === n || spec.startsWith(`${n}/`));
        const depName = wsName ?? packageNameOf(spec);
        if (wsName !== undefined) {
          const target = byName.get(wsName) as WorkspacePackage;
          const sub = spec.slice(wsName.length + 1);
          if (wsName === pkg.name) {
            report('self-import', ref.line, `'${spec}' imports the package itself by name; use a relative import inside the package`);
            continue;
          }
          pkgEdges.get(pkg.name)?.add(wsName);
          if (sub !== '') {
            const exported = Object.keys(target.manifest.exports ?? {}).includes(`./${sub}`);
            if (!exported) {
              const entries = entryPoints(target).map((e) => `'${e.specifier}'`).join(' or ');
              report('deep-import', ref.line, `deep import '${spec}' into ${wsName}'s internals; import its public entry ${entries || `'${wsName}'`}`);
              continue;
            }
            if (sub === 'testing' && !testCode) {
              report('testing-entry', ref.line, `'${spec}' is for tests; production code imports '${wsName}'`);
            }
          }
        }
        if (runtimeDeps.has(depName)) continue;
        if (devDeps.has(depName)) {
          if (!testCode) report('undeclared-dependency', ref.line, `'${depName}' is only a devDependency; production code needs it in ${pkg.dir}/package.json dependencies or peerDependencies`);
          continue;
        }
        report('undeclared-dependency', ref.line, `'${depName}' is used but not declared in ${toPosix(relative(root, join(pkg.root, 'package.json')))}`);
      }
    }
    for (const cycle of cyclesOf([...fileEdges.keys()], fileEdges)) {
      findings.push({
        severity: 'warning', rule: 'file-cycle', package: pkg.name, file: rel(cycle[0] as string),
        message: `import cycle between files: ${cycle.map((f) => toPosix(relative(pkg.root, f))).join(' → ')}`,
      });
    }
  }
  for (const cycle of cyclesOf([...pkgEdges.keys()], pkgEdges)) {
    findings.push({ severity: 'error', rule: 'package-cycle', package: cycle[0] as string, message: `packages import each other in a cycle: ${cycle.join(' → ')}` });
  }

  const tsconfigFile = join(root, 'tsconfig.base.json');
  if (existsSync(tsconfigFile)) {
    const parsed = ts.parseConfigFileTextToJson(tsconfigFile, readFileSync(tsconfigFile, 'utf8'));
    const paths = ((parsed.config as { compilerOptions?: { paths?: Record<string, unknown> } } | undefined)?.compilerOptions?.paths ?? {}) as Record<string, unknown>;
    for (const pkg of packages) {
      for (const entry of entryPoints(pkg)) {
        if (paths[entry.specifier] !== undefined) continue;
        findings.push({
          severity: 'warning', rule: 'unregistered-entry', package: pkg.name,
          message: `tsconfig.base.json has no paths entry for '${entry.specifier}' (add "${entry.specifier}": ["${rel(entry.file)}"])`,
        });
      }
    }
  }

  const api: PackageApi[] = [];
  for (const pkg of packages) {
    for (const entry of entryPoints(pkg)) {
      const sf = project.getSourceFile(entry.file);
      if (!sf) continue;
      api.push({ package: pkg.name, entry: entry.specifier, exports: [...sf.getExportedDeclarations().keys()].sort() });
    }
  }
  const order = (f: Finding) => `${f.severity === 'error' ? 0 : 1}|${f.file ?? ''}|${String(f.line ?? 0).padStart(6, '0')}|${f.message}`;
  return { packages: packages.length, files: fileCount, findings: [...findings].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)), api };
}

/** `error [rule] file:line: message` (or `package: message` when not about one file). */
export function formatFinding(f: Finding): string {
  const where = f.file === undefined ? f.package : `${f.file}${f.line === undefined ? '' : `:${f.line}`}`;
  return `${f.severity} [${f.rule}] ${where}: ${f.message}`;
}

/** The CLI's text: each entry point's exported names, then one line per finding, then a summary. Returns the exit code. */
export function runCheckBoundaries(root: string, print: (line: string) => void): number {
  const report = checkBoundaries(root);
  for (const a of report.api) print(`${a.entry} exports ${a.exports.length}: ${a.exports.join(', ') || '(nothing)'}`);
  for (const f of report.findings) print(formatFinding(f));
  const errors = report.findings.filter((f) => f.severity === 'error').length;
  const warnings = report.findings.length - errors;
  print(`check-boundaries: ${report.packages} packages, ${report.files} files: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return errors > 0 ? 1 : 0;
}

// api-report: each package's public API (every name its entry points export, with its kind and its
// signature as the type checker prints it), sorted and deterministic, in tools/api/<dir>.api.md.
// `--check` compares instead of writing and fails with a diff when a report is stale.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ClassDeclaration, InterfaceDeclaration, Signature, Symbol as MorphSymbol, Type } from 'ts-morph';
import { Node, Project, ts } from 'ts-morph';
import type { WorkspacePackage } from './workspace';
import { entryPoints, listPackages, toPosix } from './workspace';

export interface ApiEntry {
  readonly name: string;
  readonly kind: string;
  readonly signature: string;
}

export interface ApiReportOptions {
  readonly root: string;
  /** Where the reports live; default `<root>/tools/api`. */
  readonly outDir?: string;
  readonly check?: boolean;
}

const FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope | ts.TypeFormatFlags.WriteClassExpressionAsTypeLiteral;

/** Removes machine-specific `import("/abs/path").` qualifiers so reports are the same everywhere. */
const clean = (text: string): string => text.replace(/import\("[^"]*"\)\./g, '').replace(/\s+/g, ' ').trim();

function typeText(type: Type, at: Node, alias = false): string {
  return clean(type.getText(at, alias ? FLAGS | ts.TypeFormatFlags.InTypeAlias : FLAGS));
}

/** An optional member's or parameter's type without the `| undefined` that `?` already says. */
const optionalType = (text: string): string => text.replace(/ \| undefined$/, '');

function signatureText(sig: Signature, at: Node): string {
  const checker = at.getProject().getTypeChecker().compilerObject;
  return clean(checker.signatureToString(sig.compilerSignature, at.compilerNode, FLAGS));
}

function typeParams(node: Node): string {
  if (!Node.isTypeParametered(node)) return '';
  const ps = node.getTypeParameters();
  return ps.length === 0 ? '' : `<${ps.map((p) => clean(p.getText())).join(', ')}>`;
}

function heritage(node: ClassDeclaration | InterfaceDeclaration): string {
  const parts: string[] = [];
  for (const clause of node.getHeritageClauses()) parts.push(clean(clause.getText()));
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}

function symbolLine(sym: MorphSymbol, at: Node, prefix: string): string[] {
  const decl = sym.getDeclarations()[0] ?? at;
  const type = sym.getTypeAtLocation(at);
  const name = sym.getName();
  if (Node.isMethodDeclaration(decl) || Node.isMethodSignature(decl)) {
    const optional = sym.isOptional() ? '?' : '';
    return type.getNonNullableType().getCallSignatures().map((s) => `${prefix}${name}${optional}${signatureText(s, at)};`);
  }
  const readonly = (Node.isPropertyDeclaration(decl) || Node.isPropertySignature(decl) || Node.isParameterDeclaration(decl)) && decl.isReadonly() ? 'readonly ' : '';
  const getterOnly = Node.isGetAccessorDeclaration(decl) && !sym.getDeclarations().some((d) => Node.isSetAccessorDeclaration(d)) ? 'readonly ' : '';
  const optional = sym.isOptional() ? '?' : '';
  const text = typeText(type, at);
  return [`${prefix}${readonly || getterOnly}${name}${optional}: ${optional ? optionalType(text) : text};`];
}

function classBody(node: ClassDeclaration): string[] {
  const lines: string[] = [];
  const ctors = node.getConstructors();
  const ctorDecls = ctors.length > 1 ? ctors.filter((c) => !c.isImplementation()) : ctors;
  for (const c of ctorDecls) {
    if (c.hasModifier(ts.SyntaxKind.PrivateKeyword)) continue;
    const params = c.getParameters().map((p) => {
      const optional = p.isOptional() && !p.isRestParameter();
      const text = typeText(p.getType(), c);
      return `${p.isRestParameter() ? '...' : ''}${p.getName()}${optional ? '?' : ''}: ${optional ? optionalType(text) : text}`;
    });
    lines.push(`${c.hasModifier(ts.SyntaxKind.ProtectedKeyword) ? 'protected ' : ''}constructor(${params.join(', ')});`);
  }
  const seen = new Set<string>();
  for (const member of node.getMembers()) {
    if (Node.isConstructorDeclaration(member) || Node.isClassStaticBlockDeclaration(member)) continue;
    if (!(Node.isPropertyDeclaration(member) || Node.isMethodDeclaration(member) || Node.isGetAccessorDeclaration(member) || Node.isSetAccessorDeclaration(member))) continue;
    if (member.hasModifier(ts.SyntaxKind.PrivateKeyword) || member.getName().startsWith('#')) continue;
    const isStatic = member.isStatic();
    const key = `${isStatic ? 'static ' : ''}${member.getName()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const sym = member.getSymbol();
    if (!sym) continue;
    const prefix = `${member.hasModifier(ts.SyntaxKind.ProtectedKeyword) ? 'protected ' : ''}${isStatic ? 'static ' : ''}`;
    lines.push(...symbolLine(sym, member, prefix));
  }
  // Constructor parameter properties (`constructor(readonly x: T)`).
  for (const c of ctors) {
    for (const p of c.getParameters()) {
      if (!p.isParameterProperty() || p.hasModifier(ts.SyntaxKind.PrivateKeyword)) continue;
      lines.push(`${p.isReadonly() ? 'readonly ' : ''}${p.getName()}: ${typeText(p.getType(), p)};`);
    }
  }
  return lines;
}

/** Kind and signature of one exported declaration, printed by the type checker. */
export function describeDeclaration(name: string, decl: Node): ApiEntry {
  if (Node.isFunctionDeclaration(decl)) {
    const sigs = decl.getType().getCallSignatures();
    return { name, kind: 'function', signature: sigs.map((s) => `function ${name}${signatureText(s, decl)};`).join('\n') };
  }
  if (Node.isVariableDeclaration(decl)) {
    const kind = decl.getVariableStatement()?.getDeclarationKind() ?? 'const';
    return { name, kind, signature: `${kind} ${name}: ${typeText(decl.getType(), decl)};` };
  }
  if (Node.isClassDeclaration(decl)) {
    const abstract = decl.isAbstract() ? 'abstract ' : '';
    const body = classBody(decl).map((l) => `  ${l}`);
    return { name, kind: 'class', signature: [`${abstract}class ${name}${typeParams(decl)}${heritage(decl)} {`, ...body, '}'].join('\n') };
  }
  if (Node.isInterfaceDeclaration(decl)) {
    const type = decl.getType();
    const body: string[] = [];
    for (const s of type.getCallSignatures()) body.push(`${signatureText(s, decl)};`);
    for (const s of type.getConstructSignatures()) body.push(`new ${signatureText(s, decl)};`);
    const own = new Set(decl.getMembers().map((m) => (Node.isPropertyNamed(m) ? m.getName() : '')));
    for (const sig of decl.getIndexSignatures()) body.push(clean(sig.getText()));
    for (const sym of type.getProperties()) if (own.has(sym.getName())) body.push(...symbolLine(sym, decl, ''));
    return { name, kind: 'interface', signature: [`interface ${name}${typeParams(decl)}${heritage(decl)} {`, ...body.map((l) => `  ${l}`), '}'].join('\n') };
  }
  if (Node.isTypeAliasDeclaration(decl)) {
    return { name, kind: 'type', signature: `type ${name}${typeParams(decl)} = ${typeText(decl.getType(), decl, true)};` };
  }
  if (Node.isEnumDeclaration(decl)) {
    const members = decl.getMembers().map((m) => `  ${m.getName()} = ${JSON.stringify(m.getValue())},`);
    return { name, kind: 'enum', signature: [`${decl.isConstEnum() ? 'const ' : ''}enum ${name} {`, ...members, '}'].join('\n') };
  }
  if (Node.isModuleDeclaration(decl) || Node.isSourceFile(decl)) {
    const names = [...decl.getExportedDeclarations().keys()].sort();
    return { name, kind: 'namespace', signature: `namespace ${name} { ${names.join(', ')} }` };
  }
  return { name, kind: decl.getKindName(), signature: `${name}: ${typeText(decl.getType(), decl)};` };
}

const byName = (a: ApiEntry, b: ApiEntry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);

/** Every export of one entry file, sorted by name (a name that is both a type and a value appears twice). */
export function apiOf(project: Project, file: string): ApiEntry[] {
  const sf = project.getSourceFileOrThrow(file);
  const entries: ApiEntry[] = [];
  for (const [name, decls] of sf.getExportedDeclarations()) {
    const unique = new Set<string>();
    for (const d of decls) {
      const e = describeDeclaration(name, d);
      const key = `${e.kind}\n${e.signature}`;
      if (!unique.has(key)) entries.push(e);
      unique.add(key);
    }
  }
  return entries.sort(byName);
}

function createProject(root: string): Project {
  const tsconfig = join(root, 'tsconfig.base.json');
  return existsSync(tsconfig)
    ? new Project({ tsConfigFilePath: tsconfig, skipAddingFilesFromTsConfig: true })
    : new Project({ compilerOptions: { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS } });
}

/** The report text of one package (entry points in exports order: `.` first). */
export function renderReport(project: Project, root: string, pkg: WorkspacePackage): string {
  const lines = [
    `# API report: ${pkg.name}`,
    '',
    '<!-- Generated by `npm run api-report -w tools` from the package\'s entry points; CI runs `api-report --check`. Do not edit by hand. -->',
  ];
  for (const entry of entryPoints(pkg)) {
    const api = apiOf(project, entry.file);
    lines.push('', `## \`${entry.specifier}\` (${toPosix(relative(root, entry.file))}, ${api.length} exports)`, '', '```ts');
    api.forEach((e, i) => {
      if (i > 0) lines.push('');
      lines.push(`// ${e.name}: ${e.kind}`, ...e.signature.split('\n'));
    });
    lines.push('```');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Reports for every package with an `src/index.ts`, keyed by file name (`<dir>.api.md`). Each package
 * gets its own program, so how the checker prints one package (e.g. the order of union members) never
 * depends on the sources of packages it does not import.
 */
export function buildReports(root: string): Map<string, string> {
  const packages = listPackages(root).filter((p) => entryPoints(p).length > 0);
  return new Map(
    packages.map((p) => {
      const project = createProject(root);
      for (const e of entryPoints(p)) project.addSourceFileAtPath(e.file);
      project.resolveSourceFileDependencies();
      return [`${p.dir}.api.md`, renderReport(project, root, p)];
    }),
  );
}

/** A short line diff (LCS) of two texts: `-`/`+` lines with one line of context, at most `limit` lines. */
export function lineDiff(before: string, after: string, limit = 40): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array;
    const next = lcs[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j--) row[j] = a[i] === b[j] ? (next[j + 1] as number) + 1 : Math.max(next[j] as number, row[j + 1] as number);
  }
  const ops: { op: ' ' | '-' | '+'; line: string; at: number }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    // `at`: the line number in the checked-in text for ' ' and '-', in the current text for '+'.
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ op: ' ', line: a[i] as string, at: i + 1 });
      i += 1;
      j += 1;
    } else if (i < n && (j >= m || (lcs[i + 1]?.[j] as number) >= (lcs[i]?.[j + 1] as number))) {
      ops.push({ op: '-', line: a[i] as string, at: i + 1 });
      i += 1;
    } else {
      ops.push({ op: '+', line: b[j] as string, at: j + 1 });
      j += 1;
    }
  }
  const keep = ops.map((o, k) => o.op !== ' ' || ops[k - 1]?.op === '-' || ops[k - 1]?.op === '+' || ops[k + 1]?.op === '-' || ops[k + 1]?.op === '+');
  const out: string[] = [];
  let skipped = false;
  ops.forEach((o, k) => {
    if (!keep[k]) {
      skipped = true;
      return;
    }
    if (skipped && out.length > 0) out.push('  ...');
    skipped = false;
    out.push(`${o.op} ${String(o.at).padStart(4)} | ${o.line}`);
  });
  return out.length > limit ? [...out.slice(0, limit), `  ... (${out.length - limit} more diff lines)`] : out;
}

/** Writes the reports (removing ones for packages that no longer exist), or with `check` verifies them. Returns the exit code. */
export function runApiReport(options: ApiReportOptions, print: (line: string) => void): number {
  const root = options.root;
  const outDir = options.outDir ?? join(root, 'tools', 'api');
  const reports = buildReports(root);
  const existing = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith('.api.md')).sort() : [];
  const shown = (f: string) => toPosix(relative(root, join(outDir, f)));
  if (!options.check) {
    mkdirSync(outDir, { recursive: true });
    for (const [file, text] of reports) {
      const path = join(outDir, file);
      const old = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
      if (old === text) continue;
      writeFileSync(path, text);
      print(`api-report: ${old === undefined ? 'wrote' : 'updated'} ${shown(file)}`);
    }
    for (const f of existing) {
      if (reports.has(f)) continue;
      rmSync(join(outDir, f));
      print(`api-report: removed ${shown(f)} (no such package)`);
    }
    print(`api-report: ${reports.size} package${reports.size === 1 ? '' : 's'} up to date`);
    return 0;
  }
  let stale = 0;
  for (const [file, text] of reports) {
    const path = join(outDir, file);
    if (!existsSync(path)) {
      stale += 1;
      print(`api-report: ${shown(file)} is missing`);
      continue;
    }
    const old = readFileSync(path, 'utf8');
    if (old === text) continue;
    stale += 1;
    print(`api-report: ${shown(file)} is stale (- checked in, + current API):`);
    for (const l of lineDiff(old, text)) print(`  ${l}`);
  }
  for (const f of existing) {
    if (reports.has(f)) continue;
    stale += 1;
    print(`api-report: ${shown(f)} belongs to no package with src/index.ts`);
  }
  if (stale > 0) {
    print(`api-report: ${stale} report${stale === 1 ? ' is' : 's are'} out of date; run \`npm run api-report -w tools\` and commit the result`);
    return 1;
  }
  print(`api-report: ${reports.size} report${reports.size === 1 ? '' : 's'} up to date`);
  return 0;
}

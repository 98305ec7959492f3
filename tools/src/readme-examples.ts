// README examples are files: each ```ts block in a README is preceded by `<!-- example: RELATIVE/PATH.ts -->`
// and must equal that file (relative to the README's folder), or by `<!-- example: PATH.ts#NAME -->` and equal
// the lines between `// #region NAME` and `// #endregion` in it (dedented), so a README can show a fragment of a
// complete program. The files are type-checked and run against the packed packages by `pack-check`, so an
// example cannot rot without CI failing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface ReadmeExample {
  /** README path relative to the repository root. */
  readonly readme: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The example file (absolute) named by the marker, or undefined when the block has no marker. */
  readonly file?: string;
  /** The `#region` of the file the block shows; undefined: the whole file. */
  readonly region?: string;
  readonly code: string;
}

export interface ExampleProblem {
  readonly readme: string;
  readonly line: number;
  readonly problem: string;
}

const MARKER = /^<!--\s*example:\s*([^\s#]+)(?:#([\w-]+))?\s*-->\s*$/;

/** Every ```ts/```typescript block of one README, with the example file its marker names. */
export function readmeExamples(root: string, readmePath: string): ReadmeExample[] {
  const lines = readFileSync(readmePath, 'utf8').split('\n');
  const found: ReadmeExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] ?? '')) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) break;
    const marker = MARKER.exec(lines[i - 1] ?? '');
    const code = lines.slice(i + 1, end).join('\n') + '\n';
    const file = marker?.[1] === undefined ? undefined : resolve(dirname(readmePath), marker[1]);
    const region = marker?.[2];
    found.push({ readme: relative(root, readmePath), line: i + 1, code, ...(file === undefined ? {} : { file }), ...(region === undefined ? {} : { region }) });
    i = end;
  }
  return found;
}

/** READMEs of the repository: the root's and each folder's under packages/, tools/ and bench/ (one level down too). */
export function listReadmes(root: string): string[] {
  const out: string[] = [];
  const add = (dir: string): void => {
    const f = join(dir, 'README.md');
    if (existsSync(f)) out.push(f);
  };
  add(root);
  for (const top of ['packages', 'tools', 'bench', 'examples']) {
    const base = join(root, top);
    if (!existsSync(base)) continue;
    add(base);
    for (const d of readdirSync(base, { withFileTypes: true })) if (d.isDirectory() && d.name !== 'node_modules') add(join(base, d.name));
  }
  return out;
}

/** Blocks without a marker, markers naming a missing file, and blocks that differ from their file. */
export function checkReadmeExamples(root: string, readmes: readonly string[] = listReadmes(root)): ExampleProblem[] {
  const problems: ExampleProblem[] = [];
  for (const readme of readmes) {
    for (const ex of readmeExamples(root, readme)) {
      const at = { readme: ex.readme, line: ex.line };
      if (ex.file === undefined) {
        problems.push({ ...at, problem: 'a ```ts block without an `<!-- example: FILE -->` marker on the line above' });
      } else if (!existsSync(ex.file)) {
        problems.push({ ...at, problem: `the marker names ${relative(root, ex.file)}, which does not exist` });
      } else {
        const name = `${relative(root, ex.file)}${ex.region === undefined ? '' : `#${ex.region}`}`;
        const expected = ex.region === undefined ? readFileSync(ex.file, 'utf8') : regionOf(readFileSync(ex.file, 'utf8'), ex.region);
        if (expected === undefined) problems.push({ ...at, problem: `${name}: no \`// #region ${ex.region ?? ''}\` … \`// #endregion\` in the file` });
        else if (expected !== ex.code) problems.push({ ...at, problem: `the block differs from ${name} (copy it into the README)` });
      }
    }
  }
  return problems;
}

/** The dedented lines between `// #region NAME` and the next `// #endregion`, or undefined when absent. */
export function regionOf(text: string, name: string): string | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  if (start < 0) return undefined;
  const end = lines.findIndex((l, j) => j > start && l.trim() === '// #endregion');
  if (end < 0) return undefined;
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return body.map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join('\n') + '\n';
}

/** Example files named by the READMEs (each once). */
export function exampleFiles(root: string): string[] {
  return [...new Set(listReadmes(root).flatMap((r) => readmeExamples(root, r).flatMap((e) => (e.file === undefined ? [] : [e.file]))))];
}

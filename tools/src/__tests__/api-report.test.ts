import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildReports, lineDiff, runApiReport } from '../api-report';
import { capture, manifest, removeDir, tempDir, writeFiles } from './fixtures';

const SOURCE = `import type { Shape } from './shape';
export type { Shape } from './shape';
/** Adds. */
export function add(a: number, b?: number): number {
  return a + (b ?? 0);
}
export function pick(x: string): string;
export function pick(x: number): number;
export function pick(x: string | number): string | number {
  return x;
}
export const VERSION = '1.0' as const;
export let counter = 0;
export const inferred = { size: 3, names: ['a'] };
export type Mode = 'on' | 'off';
export enum Color { Red = 1, Blue = 'blue' }
export interface Options<T = number> extends Base {
  readonly value: T;
  label?: string;
  run(input: T): Shape;
  (call: string): void;
}
interface Base { readonly base: boolean }
export abstract class Widget<S extends Shape = Shape> {
  private secret = 1;
  static count = 0;
  protected inner: number = 2;
  constructor(readonly shape: S, private hidden: number, options?: Options) { void options; void this.hidden; void this.secret; }
  get area(): number { return this.shape.w * this.shape.h; }
  abstract draw(): string;
  static make(): number { return 1; }
}
export { add as plus };
export * as shapes from './shape';
`;

function fixture(): string {
  const root = tempDir();
  writeFiles(root, {
    'tsconfig.base.json': { compilerOptions: { target: 'ES2022', module: 'commonjs', strict: true, exactOptionalPropertyTypes: true, skipLibCheck: true } },
    'packages/geo/package.json': manifest('@x/geo'),
    'packages/geo/src/index.ts': SOURCE,
    'packages/geo/src/shape.ts': `export interface Shape { readonly w: number; readonly h: number }\nexport const unit: Shape = { w: 1, h: 1 };\n`,
    'packages/empty/package.json': manifest('@x/empty'),
  });
  return root;
}

describe('api-report on a fixture package', () => {
  let root: string;
  let report: string;
  beforeAll(() => {
    root = fixture();
    report = buildReports(root).get('geo.api.md') as string;
  });
  afterAll(() => removeDir(root));

  it('lists every export sorted by name with its kind and checker-printed signature', () => {
    expect(report.startsWith('# API report: @x/geo\n')).toBe(true);
    expect(report).toContain('## `@x/geo` (packages/geo/src/index.ts, 12 exports)');
    const names = [...report.matchAll(/^\/\/ (\S+): (\S+)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
    expect(names).toEqual([
      'Color: enum', 'Mode: type', 'Options: interface', 'Shape: interface', 'VERSION: const', 'Widget: class', 'add: function', 'counter: let', 'inferred: const',
      'pick: function', 'plus: function', 'shapes: namespace',
    ]);
    for (const line of [
      'function add(a: number, b?: number): number;',
      'function pick(x: string): string;',
      'function pick(x: number): number;',
      'const VERSION: "1.0";',
      'let counter: number;',
      'const inferred: { size: number; names: string[]; };',
      'type Mode = "on" | "off";',
      '  Red = 1,',
      '  Blue = "blue",',
      'interface Options<T = number> extends Base {',
      '  readonly value: T;',
      '  label?: string;',
      '  run(input: T): Shape;',
      '  (call: string): void;',
      'abstract class Widget<S extends Shape = Shape> {',
      '  constructor(shape: S, hidden: number, options?: Options<number>);',
      '  static count: number;',
      '  protected inner: number;',
      '  readonly area: number;',
      '  draw(): string;',
      '  static make(): number;',
      '  readonly shape: S;',
      'namespace shapes { Shape, unit }',
    ]) {
      expect(report.split('\n')).toContain(line);
    }
    expect(report).not.toContain('secret');
    expect(report.split('\n').filter((l) => /^ {2}(readonly )?hidden\b/.test(l))).toEqual([]);
    expect(report).not.toMatch(/import\("/);
  });

  it('is deterministic and skips packages without src/index.ts', () => {
    const again = buildReports(root);
    expect(again.get('geo.api.md')).toBe(report);
    expect([...again.keys()]).toEqual(['geo.api.md']);
  });

  it('writes the reports, then --check passes; a changed signature makes --check fail with a diff', () => {
    const out = join(root, 'tools', 'api');
    const write = capture();
    expect(runApiReport({ root }, write.print)).toBe(0);
    expect(write.lines).toEqual(['api-report: wrote tools/api/geo.api.md', 'api-report: 1 package up to date']);
    expect(readFileSync(join(out, 'geo.api.md'), 'utf8')).toBe(report);

    const ok = capture();
    expect(runApiReport({ root, check: true }, ok.print)).toBe(0);
    expect(ok.lines).toEqual(['api-report: 1 report up to date']);

    writeFiles(root, { 'packages/geo/src/index.ts': SOURCE.replace('export function add(a: number, b?: number): number {', 'export function add(a: number, b: number): number {') });
    const stale = capture();
    expect(runApiReport({ root, check: true }, stale.print)).toBe(1);
    expect(stale.lines[0]).toBe('api-report: tools/api/geo.api.md is stale (- checked in, + current API):');
    expect(stale.lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ {2}- +\d+ \| function add\(a: number, b\?: number\): number;$/),
      expect.stringMatching(/^ {2}\+ +\d+ \| function add\(a: number, b: number\): number;$/),
    ]));
    expect(stale.lines.at(-1)).toMatch(/1 report is out of date; run `npm run api-report -w tools`/);
    // --check never writes.
    expect(readFileSync(join(out, 'geo.api.md'), 'utf8')).toBe(report);
  });

  it('--check reports missing files and files of packages that are gone; writing removes the latter', () => {
    const out = join(root, 'tools', 'api');
    writeFiles(root, { 'tools/api/old.api.md': '# gone\n' });
    rmSync(join(out, 'geo.api.md'));
    const check = capture();
    expect(runApiReport({ root, check: true }, check.print)).toBe(1);
    expect(check.lines).toEqual(expect.arrayContaining(['api-report: tools/api/geo.api.md is missing', 'api-report: tools/api/old.api.md belongs to no package with src/index.ts']));
    const write = capture();
    expect(runApiReport({ root }, write.print)).toBe(0);
    expect(existsSync(join(out, 'old.api.md'))).toBe(false);
    expect(runApiReport({ root, check: true }, () => undefined)).toBe(0);
  });
});

describe('lineDiff', () => {
  it('shows removed and added lines with context and line numbers', () => {
    expect(lineDiff('a\nb\nc\nd\ne', 'a\nb\nX\nd\ne')).toEqual(['     2 | b', '-    3 | c', '+    3 | X', '     4 | d']);
    expect(lineDiff('a\nb', 'a\nb')).toEqual([]);
    expect(lineDiff('', 'x').filter((l) => l.startsWith('+'))).toEqual(['+    1 | x']);
  });

  it('caps long diffs', () => {
    const a = Array.from({ length: 100 }, (_x, i) => `l${i}`).join('\n');
    const d = lineDiff(a, '', 10);
    expect(d).toHaveLength(11);
    expect(d.at(-1)).toMatch(/more diff lines/);
  });
});

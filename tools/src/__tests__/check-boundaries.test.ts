import { checkBoundaries, cyclesOf, formatFinding, packageNameOf, runCheckBoundaries } from '../check-boundaries';
import type { Finding } from '../check-boundaries';
import { REPO_ROOT } from '../workspace';
import { capture, manifest, removeDir, tempDir, writeFiles } from './fixtures';

/** A workspace with one clean package (`core`) and two that break every rule once. */
function violatingWorkspace(): string {
  const root = tempDir();
  writeFiles(root, {
    'package.json': { name: 'fixture', private: true, workspaces: ['packages/*'], devDependencies: { 'fast-check': '4.10.2' } },
    'tsconfig.base.json': `{
  // JSONC, as tsconfig files may be
  "compilerOptions": { "paths": { "@adapters/core": ["packages/core/src/index.ts"], "@adapters/core/testing": ["packages/core/src/testing/index.ts"], "@adapters/alpha": ["packages/alpha/src/index.ts"] } }
}
`,
    'packages/core/package.json': manifest('@adapters/core', {
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './testing': { types: './dist/testing/index.d.ts', default: './dist/testing/index.js' }, './package.json': './package.json' },
      dependencies: { 'left-pad': '1.3.0' },
    }),
    'packages/core/src/index.ts': `import pad from 'left-pad';\nexport { internal } from './internal';\nexport const core = pad('x', 2);\nexport interface CoreOptions { readonly n: number }\n`,
    'packages/core/src/internal.ts': `import { readFileSync } from 'node:fs';\nimport * as path from 'path';\nexport const internal = () => [readFileSync, path];\n`,
    'packages/core/src/testing/index.ts': `import fc from 'fast-check';\nexport const arb = fc.nat();\n`,
    'packages/core/src/core.test.ts': `import fc from 'fast-check';\nimport { core } from './index';\nexport const x = [fc, core];\n`,

    'packages/alpha/package.json': manifest('@adapters/alpha', { dependencies: { '@adapters/core': '0.1.0', '@adapters/beta': '0.1.0' } }),
    'packages/alpha/src/index.ts': `export { a } from './a';\nexport * from './deep';\nimport { beta } from '@adapters/beta';\nexport const useBeta = beta;\n`,
    'packages/alpha/src/deep.ts': `import { core } from '@adapters/core';\nimport { internal } from '@adapters/core/src/internal';\nexport const deep = [core, internal];\n`,
    'packages/alpha/src/escape.ts': `// reaches into another package by path\nimport { internal } from '../../core/src/internal';\nexport const escaped = internal;\n`,
    'packages/alpha/src/undeclared.ts': `import chalk from 'chalk';\nimport fc from 'fast-check';\nexport const u = [chalk, fc];\n`,
    'packages/alpha/src/prod-testing.ts': `import { arb } from '@adapters/core/testing';\nexport const p = arb;\n`,
    'packages/alpha/src/a.ts': `import { b } from './b';\nexport const a = () => b;\n`,
    'packages/alpha/src/b.ts': `import { a } from './a';\nexport const b = () => a;\n`,
    'packages/alpha/src/c.ts': `import type { D } from './d';\nexport interface C { d?: D }\n`,
    'packages/alpha/src/d.ts': `import type { C } from './c';\nexport interface D { c?: C }\n`,
    'packages/alpha/src/self.ts': `import { a } from '@adapters/alpha';\nexport const s = a;\n`,
    'packages/alpha/src/__tests__/ok.test.ts': `import fc from 'fast-check';\nimport { arb } from '@adapters/core/testing';\nimport { core } from '@adapters/core';\nexport const t = [fc, arb, core];\n`,

    'packages/beta/package.json': manifest('@adapters/beta', { dependencies: { '@adapters/alpha': '0.1.0' } }),
    'packages/beta/src/index.ts': `import { a } from '@adapters/alpha';\nexport const beta = a;\nexport const lazy = () => import('undeclared-lazy');\n// eslint-disable-next-line\nexport const req = require('undeclared-required');\n`,
  });
  return root;
}

const find = (findings: readonly Finding[], rule: string, file?: string): Finding[] => findings.filter((f) => f.rule === rule && (file === undefined || f.file === file));

describe('check-boundaries on a fixture workspace with planted violations', () => {
  let root: string;
  let findings: readonly Finding[];
  beforeAll(() => {
    root = violatingWorkspace();
    findings = checkBoundaries(root).findings;
  });
  afterAll(() => removeDir(root));

  it('reports a deep import into another package, naming its public entries', () => {
    const [f, ...more] = find(findings, 'deep-import');
    expect(more).toHaveLength(0);
    expect(f).toMatchObject({ severity: 'error', file: 'packages/alpha/src/deep.ts', line: 2 });
    expect(f?.message).toContain(`'@adapters/core/src/internal'`);
    expect(f?.message).toContain(`'@adapters/core' or '@adapters/core/testing'`);
  });

  it('reports a relative import that escapes into another package', () => {
    expect(find(findings, 'relative-escape')).toEqual([
      expect.objectContaining({ severity: 'error', file: 'packages/alpha/src/escape.ts', line: 2, message: expect.stringContaining('reaches into @adapters/core') }),
    ]);
  });

  it('reports the package cycle alpha → beta → alpha', () => {
    expect(find(findings, 'package-cycle')).toEqual([
      expect.objectContaining({ severity: 'error', message: 'packages import each other in a cycle: @adapters/alpha → @adapters/beta → @adapters/alpha' }),
    ]);
  });

  it('warns about a runtime file cycle, not about a type-only one', () => {
    expect(find(findings, 'file-cycle')).toEqual([
      expect.objectContaining({ severity: 'warning', package: '@adapters/alpha', message: 'import cycle between files: src/a.ts → src/b.ts → src/a.ts' }),
    ]);
  });

  it('warns about an entry point missing from tsconfig.base.json paths', () => {
    expect(find(findings, 'unregistered-entry')).toEqual([
      expect.objectContaining({ severity: 'warning', package: '@adapters/beta', message: `tsconfig.base.json has no paths entry for '@adapters/beta' (add "@adapters/beta": ["packages/beta/src/index.ts"])` }),
    ]);
  });

  it('reports undeclared dependencies, dev-only dependencies in production code, require() and import()', () => {
    const undeclared = find(findings, 'undeclared-dependency').map((f) => `${f.file}:${f.line} ${f.message}`);
    expect(undeclared).toEqual([
      expect.stringMatching(/^packages\/alpha\/src\/undeclared\.ts:1 'chalk' is used but not declared in packages\/alpha\/package\.json$/),
      expect.stringMatching(/^packages\/alpha\/src\/undeclared\.ts:2 'fast-check' is only a devDependency/),
      expect.stringMatching(/^packages\/beta\/src\/index\.ts:3 'undeclared-lazy' is used but not declared/),
      expect.stringMatching(/^packages\/beta\/src\/index\.ts:5 'undeclared-required' is used but not declared/),
    ]);
  });

  it('reports a testing entry in production code and a self-import', () => {
    expect(find(findings, 'testing-entry')).toEqual([expect.objectContaining({ file: 'packages/alpha/src/prod-testing.ts', line: 1 })]);
    expect(find(findings, 'self-import')).toEqual([expect.objectContaining({ file: 'packages/alpha/src/self.ts', line: 1 })]);
  });

  it('accepts the clean package, builtins, tests using dev dependencies and testing entries', () => {
    expect(findings.filter((f) => f.package === '@adapters/core')).toEqual([]);
    expect(findings.filter((f) => f.file?.includes('__tests__'))).toEqual([]);
  });

  it('prints each package API, then one line per violation, and exits 1', () => {
    const out = capture();
    expect(runCheckBoundaries(root, out.print)).toBe(1);
    expect(out.lines).toContain('@adapters/core exports 3: CoreOptions, core, internal');
    expect(out.lines).toContain('@adapters/core/testing exports 1: arb');
    expect(out.lines).toContain(`error [deep-import] packages/alpha/src/deep.ts:2: deep import '@adapters/core/src/internal' into @adapters/core's internals; import its public entry '@adapters/core' or '@adapters/core/testing'`);
    const violations = out.lines.filter((l) => /^(error|warning) \[/.test(l));
    expect(violations).toHaveLength(findings.length);
    expect(violations.map((l) => l.split('\n').length)).toEqual(findings.map(() => 1));
    expect(out.lines.at(-1)).toBe(`check-boundaries: 3 packages, 16 files: ${findings.length - 2} errors, 2 warnings`);
  });

  it('formats findings without a file by package', () => {
    expect(formatFinding({ severity: 'error', rule: 'package-cycle', package: '@a/x', message: 'm' })).toBe('error [package-cycle] @a/x: m');
  });
});

describe('check-boundaries helpers', () => {
  it('finds cycles deterministically', () => {
    const edges = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a', 'd'])], ['d', new Set<string>()], ['e', new Set(['e'])]]);
    expect(cyclesOf(['d', 'c', 'b', 'a', 'e'], edges)).toEqual([['a', 'b', 'c', 'a'], ['e', 'e']]);
  });

  it('reads package names from specifiers', () => {
    expect(packageNameOf('@tensorflow/tfjs-core/dist/x')).toBe('@tensorflow/tfjs-core');
    expect(packageNameOf('fast-check')).toBe('fast-check');
    expect(packageNameOf('lodash/fp')).toBe('lodash');
  });
});

describe('check-boundaries on this repository', () => {
  it('finds no errors', () => {
    const report = checkBoundaries(REPO_ROOT);
    expect(report.findings.filter((f) => f.severity === 'error').map(formatFinding)).toEqual([]);
    expect(report.api.map((a) => a.entry)).toEqual(expect.arrayContaining(['@adapters/core-graph', '@adapters/core-graph/testing', '@adapters/adapter-tester']));
  });
});

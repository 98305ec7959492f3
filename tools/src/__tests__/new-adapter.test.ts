// Scaffolds into a temporary copy of the workspace (root configs copied, node_modules and the packages the
// scaffold needs linked), then runs the new package's typecheck, lint and tests there.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkBoundaries } from '../check-boundaries';
import { main } from '../cli';
import { camelCase, newAdapter, pascalCase, registerPaths } from '../new-adapter';
import { REPO_ROOT } from '../workspace';
import { capture, linkedWorkspace, removeDir, tempDir, writeFiles } from './fixtures';

const bin = (rel: string): string => join(REPO_ROOT, 'node_modules', rel);

function run(cwd: string, script: string, args: readonly string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [script, ...args], { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', CI: 'true' }, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe('new-adapter', () => {
  let root: string;
  beforeAll(() => {
    root = linkedWorkspace(['core-graph', 'adapter-tester']);
  });
  afterAll(() => removeDir(root));

  it('scaffolds a package that typechecks, lints, passes the adapter-tester suite and the boundary checks', () => {
    const out = capture();
    const err = capture();
    expect(main(['new-adapter', 'demo-thing', '--root', root], { out: out.print, err: err.print })).toBe(0);
    expect(err.lines).toEqual([]);
    expect(out.lines).toEqual(expect.arrayContaining(['created packages/adapter-demo-thing/package.json', 'created packages/adapter-demo-thing/src/index.ts', 'updated tsconfig.base.json']));

    const pkgDir = join(root, 'packages', 'adapter-demo-thing');
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    const bottleneck = JSON.parse(readFileSync(join(REPO_ROOT, 'packages', 'adapter-bottleneck', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: '@adapters/adapter-demo-thing', exports: bottleneck['exports'], scripts: bottleneck['scripts'], dependencies: { '@adapters/core-graph': '0.1.0' } });
    const paths = (JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8')) as { compilerOptions: { paths: Record<string, string[]> } }).compilerOptions.paths;
    expect(paths['@adapters/adapter-demo-thing']).toEqual(['packages/adapter-demo-thing/src/index.ts']);
    expect(paths['@adapters/adapter-tester']).toEqual(['packages/adapter-tester/src/index.ts']);

    const tsc = run(root, bin('typescript/bin/tsc'), ['-p', 'packages/adapter-demo-thing/tsconfig.json', '--noEmit']);
    expect(tsc).toEqual({ status: 0, output: expect.any(String) });
    const lint = run(pkgDir, bin('eslint/bin/eslint.js'), ['src']);
    expect(lint).toEqual({ status: 0, output: expect.any(String) });
    const jest = run(pkgDir, bin('jest/bin/jest.js'), ['--ci']);
    expect(jest.output).toMatch(/Tests: +\d+ passed, \d+ total/);
    expect(jest.output).not.toMatch(/skipped/);
    expect(jest.status).toBe(0);

    const boundaries = checkBoundaries(root);
    expect(boundaries.findings.filter((f) => f.package === '@adapters/adapter-demo-thing')).toEqual([]);
    expect(boundaries.api.find((a) => a.package === '@adapters/adapter-demo-thing')?.exports).toEqual([
      'DEMO_THING_DEFAULTS', 'DEMO_THING_SCHEMA', 'DemoThingConfig', 'demoThingAdapter', 'demoThingWidth', 'plugins',
    ]);
  });

  it('refuses an existing package and bad names, leaving the workspace as it was', () => {
    const before = readFileSync(join(root, 'tsconfig.base.json'), 'utf8');
    expect(() => newAdapter({ root, name: 'demo-thing' })).toThrow(/packages\/adapter-demo-thing already exists/);
    for (const name of ['Demo', 'demo_thing', '-x', 'x-', '1x', 'a--b', '']) expect(() => newAdapter({ root, name })).toThrow(/must be lower-case/);
    expect(readFileSync(join(root, 'tsconfig.base.json'), 'utf8')).toBe(before);
  });
});

describe('new-adapter helpers', () => {
  it('names identifiers from the adapter name', () => {
    expect(camelCase('prefix-tuning')).toBe('prefixTuning');
    expect(pascalCase('lora')).toBe('Lora');
    expect(pascalCase('ia3-v2')).toBe('Ia3V2');
  });

  it('inserts paths entries among package entries, before sub-path entries, without touching the rest', () => {
    const root = tempDir();
    try {
      const paths = { '@adapters/core-graph': ['c'], '@adapters/adapter-b': ['b'], '@adapters/core-graph/testing': ['t'] };
      writeFiles(root, { 'tsconfig.base.json': { compilerOptions: { strict: true, paths } } });
      expect(registerPaths(root, ['adapter-c', 'adapter-a'])).toBe(true);
      const config = JSON.parse(readFileSync(join(root, 'tsconfig.base.json'), 'utf8')) as { compilerOptions: { strict: boolean; paths: object } };
      expect(Object.keys(config.compilerOptions.paths)).toEqual([
        '@adapters/core-graph', '@adapters/adapter-b', '@adapters/adapter-c', '@adapters/adapter-a', '@adapters/core-graph/testing',
      ]);
      expect(config.compilerOptions.strict).toBe(true);
      expect(registerPaths(root, ['adapter-c'])).toBe(false);
    } finally {
      removeDir(root);
    }
  });
});

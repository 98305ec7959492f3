// The packages as users install them: `npm pack` each one, install the tarballs into fresh projects outside the
// monorepo, type-check consumers with skipLibCheck: false (CommonJS and ESM), and run every README example there.
// `npm run pack-check -w tools [-- --keep]`; CI runs it after the tests. Prints one line per step and a summary.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { buildSync } from 'esbuild';
import { exampleFiles } from './readme-examples';
import { listPackages, REPO_ROOT } from './workspace';

interface Step {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const steps: Step[] = [];

function record(name: string, ok: boolean, detail: string): void {
  steps.push({ name, ok, detail });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

function sh(cmd: string, args: readonly string[], cwd: string, timeoutMs = 15 * 60_000): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, maxBuffer: 64 << 20 });
}

/** Runs a step; a failure records the command's last output lines instead of throwing. */
function attempt(name: string, fn: () => string): boolean {
  try {
    record(name, true, fn());
    return true;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const tail = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n') || e.message;
    record(name, false, `\n${tail}`);
    return false;
  }
}

function dirStats(dir: string): { packages: number; bytes: number } {
  let packages = 0;
  let bytes = 0;
  const walk = (d: string, inModules: boolean): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) {
        if (inModules && existsSync(join(p, 'package.json')) && !e.name.startsWith('.')) packages++;
        walk(p, e.name === 'node_modules' || (inModules && e.name.startsWith('@')));
      } else bytes += statSync(p).size;
    }
  };
  walk(join(dir, 'node_modules'), true);
  return { packages, bytes };
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Runs tsc (skipLibCheck: false) and fails on errors in our packages' declarations or in the consumer's own files.
 * Errors inside third-party declarations are counted, not failed: tfjs 4.22's typings cannot be checked under
 * TypeScript 6 at all (with the DOM lib its @webgpu/types conflict with lib.dom's WebGPU types; without it, its
 * WebGL and browser-input declarations name DOM types), whatever our packages do.
 */
function typeCheck(tsc: string, cwd: string): string {
  let out = '';
  try {
    out = sh(tsc, ['-p', '.', '--pretty', 'false'], cwd);
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? '';
  }
  const errors = out.split('\n').filter((l) => /: error TS\d+/.test(l));
  const thirdParty = errors.filter((l) => /node_modules[\\/]/.test(l) && !/node_modules[\\/]@adapters[\\/]/.test(l));
  const ours = errors.filter((l) => !thirdParty.includes(l));
  if (ours.length > 0) throw new Error(ours.slice(0, 20).join('\n'));
  const where = [...new Set(thirdParty.map((l) => /node_modules[\\/](@[^\\/]+[\\/][^\\/]+|[^\\/]+)/.exec(l)?.[1] ?? '?'))];
  return thirdParty.length === 0 ? 'no errors' : `no errors in our packages or the consumer; ${thirdParty.length} in third-party typings (${where.join(', ')}), not ours`;
}

/** Checks what a packed tarball holds: LICENSE, portable declarations, source maps that carry their sources. */
function inspectTarball(tgz: string, work: string): string {
  const dir = join(work, basename(tgz, '.tgz'));
  mkdirSync(dir, { recursive: true });
  sh('tar', ['-xzf', tgz, '-C', dir], work);
  const root = join(dir, 'package');
  const problems: string[] = [];
  if (!existsSync(join(root, 'LICENSE'))) problems.push('no LICENSE');
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  for (const field of ['engines', 'type', 'sideEffects', 'license', 'repository']) if (!(field in manifest)) problems.push(`package.json lacks "${field}"`);
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.d.ts') && /import\("packages\//.test(readFileSync(p, 'utf8'))) problems.push(`${relative(root, p)} imports a monorepo path`);
      else if (e.name.endsWith('.js.map')) {
        const map = JSON.parse(readFileSync(p, 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
        if (!map.sourcesContent || map.sourcesContent.length !== map.sources.length) problems.push(`${relative(root, p)} points at sources it does not carry`);
      }
    }
  };
  walk(root);
  if (problems.length > 0) throw new Error(problems.slice(0, 10).join('; '));
  return `${basename(tgz)} (${(statSync(tgz).size / 1024).toFixed(0)} KiB)`;
}

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    strict: true,
    skipLibCheck: false,
    esModuleInterop: true,
    types: ['node', 'jest'],
    outDir: 'dist',
    rootDir: '.',
  },
};

function main(): void {
  const keep = process.argv.includes('--keep');
  const work = mkdtempSync(join(tmpdir(), 'adapters-pack-'));
  console.log(`pack-check in ${work}`);
  const packages = listPackages(REPO_ROOT).filter((p) => p.manifest.private !== true);

  if (!attempt('build every package', () => (sh('npx', ['nx', 'run-many', '-t', 'build', '--parallel=1', '--outputStyle=static'], REPO_ROOT), ''))) return finish(work, keep);

  const tarballs = new Map<string, string>();
  mkdirSync(join(work, 'tarballs'));
  for (const p of packages) {
    attempt(`pack ${p.name}`, () => {
      const out = sh('npm', ['pack', '--silent', '--pack-destination', join(work, 'tarballs')], p.root).trim().split('\n').pop()!;
      const tgz = join(work, 'tarballs', out);
      tarballs.set(p.name, tgz);
      return inspectTarball(tgz, join(work, 'unpacked'));
    });
  }
  const fileSpec = (name: string): string => `file:${tarballs.get(name)!}`;

  // What a user of core-graph + adapter-bottleneck gets.
  const minimal = join(work, 'minimal');
  mkdirSync(minimal);
  writeJson(join(minimal, 'package.json'), {
    name: 'minimal-consumer', private: true,
    dependencies: { '@adapters/core-graph': fileSpec('@adapters/core-graph'), '@adapters/adapter-bottleneck': fileSpec('@adapters/adapter-bottleneck') },
  });
  const minimalInstalled = attempt('install core-graph + adapter-bottleneck into a fresh project', () => {
    sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], minimal);
    const s = dirStats(minimal);
    // Plotting, the CLI and its native renderer belong to @adapters/cli, never to a library install.
    const unwanted = ['vega', 'vega-lite', '@resvg/resvg-js', '@adapters/cli'].filter((p) => existsSync(join(minimal, 'node_modules', p)));
    if (unwanted.length > 0) throw new Error(`the library install pulled in ${unwanted.join(', ')}`);
    return `${s.packages} packages, ${(s.bytes / 1e6).toFixed(1)} MB in node_modules; no vega, resvg or CLI`;
  });
  if (minimalInstalled) browserBundle(minimal, work);

  // CommonJS consumer: every README example, compiled with skipLibCheck false, then run (tests under jest).
  const cjs = join(work, 'consumer-cjs');
  mkdirSync(join(cjs, 'examples'), { recursive: true });
  const devVersions = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const dev = (n: string): string => devVersions.devDependencies[n] ?? 'latest';
  writeJson(join(cjs, 'package.json'), {
    name: 'consumer-cjs', private: true, type: 'commonjs',
    dependencies: Object.fromEntries(packages.map((p) => [p.name, fileSpec(p.name)])),
    devDependencies: { typescript: dev('typescript'), '@types/node': dev('@types/node'), jest: dev('jest'), '@types/jest': dev('@types/jest'), 'fast-check': dev('fast-check') },
  });
  const examples = exampleFiles(REPO_ROOT);
  for (const file of examples) {
    const target = join(cjs, 'examples', relative(REPO_ROOT, file).replace(/[\\/]/g, '__'));
    copyFileSync(file, target);
  }
  writeJson(join(cjs, 'tsconfig.json'), { compilerOptions: { ...CONSUMER_TSCONFIG.compilerOptions, module: 'node16', moduleResolution: 'node16' }, include: ['examples/*.ts'] });
  if (!attempt('install every package into a CommonJS project', () => (sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], cjs), ''))) return finish(work, keep);
  const tsc = join(cjs, 'node_modules', '.bin', 'tsc');
  const compiled = attempt(`type-check and compile ${examples.length} README examples (CommonJS, skipLibCheck: false)`, () => typeCheck(tsc, cjs));
  // Examples that load a model take its folder as their first argument: a tiny random BERT (no download in CI).
  const tinyModel = join(work, 'tiny-model');
  attempt('write a tiny BERT folder with the packed /testing entry', () => sh('node', ['-e', [
    "const g = require('@adapters/core-graph'); const t = require('@adapters/core-graph/testing');",
    "g.selectBackend({ prefer: 'cpu' }).then(() => {",
    `  t.writeTinyModelDir(${JSON.stringify(tinyModel)}, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[unused0]', '[unused1]', '[unused2]', '[unused3]', ...'a the film plot great lovely dull boring tedious witty charming gorgeous acting mess'.split(' ')], { hiddenSize: 32 });`,
    "  console.log('written');",
    '});',
  ].join('\n')], cjs).trim());
  if (compiled) {
    for (const file of examples) {
      const js = join('dist', 'examples', relative(REPO_ROOT, file).replace(/[\\/]/g, '__').replace(/\.ts$/, '.js'));
      const label = relative(REPO_ROOT, file);
      if (file.endsWith('.test.ts')) {
        attempt(`run ${label} under a plain jest (no setup file)`, () => {
          const out = sh('npx', ['jest', '--ci', '--rootDir', '.', '--testMatch', `<rootDir>/${js}`, '--testEnvironment', 'node'], cjs, 20 * 60_000);
          return out.trim().split('\n').filter((l) => /^Tests:/.test(l)).join(' ');
        });
      } else {
        attempt(`run ${label}`, () => sh('node', [js, tinyModel], cjs).trim().split('\n').slice(-1)[0] ?? '');
      }
    }
  }

  // Library entries load no CLI code: importing a plugin must not load vega, resvg, the CLI or spawn anything.
  attempt('library entry points load no CLI, plotting or process-spawning code', () => {
    const names = packages.filter((p) => p.name !== '@adapters/cli').map((p) => p.name);
    return sh('node', ['-e', [
      `const names = ${JSON.stringify(names)};`,
      "for (const n of names) require(n);",
      "const bad = Object.keys(require.cache).filter((f) => /node_modules[\\/](vega|vega-lite|@resvg|@adapters[\\/]cli)[\\/]/.test(f));",
      "if (bad.length > 0) { console.error(bad.slice(0, 5).join('\\n')); process.exit(1); }",
      "console.log(names.length + ' packages loaded; none of vega, resvg or @adapters/cli');",
    ].join('\n')], cjs).trim();
  });

  // ESM consumer: the public entry points import and type-check under NodeNext with a `"type": "module"` package.
  const esm = join(work, 'consumer-esm');
  mkdirSync(esm);
  writeJson(join(esm, 'package.json'), { name: 'consumer-esm', private: true, type: 'module' });
  const entries = packages.flatMap((p) => Object.keys((p.manifest.exports ?? {}) as Record<string, unknown>)
    .filter((k) => k !== './package.json').map((k) => (k === '.' ? p.name : `${p.name}/${k.slice(2)}`)));
  writeFileSync(join(esm, 'check.ts'), [
    ...entries.map((e, i) => `import * as m${i} from '${e}';`),
    `const loaded: Record<string, number> = { ${entries.map((e, i) => `'${e}': Object.keys(m${i}).length`).join(', ')} };`,
    `const { selectBackend, buildEncoder, WeightStore, Executor } = m${entries.indexOf('@adapters/core-graph')};`,
    "await selectBackend({ prefer: 'cpu' });",
    'const g = buildEncoder({ hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, vocabSize: 20, maxPositions: 16 });',
    "const out = new Executor(g, WeightStore.create(g, 0)).run({ input_ids: [[1, 2, 3]] });",
    "console.log(`${Object.keys(loaded).length} entry points; last_hidden_state ${out['last_hidden_state']!.shape.join('x')}`);",
    '',
  ].join('\n'));
  writeJson(join(esm, 'tsconfig.json'), { compilerOptions: { ...CONSUMER_TSCONFIG.compilerOptions, types: ['node'], module: 'nodenext', moduleResolution: 'nodenext' }, include: ['check.ts'] });
  // The ESM project resolves packages from the CommonJS project's node_modules (one install is enough).
  sh('ln', ['-s', join(cjs, 'node_modules'), join(esm, 'node_modules')], esm);
  if (attempt('type-check the ESM consumer (NodeNext, skipLibCheck: false)', () => typeCheck(tsc, esm))) {
    attempt('run the ESM consumer', () => sh('node', [join('dist', 'check.js')], esm).trim());
  }
  finish(work, keep);
}

/** A browser consumer of core-graph + adapter-bottleneck, as a user would write it. */
const BROWSER_CONSUMER = `
import { adapter, applyPlacements, buildEncoder, bytesSource, createRegistry, encodeSafetensors, readSafetensorsFrom } from '@adapters/core-graph';
import { plugins } from '@adapters/adapter-bottleneck';

const base = buildEncoder({ hiddenSize: 32, numLayers: 2, numHeads: 2, intermediateSize: 64, vocabSize: 50, maxPositions: 16 });
const { graph, report } = applyPlacements(base, [{ adapter: adapter('bottleneck', 'task', { config: 'seq_bn' }) }], createRegistry(plugins));
// Weights from bytes (what a page gets from fetch): no fs in the bundle.
const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2], values: new Float32Array([1.5, -2]) } });
readSafetensorsFrom(bytesSource({ 'adapter.safetensors': bytes }), 'adapter.safetensors').then(({ tensors }) => {
  const w = tensors.get('w');
  if (!w || w.values[1] !== -2) throw new Error('safetensors from bytes: wrong values');
  console.log(\`\${report.length} splices, \${graph.params.size} parameters; safetensors from bytes ok\`);
});
`;

/**
 * Bundles the browser consumer with esbuild (platform browser: every Node builtin is an unresolvable import, so one
 * left in the entry fails the build), then runs the bundle's backend-free part in a fresh V8 context that has only
 * browser globals: no process, require, fs or __dirname (tfjs would take Node's code paths if it saw `process`).
 */
function browserBundle(project: string, work: string): void {
  const entry = join(project, 'browser-consumer.mjs');
  const bundle = join(work, 'browser-bundle.js');
  writeFileSync(entry, BROWSER_CONSUMER);
  const bundled = attempt('bundle core-graph + adapter-bottleneck for the browser (esbuild, platform browser)', () => {
    const result = buildSync({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'iife', outfile: bundle, logLevel: 'silent', absWorkingDir: project });
    if (result.errors.length > 0) throw new Error(result.errors.map((e) => e.text).join('\n'));
    return `${(statSync(bundle).size / 1e6).toFixed(1)} MB bundle, no Node builtins`;
  });
  if (bundled) {
    attempt('run the browser bundle (graph + placements) in a context with browser globals only', () =>
      sh('node', ['-e', [
        "const vm = require('vm');",
        `const code = require('fs').readFileSync(${JSON.stringify(bundle)}, 'utf8');`,
        'const g = { console, TextEncoder, TextDecoder, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, performance, URL };',
        'g.window = g; g.self = g; g.globalThis = g;',
        "vm.runInNewContext(code, g, { filename: 'browser-bundle.js' });",
      ].join('\n')], work).trim());
  }
}

function finish(work: string, keep: boolean): void {
  const failed = steps.filter((s) => !s.ok);
  console.log(`pack-check: ${steps.length - failed.length} passed, ${failed.length} failed`);
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
  if (failed.length > 0) process.exitCode = 1;
}

if (require.main === module) main();

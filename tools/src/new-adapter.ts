// new-adapter NAME: scaffolds packages/adapter-NAME with the conventions of the existing adapter packages
// and registers it in tsconfig.base.json `paths` (npm workspaces pick up packages/* by themselves; Nx
// infers the build/typecheck/lint/test targets from the package.json scripts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ts } from 'ts-morph';
import { toPosix } from './workspace';

export interface NewAdapterOptions {
  /** Repository root (where packages/ and tsconfig.base.json live). */
  readonly root: string;
  /** Plugin name: lower-case words joined by `-`, e.g. `lora` or `prefix-tuning`. */
  readonly name: string;
  readonly description?: string;
}

export interface NewAdapterResult {
  readonly packageName: string;
  readonly packageDir: string;
  /** Repository-relative paths. */
  readonly created: readonly string[];
  readonly updated: readonly string[];
}

const NAME_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export const camelCase = (name: string): string => name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
export const pascalCase = (name: string): string => {
  const c = camelCase(name);
  return c.charAt(0).toUpperCase() + c.slice(1);
};
const constCase = (name: string): string => name.toUpperCase().replace(/-/g, '_');

/** The files of a new adapter package, relative to its directory. */
export function adapterTemplate(name: string, description: string, coreVersion: string): Record<string, string> {
  const pkg = `@adapters/adapter-${name}`;
  const plugin = `${camelCase(name)}Adapter`;
  const Config = `${pascalCase(name)}Config`;
  const DEFAULTS = `${constCase(name)}_DEFAULTS`;
  const SCHEMA = `${constCase(name)}_SCHEMA`;
  const width = `${camelCase(name)}Width`;
  const manifest = {
    name: pkg,
    version: '0.1.0',
    description,
    license: 'Apache-2.0',
    type: 'commonjs',
    engines: { node: '>=20' },
    sideEffects: false,
    main: 'dist/index.js',
    types: 'dist/index.d.ts',
    exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './package.json': './package.json' },
    files: ['dist', 'README.md', 'LICENSE'],
    scripts: { build: 'tsc -p tsconfig.build.json', typecheck: 'tsc -p tsconfig.json --noEmit', lint: 'eslint src', test: 'jest' },
    dependencies: { '@adapters/core-graph': coreVersion },
    devDependencies: { '@adapters/adapter-tester': coreVersion },
    peerDependencies: { '@tensorflow/tfjs': '^4.22.0' },
  };
  return {
    'package.json': `${JSON.stringify(manifest, null, 2)}\n`,
    'tsconfig.json': `{\n  "extends": "../../tsconfig.base.json",\n  "include": ["src/**/*.ts"]\n}\n`,
    'tsconfig.build.json': `{
  "extends": "./tsconfig.json",
  "compilerOptions": {
    "outDir": "dist",
    "rootDir": "src",
    "types": ["node"],
    "paths": {}
  },
  "exclude": ["src/**/*.test.ts", "src/__tests__/**"]
}
`,
    'jest.config.js': `module.exports = { ...require('../../jest.preset.js'), displayName: 'adapter-${name}' };\n`,
    'README.md': `# ${pkg}

${description}

A plugin for [\`@adapters/core-graph\`](../core-graph/README.md). The scaffold is a linear bottleneck
\`h + up(relu(down(h)))\` whose up-projection starts at zero, so a new adapter leaves the model's outputs
unchanged; replace \`build\` in \`src/plugin.ts\` with the real method.

\`\`\`ts
import { applyPlacements, adapter, buildEncoder, createRegistry } from '@adapters/core-graph';
import { plugins } from '${pkg}';

const registry = createRegistry(plugins);
const { graph } = applyPlacements(buildEncoder({ hiddenSize: 32, numLayers: 2, numHeads: 4 }), [{ adapter: adapter('${name}', 'task', { reduction_factor: 8 }) }], registry);
\`\`\`

## Config

| field | type | default | meaning |
| --- | --- | --- | --- |
| \`reduction_factor\` | number > 0 | 4 | bottleneck width = max(1, floor(hidden / reduction_factor)) |
| \`init_zero\` | boolean | true | start the up-projection at zero (identity at init) |

## Tests

\`src/__tests__/suite.test.ts\` runs [\`@adapters/adapter-tester\`](../adapter-tester/README.md)'s conformance suite
(identity init, training isolation, save/load round trip, parameter count, config validation, shapes in every mode).
`,
    'src/index.ts': `// The public API of ${pkg}.
export { ${DEFAULTS}, ${SCHEMA}, ${plugin}, ${width}, plugins } from './plugin';
export type { ${Config} } from './plugin';
`,
    'src/plugin.ts': `// The \`${name}\` adapter plugin. Scaffold: a linear bottleneck y = h + up(relu(down(h))) whose up-projection
// starts at zero, so a freshly added adapter is an exact identity. Replace \`build\` with the real method and
// keep paramCount, isIdentityAtInit and the schema in step with it (the adapter-tester suite checks them).
import type { AnyAdapterPlugin, BuildContext, BuildResult, Init, JsonSchema } from '@adapters/core-graph';
import { countPerSite, defineAdapter } from '@adapters/core-graph';

export interface ${Config} {
  /** Bottleneck width = max(1, floor(hidden / reduction_factor)). */
  readonly reduction_factor: number;
  /** Start the up-projection at zero, so the adapter is an identity at init. */
  readonly init_zero: boolean;
}

export const ${DEFAULTS}: ${Config} = { reduction_factor: 4, init_zero: true };

export const ${SCHEMA}: JsonSchema = {
  type: 'object',
  properties: {
    reduction_factor: { type: 'number', exclusiveMinimum: 0, description: 'hidden size / bottleneck width' },
    init_zero: { type: 'boolean', description: 'zero-initialise the up-projection (identity at init)' },
  },
  additionalProperties: false,
};

/** The bottleneck width at a site of the given hidden width. */
export const ${width} = (config: ${Config}, width: number): number => Math.max(1, Math.floor(width / config.reduction_factor));

const ZEROS: Init = { kind: 'zeros' };
const NORMAL: Init = { kind: 'normal', std: 0.02 };

function build(ctx: BuildContext<${Config}>): BuildResult {
  const { scope, config, width } = ctx;
  const down = scope.dense('down', ctx.input, ${width}(config, width), { init: NORMAL, biasInit: ZEROS });
  const up = scope.dense('up', scope.act('relu', 'act', down), width, { init: config.init_zero ? ZEROS : NORMAL, biasInit: ZEROS });
  // parallel: core-graph adds the branch to the span output itself; the other modes keep their own residual.
  if (ctx.mode === 'parallel') return { output: up, up };
  return { output: scope.add('residual', up, ctx.input), up };
}

export const ${plugin} = defineAdapter<${Config}>({
  name: '${name}',
  description: ${JSON.stringify(description)},
  modes: ['after', 'before', 'parallel', 'wrap'],
  defaults: ${DEFAULTS},
  schema: ${SCHEMA},
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build,
  // One count per site (paramCount's shared count is for model-level parameters; this template has none).
  paramCount: countPerSite((config, { outWidth: d }) => {
    const m = ${width}(config, d);
    return d * m + m + m * d + d;
  }),
  isIdentityAtInit: (config) => config.init_zero,
});

/** Every plugin of this package, for \`createRegistry(plugins)\`. */
export const plugins: readonly AnyAdapterPlugin[] = [${plugin}];
`,
    'src/__tests__/suite.test.ts': `// The adapter-tester conformance suite: identity init, training isolation, save/load, parameter count,
// config validation and shapes in every mode the plugin declares.
import { runAdapterSuite } from '@adapters/adapter-tester';
import { ${plugin} } from '../index';

runAdapterSuite({
  plugin: ${plugin},
  configs: [{}, { reduction_factor: 2, init_zero: false }],
  invalidConfigs: [{ name: 'reduction_factor 0', config: { reduction_factor: 0 }, path: 'reduction_factor' }],
});
`,
  };
}

function readJsonc(file: string): Record<string, unknown> {
  const parsed = ts.parseConfigFileTextToJson(file, readFileSync(file, 'utf8'));
  if (parsed.error) throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(parsed.error.messageText, '\n')}`);
  return parsed.config as Record<string, unknown>;
}

/** Inserts `key` among the package entries of a paths map (before sub-path entries like `x/testing`), keeping the other keys in place. */
function withPath(paths: Readonly<Record<string, readonly string[]>>, key: string, target: string): Record<string, readonly string[]> {
  const keys = Object.keys(paths);
  const isSub = (k: string) => k.split('/').length > 2;
  // After the last package entry that sorts before the key; else before the first sub-path entry; else last.
  const before = keys.map((k, i) => (!isSub(k) && k < key ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  const firstSub = keys.findIndex(isSub);
  const at = before >= 0 ? before + 1 : firstSub >= 0 ? firstSub : keys.length;
  const order = [...keys.slice(0, at), key, ...keys.slice(at)];
  return Object.fromEntries(order.map((k) => [k, k === key ? [target] : (paths[k] as readonly string[])]));
}

/**
 * Adds `paths` entries for the given packages (`@adapters/<dir>` → `packages/<dir>/src/index.ts`) to
 * tsconfig.base.json when they are missing. Returns true when the file changed.
 */
export function registerPaths(root: string, dirs: readonly string[]): boolean {
  const file = join(root, 'tsconfig.base.json');
  const config = readJsonc(file);
  const options = (config['compilerOptions'] ?? {}) as Record<string, unknown>;
  let paths = (options['paths'] ?? {}) as Record<string, readonly string[]>;
  let changed = false;
  for (const dir of dirs) {
    const key = `@adapters/${dir}`;
    if (paths[key]) continue;
    paths = withPath(paths, key, `packages/${dir}/src/index.ts`);
    changed = true;
  }
  if (!changed) return false;
  const next = { ...config, compilerOptions: { ...options, paths } };
  writeFileSync(file, `${JSON.stringify(next, null, 2)}\n`);
  return true;
}

export function newAdapter(options: NewAdapterOptions): NewAdapterResult {
  const { root, name } = options;
  if (!NAME_RE.test(name)) throw new Error(`adapter name '${name}' must be lower-case letters and digits, words joined by '-' (e.g. 'lora', 'prefix-tuning')`);
  const dirName = `adapter-${name}`;
  const packageDir = join(root, 'packages', dirName);
  if (existsSync(packageDir)) throw new Error(`${toPosix(relative(root, packageDir))} already exists`);
  const coreManifest = join(root, 'packages', 'core-graph', 'package.json');
  if (!existsSync(coreManifest)) throw new Error(`${root} does not look like the adapters workspace (no packages/core-graph/package.json)`);
  if (!existsSync(join(root, 'packages', 'adapter-tester', 'package.json'))) throw new Error(`the scaffold's tests need packages/adapter-tester`);
  const coreVersion = (JSON.parse(readFileSync(coreManifest, 'utf8')) as { version: string }).version;
  const description = options.description ?? `The ${name} adapter for @adapters/core-graph`;
  const created: string[] = [];
  for (const [rel, text] of Object.entries(adapterTemplate(name, description, coreVersion))) {
    const file = join(packageDir, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    created.push(toPosix(relative(root, file)));
  }
  // Every package ships the repository's licence (npm packs a LICENSE at the package root).
  const license = join(root, 'LICENSE');
  if (existsSync(license)) {
    writeFileSync(join(packageDir, 'LICENSE'), readFileSync(license));
    created.push(toPosix(relative(root, join(packageDir, 'LICENSE'))));
  }
  const updated = registerPaths(root, [dirName, 'adapter-tester']) ? ['tsconfig.base.json'] : [];
  return { packageName: `@adapters/${dirName}`, packageDir, created, updated };
}

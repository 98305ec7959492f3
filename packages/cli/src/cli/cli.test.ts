// End-to-end tests of the `adapters` command, in-process: a tiny randomly initialised BERT written as a
// Hugging Face model directory, a toy adapter plugin installed as a package, and the real train/eval/predict path.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readMetrics } from '../report/progress';
import { failForwardOnce, writeTinyModelDir } from '@adapters/core-graph/testing';
import { main } from './main';
import { discoverPlugins } from './plugins';

const POSITIVE = ['good', 'great', 'fun', 'lovely', 'superb', 'charming'];
const NEGATIVE = ['bad', 'awful', 'boring', 'dull', 'poor', 'tedious'];
const FILLER = ['the', 'movie', 'film', 'was', 'is', 'a', 'very', 'plot', 'and', 'acting'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...POSITIVE, ...NEGATIVE, ...FILLER];

/** Writes config.json, model.safetensors and vocab.txt (so loadTokenizer uses the WordPiece fallback). */
function writeTinyModel(dir: string): void {
  writeTinyModelDir(dir, VOCAB);
}

/** Label = whether the sentence has a positive word; deterministic. */
function writeData(file: string, count: number, offset: number): void {
  const rows = ['sentence\tlabel'];
  for (let i = 0; i < count; i++) {
    const positive = (i + offset) % 2 === 0;
    const words = positive ? POSITIVE : NEGATIVE;
    rows.push(`${FILLER[(i * 3 + offset) % FILLER.length]} ${FILLER[(i + 1) % FILLER.length]} ${words[(i + offset) % words.length]}\t${positive ? 'pos' : 'neg'}`);
  }
  writeFileSync(file, `${rows.join('\n')}\n`);
}

/** A plain-JS adapter plugin package (node_modules/@adapters/adapter-toyjs): a linear bottleneck with a preset `toy_bn`. */
const TOY_PLUGIN_JS = `
const plugin = {
  name: 'toyjs',
  description: 'toy bottleneck for CLI tests',
  modes: ['wrap', 'after'],
  presets: ['toy_bn'],
  defaults: { size: 4 },
  schema: { type: 'object', properties: { config: { type: 'string', enum: ['toy_bn'] }, size: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  resolve(input) { const { config, ...rest } = input; return { size: 4, ...rest }; },
  defaultPlacement: () => ({ select: { kinds: ['ffn'] }, mode: 'wrap' }),
  build(ctx) {
    const down = ctx.scope.dense('down', ctx.input, ctx.config.size);
    const up = ctx.scope.dense('up', ctx.scope.act('relu', 'act', down), ctx.width, { init: { kind: 'zeros' }, biasInit: { kind: 'zeros' } });
    return { output: ctx.scope.add('residual', up, ctx.input), up };
  },
};
// A plugin package may add subcommands: \`adapters toy-recipe --steps N\`.
const command = {
  spec: { name: 'toy-recipe', brief: 'a recipe from a plugin package', summary: 'Prints its steps.', usage: '--steps N', options: [{ name: 'steps', type: 'int', min: 1, metavar: 'N', help: 'steps' }] },
  run(args, ctx) {
    if (args.number('steps') === undefined) throw new Error('toy-recipe needs --steps');
    ctx.stdout.write('recipe ran ' + args.number('steps') + ' steps\\n');
  },
};
module.exports = { plugins: [plugin], commands: [command] };
`;

/** Installs a package under root/node_modules and declares it in root/package.json (plugins load only when declared). */
function installPackage(root: string, name: string, files: Record<string, string>, declare = true): string {
  if (declare) {
    const manifest = path.join(root, 'package.json');
    const pkg = (existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')) : { name: 'project', private: true }) as { dependencies?: Record<string, string> };
    pkg.dependencies = { ...pkg.dependencies, [`@adapters/${name}`]: '*' };
    writeFileSync(manifest, JSON.stringify(pkg));
  }
  const dir = path.join(root, 'node_modules', '@adapters', name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

function streams(cwd: string, searchRoot: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    ctx: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s), isTTY: false }, cwd, env: {}, pluginSearchPaths: [searchRoot] },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describe('adapters CLI', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'adapters-cli-'));
    writeTinyModel(path.join(tmp, 'tiny-bert'));
    writeData(path.join(tmp, 'train.tsv'), 48, 0);
    writeData(path.join(tmp, 'dev.tsv'), 16, 1);
    installPackage(tmp, 'adapter-toyjs', { 'package.json': JSON.stringify({ name: '@adapters/adapter-toyjs', version: '1.2.3', main: 'index.js' }), 'index.js': TOY_PLUGIN_JS });
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('plugin packages add subcommands: dispatched, listed in help and list, with one-line errors', async () => {
    const ok = streams(tmp, tmp);
    expect(await main(['toy-recipe', '--steps', '3'], ok.ctx)).toBe(0);
    expect(ok.out()).toBe('recipe ran 3 steps\n');
    const help = streams(tmp, tmp);
    expect(await main(['--help'], help.ctx)).toBe(0);
    expect(help.out()).toMatch(/commands from installed plugin packages:\n {2}toy-recipe +a recipe from a plugin package/);
    const list = streams(tmp, tmp);
    expect(await main(['list'], list.ctx)).toBe(0);
    expect(list.out()).toContain('  command: adapters toy-recipe — a recipe from a plugin package');
    const bad = streams(tmp, tmp);
    expect(await main(['toy-recipe', '--steps', 'x'], bad.ctx)).toBe(2);
    expect(bad.err().trim().split('\n')).toHaveLength(1);
    const failing = streams(tmp, tmp);
    expect(await main(['toy-recipe'], failing.ctx)).toBe(1);
    expect(failing.err()).toContain('adapters: error: toy-recipe needs --steps');
  });

  test('list shows installed plugin packages with presets and modes; broken and plugin-less packages are reported, not fatal', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'adapters-list-'));
    try {
      installPackage(root, 'adapter-toyjs', { 'package.json': JSON.stringify({ name: '@adapters/adapter-toyjs', version: '1.2.3', main: 'index.js' }), 'index.js': TOY_PLUGIN_JS });
      installPackage(root, 'adapter-unbuilt', { 'package.json': JSON.stringify({ name: '@adapters/adapter-unbuilt', version: '0.1.0', main: 'dist/index.js' }) });
      installPackage(root, 'adapter-harness', { 'package.json': JSON.stringify({ name: '@adapters/adapter-harness', main: 'index.js' }), 'index.js': 'module.exports = { check() {} };' });
      installPackage(root, 'not-an-adapter', { 'package.json': JSON.stringify({ name: '@adapters/not-an-adapter', main: 'index.js' }), 'index.js': 'throw new Error("must not be loaded")' });
      installPackage(root, 'adapter-undeclared', { 'package.json': JSON.stringify({ name: '@adapters/adapter-undeclared', main: 'index.js' }), 'index.js': 'throw new Error("must not be loaded")' }, false);
      const nested = path.join(root, 'project', 'sub');
      mkdirSync(nested, { recursive: true });
      const s = streams(nested, nested);
      expect(await main(['list'], s.ctx)).toBe(0);
      const text = s.out();
      expect(text).toContain('@adapters/adapter-toyjs@1.2.3');
      expect(text).toContain('  toyjs: toy bottleneck for CLI tests\n    presets: toy_bn\n    modes:   wrap, after\n');
      expect(text).toMatch(/@adapters\/adapter-unbuilt@0\.1\.0 .*\n {2}unusable: no entry point \(dist\/index\.js is missing\): build it with 'npm run build'/);
      expect(text).toContain('@adapters/adapter-harness');
      expect(text).toContain('(exports no adapter plugins)');
      expect(text).not.toContain('not-an-adapter');
      expect(text).not.toContain('adapter-undeclared');
      // A package reachable from two search paths is listed once.
      expect(discoverPlugins([nested, root]).filter((p) => p.name === '@adapters/adapter-toyjs')).toHaveLength(1);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a plugin package\'s commands come from the CLI entry its package.json declares; its library entry loads no CLI code', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'adapters-cli-entry-'));
    try {
      const marker = path.join(root, 'cli-loaded');
      const library = TOY_PLUGIN_JS.replace('module.exports = { plugins: [plugin], commands: [command] };', 'module.exports = { plugins: [plugin] };').replace(/const command = [\s\S]*?\n};\n/, '');
      const cliEntry = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n${TOY_PLUGIN_JS.replace('module.exports = { plugins: [plugin], commands: [command] };', 'module.exports = { commands: [command] };')}`;
      const manifest = { name: '@adapters/adapter-split', version: '0.0.1', main: 'dist/index.js', adapters: { cli: './dist/cli.js' } };
      const dir = installPackage(root, 'adapter-split', { 'package.json': JSON.stringify(manifest), 'dist/index.js': library, 'dist/cli.js': cliEntry });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect((require(path.join(dir, 'dist', 'index.js')) as { plugins: unknown[] }).plugins).toHaveLength(1);
      expect(existsSync(marker)).toBe(false);
      const ok = streams(root, root);
      expect(await main(['toy-recipe', '--steps', '2'], ok.ctx)).toBe(0);
      expect(ok.out()).toBe('recipe ran 2 steps\n');
      expect(existsSync(marker)).toBe(true);

      // A declared entry outside the package, or missing, makes the package unusable with a reason, never loaded.
      for (const [cli, reason] of [['../../../outside.js', /outside the package/], ['./dist/missing.js', /is missing/]] as const) {
        writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...manifest, adapters: { cli } }));
        const [pkg] = discoverPlugins([root]);
        expect(pkg?.error).toMatch(reason);
        expect(pkg?.commands).toEqual([]);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('any declared package with a CLI entry adds commands; declared packages without one are never loaded', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'adapters-cli-any-'));
    try {
      const marker = path.join(root, 'loaded');
      const evil = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); module.exports = {};`;
      const cliEntry = TOY_PLUGIN_JS.replace('module.exports = { plugins: [plugin], commands: [command] };', 'module.exports = { commands: [command] };');
      const manifest = path.join(root, 'package.json');
      writeFileSync(manifest, JSON.stringify({ name: 'project', private: true, dependencies: { '@acme/serve-like': '*', 'left-pad-like': '*' } }));
      for (const [name, files] of [
        ['@acme/serve-like', { 'package.json': JSON.stringify({ name: '@acme/serve-like', main: 'index.js', adapters: { cli: './cli.js' } }), 'index.js': 'module.exports = {};', 'cli.js': cliEntry }],
        ['left-pad-like', { 'package.json': JSON.stringify({ name: 'left-pad-like', main: 'index.js' }), 'index.js': evil }],
      ] as const) {
        const dir = path.join(root, 'node_modules', name);
        mkdirSync(dir, { recursive: true });
        for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
      }
      const ok = streams(root, root);
      expect(await main(['toy-recipe', '--steps', '1'], ok.ctx)).toBe(0);
      expect(ok.out()).toBe('recipe ran 1 steps\n');
      expect(discoverPlugins([root]).map((p) => p.name)).toEqual(['@acme/serve-like']);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("a CLI entry's runExtrasCommands make eval --run name the plugin command for a run it cannot rebuild", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'adapters-cli-extras-'));
    try {
      const cliEntry = `module.exports = { commands: [], runExtrasCommands: { toyrun: 'adapters toy-eval --run DIR --data FILE' } };`;
      const manifest = { name: '@adapters/adapter-toyrun', version: '1.0.0', main: 'index.js', adapters: { cli: './cli.js' } };
      installPackage(root, 'adapter-toyrun', { 'package.json': JSON.stringify(manifest), 'index.js': 'module.exports = { plugins: [], runExtras: { other: async (c) => c.graph } };', 'cli.js': cliEntry });
      const [pkg] = discoverPlugins([root]);
      // Handlers of the main entry and commands of the CLI entry, both kept.
      expect({ extras: Object.keys(pkg?.runExtras ?? {}), commands: pkg?.runExtrasCommands }).toEqual({ extras: ['other'], commands: { toyrun: 'adapters toy-eval --run DIR --data FILE' } });
      const run = path.join(root, 'run');
      mkdirSync(run);
      writeFileSync(path.join(run, 'run.json'), JSON.stringify({ format: 'adapters-ts.run/1', model: 'nowhere', adapters: [], heads: [], maxLength: 8, columns: {}, extras: { toyrun: {} } }));
      const bad = streams(root, root);
      expect(await main(['eval', '--run', 'run', '--data', 'x.tsv'], bad.ctx)).toBe(2);
      expect(bad.err()).toMatch(/run\/run\.json: extras\.toyrun: this run is not one adapter \+ classification head that 'eval' can rebuild; use adapters toy-eval --run run --data FILE/);
      const load = (file: string): unknown => (file.endsWith('cli.js') ? { commands: [], runExtrasCommands: { toyrun: 42 } } : { plugins: [] });
      expect(discoverPlugins([root], load)[0]?.error).toMatch(/'runExtrasCommands' export must map extras keys to command lines/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('in this monorepo, discovery finds the CLI entries of @adapters/serve and @adapters/adapter-pals', () => {
    const packages = discoverPlugins([path.resolve(__dirname, '..', '..')]);
    const commandsOf = (name: string) => packages.find((p) => p.name === name)?.commands.map((c) => c.spec.name);
    expect({ serve: commandsOf('@adapters/serve'), pals: commandsOf('@adapters/adapter-pals') }).toEqual({ serve: ['serve'], pals: ['pals-train', 'pals-eval'] });
    expect(packages.find((p) => p.name === '@adapters/adapter-pals')?.runExtrasCommands).toHaveProperty('pals');
  }, 60_000);

  test('fetch-model prints the cached folder of a known model (no download when cached) and refuses unknown names', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'adapters-fetch-'));
    const saved = process.env['ADAPTERS_CACHE'];
    process.env['ADAPTERS_CACHE'] = cache;
    try {
      const target = path.join(cache, 'models', 'all-MiniLM-L6-v2');
      writeTinyModel(target);
      const ok = streams(cache, cache);
      expect(await main(['fetch-model', '--model', 'minilm'], ok.ctx)).toBe(0);
      expect(ok.out()).toBe(`${target}\n`);
      const bad = streams(cache, cache);
      expect(await main(['fetch-model', '--model', 'no-such-model'], bad.ctx)).toBe(2);
      expect(bad.err()).toMatch(/^adapters: error: --model 'no-such-model' is neither a directory nor a known model \(known: all-MiniLM-L6-v2, multilingual-e5-small, minilm, me5\)/);
    } finally {
      if (saved === undefined) delete process.env['ADAPTERS_CACHE'];
      else process.env['ADAPTERS_CACHE'] = saved;
      rmSync(cache, { recursive: true, force: true });
    }
  });

  test('list with no plugin packages says how to install one', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'adapters-empty-'));
    try {
      const s = streams(empty, empty);
      expect(await main(['list'], s.ctx)).toBe(0);
      expect(s.out()).toMatch(/^no adapter plugins installed .*npm install @adapters\/adapter-bottleneck\n$/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('undeclared plugin folders in the working directory or any parent are never loaded, --help included (issue 18 item 8)', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'adapters-undeclared-'));
    try {
      const marker = path.join(root, 'loaded');
      const evil = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); module.exports = { plugins: [] };`;
      installPackage(root, 'adapter-evil', { 'package.json': JSON.stringify({ name: '@adapters/adapter-evil', main: 'index.js' }), 'index.js': evil }, false);
      const project = path.join(root, 'work', 'project');
      mkdirSync(project, { recursive: true });
      installPackage(project, 'adapter-toyjs', { 'package.json': JSON.stringify({ name: '@adapters/adapter-toyjs', version: '1.2.3', main: 'index.js' }), 'index.js': TOY_PLUGIN_JS });
      installPackage(project, 'adapter-nearby', { 'package.json': JSON.stringify({ name: '@adapters/adapter-nearby', main: 'index.js' }), 'index.js': evil }, false);
      const sub = path.join(project, 'sub');
      mkdirSync(sub, { recursive: true });
      for (const argv of [['--help'], ['train', '--help'], ['list']]) {
        const s = streams(sub, sub);
        expect(await main(argv, s.ctx)).toBe(0);
        expect({ argv, loaded: existsSync(marker) }).toEqual({ argv, loaded: false });
      }
      expect(discoverPlugins([sub, path.join(root, 'work')]).map((p) => p.name)).toEqual(['@adapters/adapter-toyjs']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('train writes metrics.jsonl, curves, the adapter with its head, run.json and summary.json; eval, predict and inspect use them', async () => {
    const out = path.join(tmp, 'run');
    const s = streams(tmp, tmp);
    const code = await main(
      ['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--eval', 'dev.tsv', '--adapter', 'toy_bn:size=3', '--name', 'senti', '--epochs', '2', '--batch-size', '8', '--lr', '0.01', '--max-length', '16', '--eval-every', '4', '--seed', '3', '--out', 'run'],
      s.ctx,
    );
    expect({ code, err: code === 0 ? '' : s.err() }).toEqual({ code: 0, err: '' });
    expect(s.err().split('\n')[0]).toMatch(/^backend: /);
    for (const f of ['metrics.jsonl', 'curves.svg', 'curves.png', 'run.json', 'summary.json', 'adapter/adapter_config.json', 'adapter/adapter.safetensors', 'adapter/head_config.json', 'adapter/model_head.safetensors']) {
      expect({ f, exists: existsSync(path.join(out, f)) }).toEqual({ f, exists: true });
    }
    const records = readMetrics(path.join(out, 'metrics.jsonl'));
    const steps = records.filter((r) => r['type'] === 'step');
    expect(steps.map((r) => r['step'])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(steps.every((r) => typeof r['loss'] === 'number' && Number.isFinite(r['loss']))).toBe(true);
    expect(records.filter((r) => r['type'] === 'eval').map((r) => r['step'])).toEqual([4, 8, 12]);
    expect(records.filter((r) => r['type'] === 'final')).toHaveLength(1);
    expect(readFileSync(path.join(out, 'curves.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(path.join(out, 'curves.svg'), 'utf8')).toContain('<path');

    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
    expect(summary).toMatchObject({ adapter: 'senti', plugin: 'toyjs', adapterSpec: 'toy_bn:size=3', config: { size: 3 }, trainExamples: 48, evalExamples: 16, steps: 12, sites: 2, fullFinetune: false });
    // toy adapter at 2 ffn sites of width 16: (16*3 + 3 + 3*16 + 16) * 2
    expect(summary['adapterParams']).toBe(230);
    expect(summary['trainableParams']).toBeGreaterThan(230);
    expect(summary['trainablePercentOfBase']).toBeGreaterThan(0);
    expect(typeof summary['accuracy']).toBe('number');
    expect(typeof summary['seconds']).toBe('number');
    expect(typeof summary['backend']).toBe('string');
    expect(existsSync(path.join(out, 'labels.json'))).toBe(false);
    const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(run).toMatchObject({
      adapters: [{ name: 'senti', dir: 'adapter', placement: { sites: ['layer.0.ffn', 'layer.1.ffn'], mode: 'wrap' } }], heads: [{ name: 'senti', dir: 'adapter', labels: ['neg', 'pos'] }], maxLength: 16,
    });
    expect(s.out()).toMatch(/^accuracy: \d\.\d{4} {2}F1: \d\.\d{4} {2}\(16 eval examples; majority-class baseline 0\.5000\)\ntrainable parameters: .*\(\d+\.\d+% of base [\d,]+\); adapter alone: 230 .*\nwall time: .*\nsaved: run\/adapter/);
    const accuracy = summary['accuracy'] as number;

    // eval reproduces the final accuracy from the saved files (the model name comes from run.json), by adapter or run.
    const e = streams(tmp, tmp);
    expect(await main(['eval', '--adapter-dir', 'run', '--data', 'dev.tsv'], e.ctx)).toBe(0);
    expect(e.out()).toContain(`accuracy: ${accuracy.toFixed(4)}`);
    const r = streams(tmp, tmp);
    expect(await main(['eval', '--run', 'run', '--data', 'dev.tsv'], r.ctx)).toBe(0);
    expect(r.out()).toContain(`accuracy: ${accuracy.toFixed(4)}`);
    const rp = streams(tmp, tmp);
    expect(await main(['predict', '--run', 'run', '--text', 'a great film'], rp.ctx)).toBe(0);
    expect(rp.out().trim()).toMatch(/^(pos|neg)\t(0\.[5-9]\d{3}|1\.0000)\ta great film$/);

    const p = streams(tmp, tmp);
    expect(await main(['predict', '--adapter-dir', 'run/adapter', '--model', 'tiny-bert', '--text', 'a great film', '--text', 'the plot was dull'], p.ctx)).toBe(0);
    const lines = p.out().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^(pos|neg)\t(0\.[5-9]\d{3}|1\.0000)\ta great film$/);
    const j = streams(tmp, tmp);
    expect(await main(['predict', '--adapter-dir', 'run', '--data', 'dev.tsv', '--json'], j.ctx)).toBe(0);
    const preds = j.out().trim().split('\n').map((l) => JSON.parse(l) as { label: string; probabilities: Record<string, number> });
    expect(preds).toHaveLength(16);
    expect(preds.every((x) => Math.abs((x.probabilities['neg'] ?? 0) + (x.probabilities['pos'] ?? 0) - 1) < 1e-5)).toBe(true);

    const i = streams(tmp, tmp);
    expect(await main(['inspect', '--adapter-dir', 'run'], i.ctx)).toBe(0);
    expect(i.out()).toMatch(/adapters:\n {2}layer\.0\.ffn: wrap senti\n {2}layer\.1\.ffn: wrap senti/);
    expect(i.out()).toContain('adapter:senti');
    expect(i.out()).toContain('% of base');
  });

  test('train with a placement file puts the adapter only where the rules say', async () => {
    writeFileSync(path.join(tmp, 'top.json'), JSON.stringify([{ select: { kinds: ['ffn'], layers: [1] }, mode: 'wrap' }]));
    const s = streams(tmp, tmp);
    const code = await main(['train', '--model', path.join(tmp, 'tiny-bert'), '--data', 'train.tsv', '--adapter', 'toyjs', '--placement', 'top.json', '--max-steps', '2', '--batch-size', '8', '--out', 'run-top'], s.ctx);
    expect({ code, err: code === 0 ? '' : s.err() }).toEqual({ code: 0, err: '' });
    const run = JSON.parse(readFileSync(path.join(tmp, 'run-top', 'run.json'), 'utf8')) as { adapters: Array<{ placement: unknown }> };
    expect(run.adapters[0]?.placement).toEqual({ sites: ['layer.1.ffn'], mode: 'wrap' });
    expect(s.out()).toContain('accuracy: n/a');
    const summary = JSON.parse(readFileSync(path.join(tmp, 'run-top', 'summary.json'), 'utf8')) as Record<string, unknown>;
    expect(summary).toMatchObject({ steps: 2, sites: 1, adapterParams: 16 * 4 + 4 + 4 * 16 + 16, accuracy: null });
  });

  test('a step that runs out of wasm heap: train goes on checkpointed and says so in one line', async () => {
    const s = streams(tmp, tmp);
    const undo = failForwardOnce(2);
    let code;
    try {
      code = await main(['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--adapter', 'toyjs', '--max-steps', '3', '--batch-size', '8', '--out', 'run-heap'], s.ctx);
    } finally {
      undo();
    }
    expect({ code, err: code === 0 ? '' : s.err() }).toEqual({ code: 0, err: '' });
    expect(s.err().split('\n').filter((l) => l.includes('wasm heap'))).toEqual(['step 2 ran out of wasm heap: it and the rest of the run used gradient checkpointing (one more forward per layer, far less activation memory)']);
  });

  test('--gradient-checkpointing on checkpoints every step from the start; off lets the heap error end the run', async () => {
    // Every plain (non-checkpointed) training forward runs out of heap.
    const undo = failForwardOnce(Infinity);
    try {
      const on = streams(tmp, tmp);
      const onCode = await main(['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--adapter', 'toyjs', '--max-steps', '3', '--batch-size', '8', '--gradient-checkpointing', 'on', '--out', 'run-ckpt-on'], on.ctx);
      expect({ code: onCode, err: onCode === 0 ? '' : on.err() }).toEqual({ code: 0, err: '' });
      expect(on.err()).not.toContain('wasm heap');
      const summary = JSON.parse(readFileSync(path.join(tmp, 'run-ckpt-on', 'summary.json'), 'utf8')) as Record<string, unknown>;
      expect(summary['steps']).toBe(3);
      const off = streams(tmp, tmp);
      expect(await main(['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--adapter', 'toyjs', '--max-steps', '3', '--batch-size', '8', '--gradient-checkpointing', 'off', '--out', 'run-ckpt-off'], off.ctx)).not.toBe(0);
      expect(off.err()).toMatch(/wasm heap/);
      expect(existsSync(path.join(tmp, 'run-ckpt-off', 'summary.json'))).toBe(false);
    } finally {
      undo();
    }
  });

  test('--full-finetune also saves the changed base model, and eval with it reproduces the final accuracy', async () => {
    const s = streams(tmp, tmp);
    const code = await main(['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--eval', 'dev.tsv', '--adapter', 'toy_bn', '--full-finetune', '--lr', '0.01', '--max-steps', '3', '--batch-size', '8', '--out', 'run-full'], s.ctx);
    expect({ code, err: code === 0 ? '' : s.err() }).toEqual({ code: 0, err: '' });
    const summary = JSON.parse(readFileSync(path.join(tmp, 'run-full', 'summary.json'), 'utf8')) as Record<string, number | boolean>;
    expect(summary['fullFinetune']).toBe(true);
    expect(summary['trainablePercentOfBase']).toBeGreaterThan(100);
    for (const f of ['config.json', 'vocab.txt', 'model.safetensors']) expect(existsSync(path.join(tmp, 'run-full', 'model', f))).toBe(true);
    const e = streams(tmp, tmp);
    expect(await main(['eval', '--model', 'run-full/model', '--adapter-dir', 'run-full', '--data', 'dev.tsv'], e.ctx)).toBe(0);
    expect(e.out()).toContain(`accuracy: ${(summary['accuracy'] as number).toFixed(4)}`);
  });

  test.each([
    [['--adapter', 'nope_bn'], 2, /^adapters: error: no installed adapter plugin provides 'nope_bn' \(installed: toyjs \(toy_bn\)\); install one, e\.g\. npm install @adapters\/adapter-bottleneck \(see 'adapters train --help'\)$/],
    [['--adapter', 'toy_bn:size=0'], 2, /^adapters: error: --adapter toy_bn:size=0: config\.size: .*\(see 'adapters train --help'\)$/],
    [['--adapter', 'toy_bn', '--placement', 'bad.json'], 2, /^adapters: error: --placement .*bad\.json: rules\[0\]\.select\.kind is not a selector field \(fields: names, suffix, glob, regex, kinds, layers, exclude\) \(see 'adapters train --help'\)$/],
    [['--adapter', 'toy_bn', '--placement', 'none.json'], 2, /^adapters: error: --placement .*none\.json: .*matches no site.*$/],
    [['--adapter', 'toy_bn', '--gradient-checkpointing', 'maybe'], 2, /^adapters: error: --gradient-checkpointing must be auto, on or off, got 'maybe' \(see 'adapters train --help'\)$/],
    [['--adapter', 'toy_bn', '--text-column', 'review'], 2, /^adapters: error: .*train\.tsv: no column 'review' \(columns: 'sentence', 'label'\) \(see 'adapters train --help'\)$/],
  ])('train usage error %j → exit %d, one line', async (extra, exit, pattern) => {
    writeFileSync(path.join(tmp, 'bad.json'), JSON.stringify([{ select: { kind: ['ffn'] } }]));
    writeFileSync(path.join(tmp, 'none.json'), JSON.stringify([{ select: { layers: [7] }, mode: 'wrap' }]));
    const s = streams(tmp, tmp);
    expect(await main(['train', '--model', 'tiny-bert', '--data', 'train.tsv', '--out', 'run-bad', '--max-steps', '1', ...extra], s.ctx)).toBe(exit);
    const lines = s.err().trim().split('\n').filter((l) => !/^(backend|native kernels off|model|data|adapter|trainable|training)[: (]/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });
});

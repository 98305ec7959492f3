// node build.mjs setup [--tiny] [--steps N] [--out DIR]   model + adapters + train.json into DIR (default dist/)
// node build.mjs bundle [--out DIR]                       page.js, worker.js, index.html, tfjs wasm binaries into DIR
// node build.mjs serve [--out DIR] [--port 8080]          a static server for DIR
// node build.mjs node-predict --out DIR --texts JSON     Node's class probabilities per adapter (the browser test's reference)
// Bundles with esbuild straight from the packages' sources (the `browser` entry of core-graph for the page), so no
// package build is needed first. Nothing under dist/ is committed.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const args = process.argv.slice(3);
const flag = (name, fallback) => { const i = args.indexOf(name); return i < 0 ? fallback : args[i + 1]; };
const out = resolve(flag('--out', join(here, 'dist')));
const pkg = (name, entry) => join(repo, 'packages', name, 'src', entry);

async function bundle() {
  mkdirSync(out, { recursive: true });
  const alias = { '@adapters/core-graph': pkg('core-graph', 'browser.ts'), '@adapters/adapter-bottleneck': pkg('adapter-bottleneck', 'index.ts') };
  await build({
    entryPoints: { page: join(here, 'src', 'page.ts'), worker: join(here, 'src', 'worker.ts') },
    bundle: true, platform: 'browser', format: 'iife', target: 'es2022', outdir: out, alias, minify: true, sourcemap: true, logLevel: 'warning',
    absWorkingDir: repo,
  });
  copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
  const wasmDir = join(repo, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join(out, f));
  console.log(`bundled into ${out}`);
}

/** Bundles scripts/NAME.ts for Node (the packages' Node entries, from source) and runs it with this command's flags. */
async function runNodeScript(name) {
  const script = join(out, `.${name}.cjs`);
  mkdirSync(out, { recursive: true });
  const alias = {
    '@adapters/core-graph/testing': pkg('core-graph', join('testing', 'index.ts')),
    '@adapters/core-graph': pkg('core-graph', 'index.ts'),
    '@adapters/adapter-bottleneck': pkg('adapter-bottleneck', 'index.ts'),
  };
  await build({
    entryPoints: [join(here, 'scripts', `${name}.ts`)], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: script, alias,
    external: ['@tensorflow/*', '@huggingface/*', '@adapters/backend-native', 'fast-check'], logLevel: 'warning', absWorkingDir: repo,
    define: { __dirname: JSON.stringify(join(here, 'scripts')) },
  });
  try {
    execFileSync(process.execPath, [script, ...args], { stdio: 'inherit', cwd: repo, env: { ...process.env, NODE_PATH: join(repo, 'node_modules') } });
  } finally {
    rmSync(script, { force: true });
  }
}

const command = process.argv[2];
if (command === 'setup' || command === 'node-predict') await runNodeScript(command);
else if (command === 'bundle') await bundle();
else if (command === 'serve') {
  const { url } = await serve(out, Number(flag('--port', '8080')));
  console.log(`serving ${out} at ${url}`);
} else {
  console.error('usage: node build.mjs setup|bundle|serve [--out DIR] (setup: [--tiny] [--steps N]; serve: [--port N])');
  process.exit(2);
}

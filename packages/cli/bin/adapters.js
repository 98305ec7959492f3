#!/usr/bin/env node
// The `adapters` command. Runs the compiled CLI (dist/) when the package is built; in a fresh clone
// without a build it compiles the TypeScript sources on the fly (bin/transpile.js, cached on disk), and maps
// `@adapters/*` packages that are not built to their src/index.ts so plugins load from source too.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'dist', 'cli', 'main.js');

function fromSource() {
  try {
    require.resolve('typescript');
  } catch {
    process.stderr.write("adapters: error: the CLI is not built and TypeScript is not installed; run 'npm install' then 'npm run build' in the repository\n");
    process.exit(1);
  }
  // Transpiles the sources (no type check), cached on disk: only changed files are compiled again.
  require('./transpile').registerTypeScript({ compilerOptions: { target: 'ES2022', esModuleInterop: true, isolatedModules: true } });
  // `@adapters/<pkg>` resolves to dist/ through the package's exports; without a build, use its sources.
  const Module = require('module');
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, ...rest) {
    try {
      return resolve.call(this, request, parent, ...rest);
    } catch (e) {
      const m = /^@adapters\/([a-z0-9-]+)(\/testing|\/cli|\/recipes)?$/.exec(request);
      if (!m) throw e;
      let pkgJson;
      try {
        pkgJson = resolve.call(this, `@adapters/${m[1]}/package.json`, parent, ...rest);
      } catch {
        const sibling = path.join(root, '..', m[1], 'package.json'); // workspace layout
        if (!fs.existsSync(sibling)) throw e;
        pkgJson = sibling;
      }
      const source = path.join(path.dirname(pkgJson), 'src', ...(m[2] === '/testing' ? ['testing', 'index.ts'] : m[2] === '/cli' ? ['cli.ts'] : m[2] === '/recipes' ? ['recipes.ts'] : ['index.ts']));
      if (fs.existsSync(source)) return source;
      throw e;
    }
  };
  return require(path.join(root, 'src', 'cli', 'main.ts'));
}

const cli = fs.existsSync(built) ? require(built) : fromSource();
cli.run();

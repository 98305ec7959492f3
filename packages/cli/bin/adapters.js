#!/usr/bin/env node
// The `adapters` command. Runs the compiled CLI (dist/) when the package is built; in a fresh clone
// without a build it compiles the TypeScript sources on the fly with ts-node (transpile-only), and maps
// `@adapters/*` packages that are not built to their src/index.ts so plugins load from source too.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'dist', 'cli', 'main.js');

function fromSource() {
  let tsNode;
  try {
    tsNode = require('ts-node');
  } catch {
    process.stderr.write("adapters: error: the CLI is not built and ts-node is not installed; run 'npm install' then 'npm run build' in the repository\n");
    process.exit(1);
  }
  tsNode.register({
    transpileOnly: true,
    project: path.join(root, 'tsconfig.json'),
    // Sources of several workspace packages are compiled together; this keeps TypeScript from objecting.
    compilerOptions: { rootDir: path.parse(root).root, sourceMap: true },
  });
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
